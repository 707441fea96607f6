"""Webhooks to a real receiver on loopback: signed per Standard Webhooks, retried with the
same id, in order per meter, never inside the work that caused them (contract section 11.2)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from demo.partner import WebhookReceiver
from insights.models import Insight
from partners.events import events_record
from partners.models import WebhookEvent, WebhookEventStatus
from partners.services import webhook_secret_generate
from partners.webhooks import webhooks_deliver
from tests.budgets.conftest import make_budget, move_where_the_last_hours_are_this_month
from tests.conftest import client_for
from tests.partners.conftest import CONSENT_URL, PartnerApp, authorize, register
from tests.tcp_proxy import free_port

HEADER = "meterNumber,start,quantity,quality,cost\n"
#: The receiver listens on a loopback port the OS picked free (concurrent runs never collide).
RECEIVER_PORT = free_port()
RECEIVER_URL = f"http://127.0.0.1:{RECEIVER_PORT}/hooks"


@pytest.fixture
def solar_hooks(acme) -> PartnerApp:
    """SolarCo with its webhook on the loopback receiver."""
    return register("acme", "SolarCo", webhook_url=RECEIVER_URL)


@pytest.fixture
def grant(alice, solar_hooks):
    return authorize(client_for(alice), solar_hooks, scope="usage:read insights:read budgets:read")


@pytest.fixture
def receiver(solar_hooks) -> WebhookReceiver:
    return WebhookReceiver(secret=solar_hooks.credentials.webhook_secret)


def import_day(tmp_path, django_capture_on_commit_callbacks, day: int = 7) -> None:
    """One hour of Alice's readings, imported as ops would (rollups catch up on commit)."""
    first = datetime(2026, 3, day, 5, tzinfo=UTC)
    rows = "".join(
        f"E-ALICE-1,{(first + i * timedelta(minutes=15)).isoformat()},0.5,,\n" for i in range(4)
    )
    path = tmp_path / f"readings-{day}.csv"
    path.write_text(HEADER + rows)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_readings", str(path), verbosity=0)


def test_a_catch_up_sends_usage_available_signed_per_standard_webhooks(
    alice, grant, receiver, tmp_path, django_capture_on_commit_callbacks
):
    import_day(tmp_path, django_capture_on_commit_callbacks)
    event = WebhookEvent.objects.get()
    assert (event.type, event.status, event.attempts) == ("usage.available", "PENDING", 0)

    with receiver.running(RECEIVER_PORT):
        assert webhooks_deliver(partner_id=event.partner_id, ordering_key=event.ordering_key) == 1

    [request] = receiver.received
    assert request["verified"]  # by the standardwebhooks library, with the whsec_ secret
    meter = alice.accounts.get().meters.get()
    assert request["payload"]["type"] == "usage.available"
    assert request["payload"]["data"] == {
        "meterId": str(meter.pk),
        "start": "2026-03-07T00:00:00-05:00",
        "end": "2026-03-07T01:00:00-05:00",
    }
    assert request["headers"]["webhook-id"] == f"evt_{event.webhook_id.hex}"
    assert request["headers"]["webhook-signature"].startswith("v1,")
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.DELIVERED
    assert [a.status_code for a in event.attempts_log.all()] == [200]


def test_a_wrong_secret_does_not_verify(
    grant, solar_hooks, tmp_path, django_capture_on_commit_callbacks
):
    """The receiver's check is real: another secret refuses the same delivery."""
    receiver = WebhookReceiver(secret=webhook_secret_generate())
    import_day(tmp_path, django_capture_on_commit_callbacks)
    event = WebhookEvent.objects.get()

    with receiver.running(RECEIVER_PORT):
        webhooks_deliver(partner_id=event.partner_id, ordering_key=event.ordering_key)

    assert [r["verified"] for r in receiver.received] == [False]


def test_500_twice_then_200_is_three_attempts_of_one_id_and_the_event_once(
    grant, receiver, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_DELAYS = [1, 1, 1]
    receiver.answers = [500, 500, 200]
    import_day(tmp_path, django_capture_on_commit_callbacks)
    event = WebhookEvent.objects.get()
    start = timezone.now()

    with receiver.running(RECEIVER_PORT):
        for seconds in (0, 1, 2):
            webhooks_deliver(
                partner_id=event.partner_id,
                ordering_key=event.ordering_key,
                now=start + timedelta(seconds=seconds),
            )

    assert len(receiver.received) == 3
    assert {r["headers"]["webhook-id"] for r in receiver.received} == {event.header_id}
    assert all(r["verified"] for r in receiver.received)
    assert list(receiver.processed) == [event.header_id]
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.DELIVERED
    assert [a.status_code for a in event.attempts_log.all()] == [500, 500, 200]


def test_a_failed_attempt_waits_its_backoff(
    grant, receiver, tmp_path, django_capture_on_commit_callbacks
):
    receiver.answers = [503]
    import_day(tmp_path, django_capture_on_commit_callbacks)
    event = WebhookEvent.objects.get()
    now = timezone.now()

    with receiver.running(RECEIVER_PORT):
        webhooks_deliver(partner_id=event.partner_id, ordering_key=event.ordering_key, now=now)
        again = webhooks_deliver(
            partner_id=event.partner_id, ordering_key=event.ordering_key, now=now
        )

    event.refresh_from_db()
    assert again == 0
    assert len(receiver.received) == 1
    assert event.next_attempt_at == now + timedelta(seconds=5)
    assert event.attempts_log.get().error == "HTTP 503"


def test_retries_span_more_than_a_day_then_give_up(settings):
    delays = settings.WEBHOOK_RETRY_DELAYS

    assert sum(delays) >= 24 * 3600
    assert delays == sorted(delays)


def test_events_of_one_meter_are_delivered_in_order(
    grant, receiver, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_DELAYS = [1]
    receiver.answers = [500]
    import_day(tmp_path, django_capture_on_commit_callbacks, day=7)
    import_day(tmp_path, django_capture_on_commit_callbacks, day=8)
    first, second = WebhookEvent.objects.order_by("id")
    now = timezone.now()

    with receiver.running(RECEIVER_PORT):
        webhooks_deliver(partner_id=first.partner_id, ordering_key=first.ordering_key, now=now)
        second.refresh_from_db()
        assert second.attempts == 0  # held back behind the failing first
        webhooks_deliver(
            partner_id=first.partner_id,
            ordering_key=first.ordering_key,
            now=now + timedelta(seconds=1),
        )

    ids = [r["headers"]["webhook-id"] for r in receiver.received]
    assert ids == [first.header_id, first.header_id, second.header_id]
    assert [r["payload"]["data"]["start"][:10] for r in receiver.received] == [
        "2026-03-07",
        "2026-03-07",
        "2026-03-08",
    ]


def test_a_receiver_that_hangs_does_not_slow_an_import(
    grant, receiver, settings, tmp_path, django_capture_on_commit_callbacks
):
    """The import (and its rollups) only write the event; a worker bears the receiver's wait."""
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    receiver.hang = threading.Event()

    with receiver.running(RECEIVER_PORT):
        import_day(tmp_path, django_capture_on_commit_callbacks)
        event = WebhookEvent.objects.get()
        assert event.attempts == 0 and not receiver.received
        webhooks_deliver(partner_id=event.partner_id, ordering_key=event.ordering_key)

    event.refresh_from_db()
    assert event.status == WebhookEventStatus.PENDING
    assert event.attempts_log.get().error == "no answer within the timeout"


def test_a_receiver_that_is_down_is_retried_later(
    grant, tmp_path, django_capture_on_commit_callbacks
):
    import_day(tmp_path, django_capture_on_commit_callbacks)  # no receiver listening
    event = WebhookEvent.objects.get()

    webhooks_deliver(partner_id=event.partner_id, ordering_key=event.ordering_key)

    event.refresh_from_db()
    assert event.status == WebhookEventStatus.PENDING
    assert event.attempts_log.get().error.startswith("could not connect")


def test_events_of_a_revoked_grant_stop(
    alice, grant, receiver, tmp_path, django_capture_on_commit_callbacks
):
    import_day(tmp_path, django_capture_on_commit_callbacks, day=7)
    pending = WebhookEvent.objects.get()
    assert client_for(alice).delete(f"{CONSENT_URL}/{grant['grant_id']}").status_code == 204

    import_day(tmp_path, django_capture_on_commit_callbacks, day=8)
    with receiver.running(RECEIVER_PORT):
        webhooks_deliver(partner_id=pending.partner_id, ordering_key=pending.ordering_key)

    assert receiver.received == []
    assert list(WebhookEvent.objects.values_list("status", flat=True)) == ["CANCELLED"]


def test_events_go_only_to_grants_covering_the_scope_and_account(alice, solar_hooks, acme):
    meter = alice.accounts.get().meters.get()
    authorize(client_for(alice), solar_hooks, scope="insights:read")

    recorded = events_record(
        customer_id=alice.pk,
        account_id=meter.account_id,
        type="usage.available",
        scope="usage:read",
        ordering_key=f"meter:{meter.pk}",
        data={},
    )

    assert recorded == []


def test_new_insights_and_budget_alerts_are_events_once(
    alice, grant, tmp_path, django_capture_on_commit_callbacks
):
    """Readings land -> rollups catch up -> the budget check raises BUDGET_ALERT insights:
    each new insight is an insight.created event and a budget.alert, once, however often the
    same data is imported."""
    meter = alice.accounts.get().meters.get()
    now = timezone.now()
    move_where_the_last_hours_are_this_month(alice, meter, now)
    budget = make_budget(alice, limit="1.00", alert_thresholds=[50, 100])
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    path = tmp_path / "today.csv"
    path.write_text(
        "meterNumber,start,quantity\n"
        + "".join(
            f"{meter.meter_number},{(first + i * timedelta(minutes=15)).isoformat()},2.0\n"
            for i in range(4)
        )
    )

    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("import_readings", str(path), verbosity=0)

    alerts = {i.data["threshold"]: i for i in Insight.objects.filter(type="BUDGET_ALERT")}
    assert sorted(alerts) == [50, 100]
    budget_events = WebhookEvent.objects.filter(type="budget.alert").order_by("id")
    assert [e.data for e in budget_events] == [
        {"budgetId": str(budget.pk), "insightId": str(alerts[t].pk), "threshold": t}
        for t in (50, 100)
    ]
    created = WebhookEvent.objects.filter(type="insight.created")
    insight_ids = [e.data["insightId"] for e in created]
    assert sorted(insight_ids) == sorted(str(i.pk) for i in Insight.objects.all())
    assert {e.data["type"] for e in created} >= {"BUDGET_ALERT"}
    # The second import changed no reading: nothing new became available.
    assert WebhookEvent.objects.filter(type="usage.available").count() == 1
