"""BUDGET_ALERT insights: exactly one per (budget, threshold, period), however often and however
concurrently the check runs, with a title and summary a customer can act on."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from celery.signals import task_postrun
from django.core.management import call_command
from django.utils import timezone

from budgets import tasks
from budgets.selectors import budget_period, budgets_to_check
from budgets.services import budget_alerts_check
from insights.models import Insight
from tests.budgets.conftest import (
    QUARTER,
    load_readings,
    make_budget,
    move_where_the_last_hours_are_this_month,
    postgresql_only,
)
from tests.conftest import make_account, make_meter
from usage.calendar import zone
from usage.imports import readings_upsert
from usage.tasks import rollups_sweep

NEW_YORK = zone("America/New_York")
MARCH_20 = datetime(2026, 3, 20, 12, tzinfo=NEW_YORK)


def alerts() -> list[Insight]:
    return list(Insight.objects.filter(type="BUDGET_ALERT").order_by("subject_key", "period_start"))


def keys() -> list[str]:
    return [alert.subject_key for alert in alerts()]


def check(now: datetime = MARCH_20, **filters: Any) -> int:
    return budget_alerts_check(budgets=budgets_to_check(**filters), now=now)


@pytest.fixture
def march(meter):
    """95 kWh (14.25 USD at 0.15) between 2026-03-07 and 03-10 local."""
    load_readings(meter, datetime(2026, 3, 7, 5, tzinfo=UTC), 96 + 92 + 96 + 96)
    return meter


def test_running_twice_leaves_one_alert_per_crossed_threshold(alice, march):
    budget = make_budget(alice, limit="16.00", alert_thresholds=[50, 80, 90, 100])  # 89.1 %

    check()
    check()

    assert keys() == [f"budget:{budget.id}:50", f"budget:{budget.id}:80"]
    alert = alerts()[1]
    assert alert.severity == "WARNING"
    assert alert.title == 'Budget "Home": 80% used'
    assert alert.summary == (
        "You have used $14.25 of your monthly budget of $16.00 (89.1%), "
        "crossing your 80% alert threshold."
    )
    assert alert.data == {
        "budgetId": str(budget.id),
        "threshold": 80,
        "used": "14.25",
        "limit": "16.00",
        "kind": "COST",
        "currency": "USD",
        "percentUsed": 89.1,
    }
    period = budget_period(budget=budget, now=MARCH_20)
    assert (alert.period_start, alert.period_end) == (period.start, period.end)
    assert (alert.account_id, alert.meter_id, alert.customer_id) == (
        budget.account_id,
        None,
        alice.id,
    )


def test_reaching_the_limit_is_an_alert_not_a_warning(alice, march):
    make_budget(alice, limit="14.25", alert_thresholds=[100, 150])

    check()

    (alert,) = alerts()
    assert alert.severity == "ALERT"
    assert alert.data["threshold"] == 100
    assert "crossing your 100% alert threshold" in alert.summary


def test_energy_alerts_speak_the_meters_unit(alice, march):
    budget = make_budget(alice, kind="ENERGY", meter=march, limit="100", alert_thresholds=[90])

    check()

    (alert,) = alerts()
    assert alert.summary == (
        "You have used 95 kWh of your monthly budget of 100 kWh (95.0%), "
        "crossing your 90% alert threshold."
    )
    assert alert.data["used"] == 95.0
    assert alert.data["limit"] == 100.0
    assert alert.data["unitOfMeasure"] == "kWh"
    assert alert.meter_id == march.id
    assert alert.subject_key == f"budget:{budget.id}:90"


def test_a_rerun_refreshes_figures_keeps_the_customers_status_and_adds_new_crossings(
    alice, meter, march
):
    budget = make_budget(alice, limit="20.00", alert_thresholds=[50, 80])
    check()
    Insight.objects.update(status="READ", feedback="HELPFUL")

    load_readings(meter, datetime(2026, 3, 12, 4, tzinfo=UTC), 96)  # +3.60 USD: 89.3 %
    check()

    first, second = alerts()
    assert (first.subject_key, first.status, first.feedback) == (
        f"budget:{budget.id}:50",
        "READ",
        "HELPFUL",
    )
    assert first.data["used"] == "17.85"
    assert (second.subject_key, second.status) == (f"budget:{budget.id}:80", "NEW")


def test_each_period_has_its_own_alerts(alice, meter, march):
    make_budget(alice, limit="10.00", alert_thresholds=[100])
    load_readings(meter, datetime(2026, 4, 1, 4, tzinfo=UTC), 96 * 3)  # 10.80 USD in April

    check()
    check(now=datetime(2026, 4, 10, 12, tzinfo=NEW_YORK))

    assert [alert.period_start.astimezone(NEW_YORK).date().isoformat() for alert in alerts()] == [
        "2026-03-01",
        "2026-04-01",
    ]


def test_no_alert_below_every_threshold_nor_for_inactive_budgets(alice, march):
    make_budget(alice, limit="100.00", alert_thresholds=[50])
    make_budget(alice, limit="1.00", alert_thresholds=[50], active=False)

    assert check() == 0
    assert alerts() == []


def test_which_budgets_a_meter_or_customer_checks(alice, bob, account, meter):
    other_meter = make_meter(account, "E-ALICE-2")
    other_account = make_account(alice, "555000666")
    cost = make_budget(alice, account=account)
    energy = make_budget(alice, kind="ENERGY", meter=meter)
    other_energy = make_budget(alice, kind="ENERGY", meter=other_meter)
    elsewhere = make_budget(alice, account=other_account)
    bobs = make_budget(bob)
    make_budget(alice, active=False)

    def ids(**filters: Any) -> set:
        return {budget.id for budget in budgets_to_check(**filters)}

    assert ids(meter_id=meter.id) == {cost.id, energy.id}
    assert ids(customer_id=bob.id) == {bobs.id}
    assert ids() == {cost.id, energy.id, other_energy.id, elsewhere.id, bobs.id}


def test_the_task_takes_ids(alice, meter):
    budget = make_budget(alice, limit="0.10", alert_thresholds=[100])
    load_readings(meter, budget_period(budget=budget, now=timezone.now()).start, 4)  # 0.15 USD

    tasks.budget_alerts_check.delay(meter_id=str(meter.id))
    tasks.budget_alerts_check.delay(customer_id=str(alice.id))

    assert keys() == [f"budget:{budget.id}:100"]


@pytest.mark.worker
@postgresql_only
def test_concurrent_runs_on_a_real_worker_leave_one_alert_per_crossing(
    celery_worker, alice, bob, meter
):
    cost = make_budget(alice, limit="0.50", alert_thresholds=[50, 80, 100, 150])
    energy = make_budget(alice, kind="ENERGY", meter=meter, limit="2", alert_thresholds=[25, 50])
    load_readings(meter, budget_period(budget=cost, now=timezone.now()).start, 16)  # 4 kWh, 0.60
    finished = threading.Semaphore(0)

    def count(sender=None, **_: Any) -> None:
        if sender is not None and sender.name == tasks.budget_alerts_check.name:
            finished.release()

    task_postrun.connect(count, weak=False)
    try:
        runs = [{}, {}, {"meter_id": str(meter.id)}, {"customer_id": str(alice.id)}]
        for kwargs in runs:
            tasks.budget_alerts_check.delay(**kwargs)
        for _ in runs:
            assert finished.acquire(timeout=60), "the worker did not run every check"
    finally:
        task_postrun.disconnect(count)

    assert keys() == sorted(
        [f"budget:{cost.id}:{t}" for t in (50, 80, 100)]
        + [f"budget:{energy.id}:{t}" for t in (25, 50)]
    )


def test_an_import_raises_the_alert_once_its_rollups_catch_up(
    alice, meter, tmp_path, django_capture_on_commit_callbacks
):
    """Readings land -> rollups catch up -> the budget check follows (ROLLUP_FOLLOW_UP_TASKS)."""
    now = timezone.now()
    move_where_the_last_hours_are_this_month(alice, meter, now)
    budget = make_budget(alice, limit="1.00", alert_thresholds=[50, 100])  # 1 USD this month
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    csv_file = tmp_path / "today.csv"
    csv_file.write_text(
        "meterNumber,start,quantity\n"
        + "".join(
            f"{meter.meter_number},{(first + i * timedelta(minutes=15)).isoformat()},2.0\n"
            for i in range(4)
        )
    )

    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_readings", str(csv_file), stdout=StringIO())

    # 8 kWh x 0.15 USD = 1.20 USD: past both thresholds of a 1.00 USD budget.
    assert keys() == [f"budget:{budget.id}:100", f"budget:{budget.id}:50"]


def test_the_rollup_sweep_raises_the_alert_a_lost_catch_up_would_have(
    alice, meter, django_capture_on_commit_callbacks
):
    """The catch-up task is lost (never run): the periodic sweep recomputes the rollups and
    fires the same follow-ups, so the budget alert still comes before the hourly check."""
    budget = make_budget(alice, limit="0.10", alert_thresholds=[100])
    start = budget_period(budget=budget, now=timezone.now()).start
    with django_capture_on_commit_callbacks(execute=False) as lost:
        readings_upsert(
            meter=meter,
            readings=[(start + i * QUARTER, Decimal(1), None, "ACTUAL") for i in range(4)],
        )
    assert len(lost) == 1 and keys() == []

    rollups_sweep.delay()

    assert keys() == [f"budget:{budget.id}:100"]  # 4 kWh x 0.15 USD = 0.60 USD
