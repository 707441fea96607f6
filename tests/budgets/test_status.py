"""A budget's status: the period in the customer's calendar (DST, month ends), ``used`` equal to
the Usage summary of the same range, the projection (bill forecast or run-rate), the state,
and two queries for a whole page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from budgets.selectors import budget_period, budget_statuses
from budgets.serializers import BudgetSerializer
from insights.services import InsightDraft, insights_upsert
from tests.budgets.conftest import BUDGETS, load_readings, make_budget
from tests.conftest import make_account, make_meter
from usage.calendar import zone

NEW_YORK = zone("America/New_York")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def status_at(budget, now: datetime) -> dict[str, Any]:
    """The budget's rendered ``status`` at ``now``."""
    statuses = budget_statuses(budgets=[budget], now=now)
    return BudgetSerializer(budget, context={"statuses": statuses}).data["status"]


def summary(client, meter, start: str, end: str) -> dict[str, Any]:
    response = client.get(f"/usage/v1/Usage/{meter.id}/summary", {"start": start, "end": end})
    assert response.status_code == 200, response.content
    return response.json()["current"]


@pytest.fixture
def march(meter):
    """2026-03-07 .. 03-10 local, all quarters at 0.25 kWh: 03-08 is the 23-hour spring-forward
    day, so 96 + 92 + 96 + 96 readings: 95 kWh, 14.25 USD."""
    load_readings(meter, local(2026, 3, 7).astimezone(UTC), 96 + 92 + 96 + 96)
    return meter


# --- periods in the customer's local calendar -------------------------------------------------


def test_a_month_with_the_23_hour_day(alice, alice_api, march):
    budget = make_budget(alice, kind="ENERGY", meter=march, limit="300")

    status = status_at(budget, local(2026, 3, 20, 12))

    assert status == {
        "periodStart": "2026-03-01T00:00:00-05:00",
        "periodEnd": "2026-04-01T00:00:00-04:00",
        "used": "95.000",
        # Data ends with 03-10: 10 elapsed days of 31 -> 95 / 10 x 31.
        "projected": "294.500",
        "percentUsed": 31.7,
        "state": "ON_TRACK",
        "asOf": "2026-03-11T00:00:00-04:00",
    }
    usage = summary(alice_api, march, "2026-03-01", "2026-03-21")
    assert usage["quantity"] == float(status["used"])


def test_cost_used_equals_the_usage_summary_cost(alice, alice_api, march):
    budget = make_budget(alice, limit="20.00")

    status = status_at(budget, local(2026, 3, 20, 12))

    assert status["used"] == summary(alice_api, march, "2026-03-01", "2026-03-21")["cost"]
    assert status["used"] == "14.25"
    assert status["projected"] == "44.18"  # 14.25 / 10 x 31 = 44.175, half up
    assert status["state"] == "AT_RISK"


def test_a_billing_period_that_starts_on_the_23_hour_day(alice, alice_api, march):
    account = march.account
    account.billing_cycle_day = 8
    account.save()
    budget = make_budget(alice, kind="ENERGY", meter=march, period="BILLING_PERIOD")

    status = status_at(budget, local(2026, 3, 20, 12))

    assert (status["periodStart"], status["periodEnd"]) == (
        "2026-03-08T00:00:00-05:00",
        "2026-04-08T00:00:00-04:00",
    )
    assert status["used"] == "71.000"  # 92 + 96 + 96 quarters
    assert summary(alice_api, march, "2026-03-08", "2026-03-21")["quantity"] == 71.0


def test_a_month_with_the_25_hour_day(alice, meter):
    load_readings(meter, local(2026, 11, 1).astimezone(UTC), 100)  # 2026-11-01 is 25 hours
    budget = make_budget(alice, kind="ENERGY", meter=meter, limit="1000")

    status = status_at(budget, local(2026, 11, 15, 9))

    assert (status["periodStart"], status["periodEnd"]) == (
        "2026-11-01T00:00:00-04:00",
        "2026-12-01T00:00:00-05:00",
    )
    assert status["used"] == "25.000"
    assert status["asOf"] == "2026-11-02T00:00:00-05:00"
    assert status["projected"] == "750.000"  # one whole (25-hour) day of 30


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (local(2026, 2, 15, 12), "2026-01-31T00:00:00-05:00", "2026-02-28T00:00:00-05:00"),
        (local(2026, 2, 27, 23, 59), "2026-01-31T00:00:00-05:00", "2026-02-28T00:00:00-05:00"),
        (local(2026, 2, 28, 0), "2026-02-28T00:00:00-05:00", "2026-03-31T00:00:00-04:00"),
        (local(2026, 3, 30, 12), "2026-02-28T00:00:00-05:00", "2026-03-31T00:00:00-04:00"),
        (local(2028, 2, 29, 12), "2028-02-29T00:00:00-05:00", "2028-03-31T00:00:00-04:00"),
        (local(2026, 4, 30, 8), "2026-04-30T00:00:00-04:00", "2026-05-31T00:00:00-04:00"),
    ],
)
def test_billing_cycle_day_31_clamps_to_short_months(alice, account, now, start, end):
    account.billing_cycle_day = 31
    account.save()
    budget = make_budget(alice, account=account, period="BILLING_PERIOD")

    status = status_at(budget, now)

    assert (status["periodStart"], status["periodEnd"]) == (start, end)


def test_usage_before_a_cycle_day_31_period_is_not_counted(alice, account, meter):
    account.billing_cycle_day = 31
    account.save()
    load_readings(meter, local(2026, 2, 27, 22).astimezone(UTC), 16)  # 02-27 22:00 .. 02-28 02:00
    budget = make_budget(alice, account=account, period="BILLING_PERIOD")

    assert status_at(budget, local(2026, 2, 28, 12))["used"] == "0.30"  # 8 x 0.25 kWh x 0.15
    assert status_at(budget, local(2026, 2, 27, 23, 30))["used"] == "0.30"


@pytest.mark.parametrize(
    ("now", "start"),
    [
        (datetime(2026, 4, 1, 3, 59, 59, 999999, tzinfo=UTC), "2026-03-01T00:00:00-05:00"),
        (datetime(2026, 4, 1, 4, tzinfo=UTC), "2026-04-01T00:00:00-04:00"),
    ],
)
def test_monthly_turns_over_at_local_midnight(alice, now, start):
    assert status_at(make_budget(alice), now)["periodStart"] == start


def test_period_follows_the_customers_time_zone(alice, acme):
    alice.timezone = "Asia/Kolkata"
    alice.save()
    budget = make_budget(alice)

    # 2026-03-31 20:00 UTC is already 1 April in Kolkata (+05:30).
    status = status_at(budget, datetime(2026, 3, 31, 20, tzinfo=UTC))

    assert status["periodStart"] == "2026-04-01T00:00:00+05:30"


# --- used, projected, state --------------------------------------------------------------------


def test_run_rate_counts_the_elapsed_part_of_today(alice, meter):
    load_readings(meter, local(2026, 6, 1).astimezone(UTC), 96 + 48)  # to 06-02 noon
    budget = make_budget(alice, kind="ENERGY", meter=meter, limit="1000")

    status = status_at(budget, local(2026, 6, 2, 12))

    assert status["used"] == "36.000"
    assert status["asOf"] == "2026-06-02T12:00:00-04:00"  # now: today's data is still coming
    assert status["projected"] == "720.000"  # 36 / 1.5 days x 30


def test_no_usage_yet(alice):
    now = local(2026, 6, 2, 12)

    status = status_at(make_budget(alice), now)

    assert status | {"periodStart": None, "periodEnd": None} == {
        "periodStart": None,
        "periodEnd": None,
        "used": "0.00",
        "projected": "0.00",
        "percentUsed": 0.0,
        "state": "ON_TRACK",
        "asOf": "2026-06-02T12:00:00-04:00",
    }


@pytest.mark.parametrize(
    ("limit", "state", "percent"),
    [
        ("94.999", "OVER", 100.0),
        ("95", "OVER", 100.0),
        ("90", "OVER", 105.6),
        ("294.5", "AT_RISK", 32.3),
        ("294.501", "ON_TRACK", 32.3),
    ],
)
def test_state_and_percent(alice, march, limit, state, percent):
    budget = make_budget(alice, kind="ENERGY", meter=march, limit=limit)

    status = status_at(budget, local(2026, 3, 20, 12))

    assert (status["state"], status["percentUsed"]) == (state, percent)


def test_a_cost_budget_counts_every_meter_of_its_account_only(alice, alice_api, account, meter):
    second = make_meter(account, "E-ALICE-2")
    elsewhere = make_meter(make_account(alice, "555000333"), "E-ALICE-3")
    start = local(2026, 6, 1).astimezone(UTC)
    load_readings(meter, start, 8)  # 2 kWh
    load_readings(second, start, 4, "0.5")  # 2 kWh
    load_readings(elsewhere, start, 40)
    budget = make_budget(alice, account=account)

    status = status_at(budget, local(2026, 6, 10))

    costs = [summary(alice_api, m, "2026-06-01", "2026-06-11")["cost"] for m in (meter, second)]
    assert status["used"] == str(sum(Decimal(cost) for cost in costs)) == "0.60"


def forecast(budget, now: datetime, *, meter=None, **data: Any) -> None:
    """A BILL_FORECAST insight for the account's billing period holding ``now``."""
    billing = make_budget(budget.customer, account=budget.account, period="BILLING_PERIOD")
    period = budget_period(budget=billing, now=now)
    billing.delete()
    insights_upsert(
        drafts=[
            InsightDraft(
                customer=budget.customer,
                type="BILL_FORECAST",
                subject_key=f"meter:{meter.id}" if meter else f"account:{budget.account_id}",
                account=budget.account,
                meter=meter,
                period_start=period.start,
                period_end=period.end,
                title="Bill forecast",
                summary="...",
                model_version="test",
                data=data,
            )
        ]
    )


def test_projection_uses_the_bill_forecast_of_the_same_period(alice, march):
    now = local(2026, 3, 20, 12)
    energy = make_budget(alice, kind="ENERGY", meter=march, period="BILLING_PERIOD", limit="350")
    forecast(energy, now, meter=march, forecastQuantity=400.25, forecastCost="60.04")

    status = status_at(energy, now)

    assert status["projected"] == "400.250"
    assert status["state"] == "AT_RISK"
    # A calendar month is not the billing period (cycle day 5): the forecast does not apply.
    monthly = make_budget(alice, kind="ENERGY", meter=march, limit="350")
    assert status_at(monthly, now)["projected"] == "294.500"


def test_cost_projection_uses_the_account_forecast_else_the_meters(alice, march):
    now = local(2026, 3, 20, 12)
    budget = make_budget(alice, period="BILLING_PERIOD", limit="100.00")
    forecast(budget, now, meter=march, forecastCost="60.04")
    assert status_at(budget, now)["projected"] == "60.04"

    forecast(budget, now, forecastCost="150.00")
    assert status_at(budget, now)["projected"] == "150.00"
    assert status_at(budget, now)["state"] == "AT_RISK"


def test_a_forecast_below_what_is_used_projects_what_is_used(alice, march):
    now = local(2026, 3, 20, 12)
    budget = make_budget(alice, period="BILLING_PERIOD")
    forecast(budget, now, forecastCost="1.00")

    assert status_at(budget, now)["projected"] == status_at(budget, now)["used"]


def test_a_malformed_forecast_is_ignored(alice, march):
    now = local(2026, 3, 20, 12)
    budget = make_budget(alice, kind="ENERGY", meter=march, period="BILLING_PERIOD")
    forecast(budget, now, meter=march, forecastQuantity="a lot")

    # Run-rate over the billing period 03-05 .. 04-05 (31 days), data through 03-10 (6 days).
    assert status_at(budget, now)["projected"] == "490.833"  # 95 / 6 x 31


# --- through HTTP -------------------------------------------------------------------------------


def test_status_used_equals_the_usage_summary_now(alice, alice_api, account, meter):
    """The live endpoint, at the real "now": readings at the start of the current period."""
    second = make_meter(account, "E-ALICE-2")
    cost = make_budget(alice, account=account)
    energy = make_budget(alice, kind="ENERGY", meter=meter, limit="500")
    start = budget_period(budget=cost, now=timezone.now()).start
    load_readings(meter, start, 8)
    load_readings(second, start, 6, "0.125")

    items = {item["id"]: item for item in alice_api.get(BUDGETS).json()["items"]}

    status = items[str(energy.id)]["status"]
    first_day = status["periodStart"][:10]
    end_day = (timezone.now().astimezone(NEW_YORK).date() + timedelta(days=1)).isoformat()
    assert summary(alice_api, meter, first_day, end_day)["quantity"] == float(status["used"]) == 2
    costs = [summary(alice_api, m, first_day, end_day)["cost"] for m in (meter, second)]
    assert items[str(cost.id)]["status"]["used"] == str(sum(map(Decimal, costs)))


def test_a_page_of_budgets_costs_three_queries_whatever_its_size(
    alice, alice_api, account, meter, django_assert_num_queries
):
    second = make_account(alice, "555000444", billing_cycle_day=20)
    second_meter = make_meter(second, "E-ALICE-4")
    start = local(2026, 6, 1).astimezone(UTC)
    load_readings(meter, start, 8)
    load_readings(second_meter, start, 8)
    make_budget(alice, account=account)

    def list_budgets(count: int) -> None:
        # 1: the page of budgets (with customer, account, meter); 2: the DAY rollups of their
        # accounts; 3: the bill forecasts for their periods (the token's customer is cached).
        with django_assert_num_queries(3):
            response = alice_api.get(BUDGETS)
        assert len(response.json()["items"]) == count

    list_budgets(1)
    for n in range(19):
        make_budget(
            alice,
            account=second if n % 2 else account,
            kind="ENERGY" if n % 3 else "COST",
            meter=(second_meter if n % 2 else meter) if n % 3 else None,
            period="BILLING_PERIOD" if n % 4 else "MONTHLY",
        )
    list_budgets(20)
