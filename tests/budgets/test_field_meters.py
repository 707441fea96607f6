"""Budgets on the meters of contract section 10: usage counts net, so credits lower a COST
budget, which may go below zero (then ON_TRACK); a billing-read meter counts the read periods
that started in the budget's period."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from budgets.selectors import budgets_to_check
from budgets.services import budget_alerts_check
from insights.models import Insight
from tests.budgets.conftest import (
    BUDGETS,
    QUARTER,
    make_budget,
    move_where_the_last_hours_are_this_month,
)
from tests.budgets.test_status import forecast, local, status_at
from tests.conftest import BILLING_GAS, make_meter
from usage.models import Direction, Reading
from usage.rollups import rollups_rebuild


def test_credits_take_a_cost_budget_below_zero_and_it_is_on_track(alice, alice_api, meter):
    now = timezone.now()
    move_where_the_last_hours_are_this_month(alice, meter, now)
    meter.bidirectional = True
    meter.save()
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    Reading.objects.bulk_create(
        # 1 kWh drawn (0.15 USD at the flat tariff) ...
        [
            Reading(meter=meter, start=first + i * QUARTER, quantity=Decimal("0.25"))
            for i in range(4)
        ]
        # ... and 20 kWh sent back, credited at the same tariff (net metering): 3.00 USD.
        + [
            Reading(
                meter=meter,
                start=first + i * QUARTER,
                quantity=Decimal("2.5"),
                direction=Direction.RECEIVED,
            )
            for i in range(8)
        ]
    )
    rollups_rebuild(meter=meter)
    cost = make_budget(alice, limit="10.00", alert_thresholds=[1, 100])
    energy = make_budget(alice, kind="ENERGY", meter=meter, limit="50")

    statuses = {
        budget.id: alice_api.get(f"{BUDGETS}/{budget.id}").json()["status"]
        for budget in (cost, energy)
    }

    assert statuses[cost.id]["used"] == "-2.85"
    assert statuses[cost.id]["percentUsed"] == -28.5
    assert statuses[cost.id]["state"] == "ON_TRACK"
    assert statuses[energy.id]["used"] == "-19.000"
    assert statuses[energy.id]["percentUsed"] == -38.0
    assert statuses[energy.id]["state"] == "ON_TRACK"
    # Below zero it is on track even when a bill forecast says the period will reach the limit.
    billing = make_budget(alice, period="BILLING_PERIOD", limit="10.00")
    forecast(billing, now, forecastCost="12.00")
    status = alice_api.get(f"{BUDGETS}/{billing.id}").json()["status"]
    assert (status["used"], status["projected"], status["state"]) == ("-2.85", "12.00", "ON_TRACK")
    # A negative share of the limit crosses no threshold.
    budget_alerts_check(budgets=budgets_to_check(customer_id=alice.id), now=now)
    assert not Insight.objects.filter(type="BUDGET_ALERT").exists()


def read_period(meter, start: datetime, end: datetime, quantity: str) -> Reading:
    return Reading(meter=meter, start=start, end=end, quantity=Decimal(quantity))


def test_a_billing_read_meter_counts_the_read_periods_started_in_the_period(alice, account):
    gas = make_meter(
        account,
        "G-ALICE-1",
        **BILLING_GAS,
    )
    Reading.objects.bulk_create(
        [
            # Started in February: not March's, though most of it lies in March.
            read_period(gas, local(2026, 2, 2), local(2026, 3, 3), "70"),
            read_period(gas, local(2026, 3, 3), local(2026, 3, 31), "80"),
        ]
    )
    rollups_rebuild(meter=gas)
    energy = make_budget(alice, kind="ENERGY", meter=gas, limit="100", alert_thresholds=[50, 90])
    cost = make_budget(alice, limit="20.00")
    now = local(2026, 3, 31, 12)

    status = status_at(energy, now)

    assert status["used"] == "80.000"
    assert status["percentUsed"] == 80.0
    assert status["asOf"] == "2026-03-31T00:00:00-04:00"  # the end of the read period
    assert status["projected"] == "82.667"  # 80 over 30 elapsed days of 31
    assert status["state"] == "ON_TRACK"
    # The account's cost: the gas read at the flat 0.15 per unit (the electric meter is unread).
    assert status_at(cost, now)["used"] == "12.00"
    # Alerts still follow: 80 % is past the 50 % threshold only.
    budget_alerts_check(budgets=budgets_to_check(budget_id=energy.id), now=now)
    alert = Insight.objects.get(type="BUDGET_ALERT")
    assert alert.subject_key == f"budget:{energy.id}:50"
    assert alert.data["used"] == 80.0
