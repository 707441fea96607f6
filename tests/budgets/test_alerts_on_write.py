"""A budget created or changed when its period's usage is already past a threshold alerts at
once (queued when the write commits), not at the next hourly beat; ``generate_insights`` runs
the BUDGET_ALERT check too (issue 9)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from insights.models import Insight
from tests.budgets.conftest import BUDGETS, load_readings, make_budget
from usage.calendar import local_date_start, zone


def alert_thresholds() -> list[int]:
    return sorted(
        Insight.objects.filter(type="BUDGET_ALERT").values_list("data__threshold", flat=True)
    )


@pytest.fixture
def used(meter):
    """4 kWh (0.60 USD at 0.15) on the first local day of the current month."""
    tz = zone("America/New_York")
    first = timezone.now().astimezone(tz).date().replace(day=1)
    load_readings(meter, local_date_start(tz, first), 4, quantity="1.0")
    return meter


def create(client, account, **fields):
    body = {"name": "Home", "kind": "COST", "period": "MONTHLY", "accountId": str(account.id)}
    return client.post(BUDGETS, {**body, **fields}, format="json")


def test_a_budget_created_past_a_threshold_alerts_when_the_create_commits(
    alice_api, account, used, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = create(alice_api, account, limit="0.75", alertThresholds=[50, 80, 100])
    assert response.status_code == 201, response.content
    assert alert_thresholds() == []  # nothing before the commit

    for callback in queued:
        callback()

    assert alert_thresholds() == [50, 80]  # 0.60 of 0.75 is 80 %
    alert = Insight.objects.get(data__threshold=80)
    assert alert.data["budgetId"] == response.json()["id"]


def test_a_patch_that_puts_a_budget_past_a_threshold_alerts(
    alice, alice_api, used, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        budget = make_budget(alice, limit="10.00", alert_thresholds=[50, 100])
    assert alert_thresholds() == []

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.patch(f"{BUDGETS}/{budget.id}", {"limit": "0.60"}, format="json")

    assert response.status_code == 200, response.content
    assert alert_thresholds() == [50, 100]


def test_an_inactive_budget_never_alerts(
    alice_api, account, used, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = create(alice_api, account, limit="0.10", active=False)

    assert response.status_code == 201, response.content
    assert alert_thresholds() == []


def generate(*args: str) -> str:
    out = StringIO()
    call_command("generate_insights", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_generate_insights_runs_budget_alerts(alice, used):
    make_budget(alice, limit="1.00", alert_thresholds=[50, 100])  # 60 %

    assert "1 insight(s) written for 1 customer(s)" in generate("--type", "BUDGET_ALERT")
    assert alert_thresholds() == [50]
    assert list(Insight.objects.values_list("type", flat=True)) == ["BUDGET_ALERT"]


def test_generate_insights_with_no_type_includes_budget_alerts(alice, used):
    make_budget(alice, limit="1.00", alert_thresholds=[50])

    generate("--customer", "alice")

    assert alert_thresholds() == [50]
