"""Admin actions queue work for workers (run eagerly here), say so and land in the admin log."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from customers.models import Meter
from tests.conftest import staff_client
from tests.support.test_customer_overview import alice_day  # noqa: F401 - fixture
from usage.models import Rollup

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(acme) -> Client:
    """Customer service at Acme: may look at customers and meters, nothing more."""
    return staff_client(acme, codename__in=["view_customer", "view_meter"])


@pytest.fixture
def act(desk, django_capture_on_commit_callbacks):
    """Runs an admin action on the changelist; the tasks it queued after commit run here."""

    def run(model: str, action: str, *objects) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = desk.post(
                reverse(f"admin:customers_{model}_changelist"),
                {"action": action, "_selected_action": [str(obj.pk) for obj in objects]},
                follow=True,
            )
        assert response.status_code == 200
        return response.content.decode()

    return run


def test_rebuild_rollups_of_a_meter_recomputes_them_and_is_logged(act, alice, alice_day):  # noqa: F811
    meter = Meter.objects.get(meter_number="E-ALICE-1")
    expected = sorted(
        Rollup.objects.filter(meter=meter).values_list("granularity", "start", "quantity")
    )
    Rollup.objects.filter(meter=meter).delete()

    page = act("meter", "rebuild_rollups", meter)

    assert "Queued rollup rebuilds for 1 meter(s)." in page
    assert (
        sorted(Rollup.objects.filter(meter=meter).values_list("granularity", "start", "quantity"))
        == expected
    )
    entry = LogEntry.objects.get(object_id=str(meter.pk))
    assert entry.get_change_message() == "Queued a rollup rebuild."
    assert entry.user.username == "acme-staff"


def test_customer_actions_queue_for_each_of_their_meters_and_are_logged(act, alice, alice_day):  # noqa: F811
    meter = Meter.objects.get(meter_number="E-ALICE-1")
    Rollup.objects.filter(meter=meter).delete()

    rebuilt = act("customer", "rebuild_rollups", alice)
    regenerated = act("customer", "regenerate_insights", alice)

    assert "Queued rollup rebuilds for 1 customer(s)." in rebuilt
    assert Rollup.objects.filter(meter=meter, granularity="DAY").count() == 1
    assert "Queued insight regeneration for 1 customer(s)." in regenerated
    assert [
        e.get_change_message()
        for e in LogEntry.objects.filter(object_id=str(alice.pk)).order_by("pk")
    ] == [
        "Queued a rollup rebuild of 1 meter(s).",
        "Queued insight regeneration.",
    ]


def test_actions_never_reach_another_utility_s_rows(act, bob):
    meter = Meter.objects.get(meter_number="E-BOB-1")

    act("meter", "rebuild_rollups", meter)
    act("customer", "regenerate_insights", bob)

    assert not LogEntry.objects.exists()
