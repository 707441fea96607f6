"""Reads for budgets: the customer's budgets, and where each stands in its current period.

A budget's status is computed at read time from precomputed data only (DAY rollups, the read
periods of billing-read meters, and bill forecast insights), for a whole page of budgets in two
queries, whatever the page size. Usage counts net (delivered - received, contract 10.1).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.db.models import Q, QuerySet
from rest_framework.generics import get_object_or_404

from budgets.amounts import amount_quantize
from budgets.models import Budget, BudgetKind, BudgetState
from customers.models import Customer, Meter, ReadResolution
from customers.selectors import account_scope
from insights.models import Insight
from metadata.catalog import BudgetPeriod, Granularity, InsightType
from usage.calendar import bucket_bounds, local_date_start, zone
from usage.models import NET_COST, NET_QUANTITY, Rollup

_MICROSECOND = timedelta(microseconds=1)
_PERCENT_QUANTUM = Decimal("0.1")
_PERIOD_GRANULARITY = {
    BudgetPeriod.MONTHLY.name: Granularity.MONTH,
    BudgetPeriod.BILLING_PERIOD.name: Granularity.BILLING_PERIOD,
}


def budget_list(*, customer: Customer) -> QuerySet[Budget]:
    """The customer's budgets with what their status and representation need, in one query."""
    return Budget.objects.filter(account_scope(customer), customer=customer).select_related(
        "customer", "account", "meter"
    )


def budget_get(*, customer: Customer, budget_id: str, for_update: bool = False) -> Budget:
    """One of the customer's budgets; 404 whether it is unknown, malformed or someone else's.

    ``for_update`` locks the budget's row until the transaction ends, so a conditional write
    (``If-Match``) compares and writes with no other writer in between.
    """
    budgets = budget_list(customer=customer)
    if for_update:
        budgets = budgets.select_for_update(of=("self",))
    return get_object_or_404(budgets, pk=budget_id)


def budgets_to_check(
    *,
    meter_id: uuid.UUID | str | None = None,
    customer_id: uuid.UUID | str | None = None,
    budget_id: uuid.UUID | str | None = None,
) -> QuerySet[Budget]:
    """Active budgets, optionally only those a meter's usage counts towards (its ENERGY
    budgets and its account's COST budgets) and/or one customer's, or one budget, in id order."""
    budgets = Budget.objects.filter(active=True)
    if budget_id is not None:
        budgets = budgets.filter(pk=budget_id)
    if customer_id is not None:
        budgets = budgets.filter(customer_id=customer_id)
    if meter_id is not None:
        accounts = Meter.objects.filter(pk=meter_id).values("account_id")
        budgets = budgets.filter(
            Q(meter_id=meter_id) | Q(kind=BudgetKind.COST, account_id__in=accounts)
        )
    return budgets.select_related("customer", "account", "meter").order_by("id")


@dataclass(frozen=True)
class BudgetPeriodBounds:
    """A budget's current period in the customer's local calendar, as UTC instants."""

    start: datetime
    end: datetime
    #: End of the local day holding "now": usage counts up to here (whole DAY rollups).
    days_end: datetime
    #: Local calendar days in the period (a DST day counts as one).
    days: int


def budget_period(*, budget: Budget, now: datetime) -> BudgetPeriodBounds:
    """The period holding ``now``: the calendar month (MONTHLY) or the account's billing cycle
    (BILLING_PERIOD), in the customer's time zone, by ``usage.calendar``'s rules."""
    timezone = budget.customer.timezone
    start, end = bucket_bounds(
        timezone=timezone,
        granularity=_PERIOD_GRANULARITY[budget.period],
        billing_cycle_day=budget.account.billing_cycle_day,
        start=now,
        end=now + _MICROSECOND,
    )
    tz = zone(timezone)
    today = now.astimezone(tz).date()
    return BudgetPeriodBounds(
        start=start,
        end=end,
        days_end=local_date_start(tz, today + timedelta(days=1)),
        days=(end.astimezone(tz).date() - start.astimezone(tz).date()).days,
    )


@dataclass(frozen=True)
class BudgetStatus:
    """A budget's status; amounts are rounded as the API shows them."""

    period: BudgetPeriodBounds
    used: Decimal
    projected: Decimal
    percent_used: Decimal
    state: str
    as_of: datetime


class _Day(NamedTuple):
    """A DAY rollup, or a billing-read meter's read period, with its net figures."""

    account_id: uuid.UUID
    meter_id: uuid.UUID
    start: datetime
    end: datetime
    quantity: Decimal
    cost: Decimal | None


def budget_statuses(*, budgets: Sequence[Budget], now: datetime) -> dict[uuid.UUID, BudgetStatus]:
    """Each budget's status at ``now``, by budget id.

    Two queries for the lot: the DAY rollups of the budgets' accounts (and the read periods,
    BILLING_PERIOD rollups, of their billing-read meters) starting in the union of their
    periods, and the bill forecasts for those periods. ``budgets`` come with their customer,
    account and meter (``budget_list`` / ``budgets_to_check``).
    """
    if not budgets:
        return {}
    periods = {budget.pk: budget_period(budget=budget, now=now) for budget in budgets}
    account_ids = {budget.account_id for budget in budgets}
    days_by_account: dict[uuid.UUID, list[_Day]] = defaultdict(list)
    rows = (
        Rollup.objects.filter(
            Q(granularity=Granularity.DAY.name, meter__read_resolution=ReadResolution.INTERVAL)
            | Q(
                granularity=Granularity.BILLING_PERIOD.name,
                meter__read_resolution=ReadResolution.BILLING,
            ),
            meter__account_id__in=account_ids,
            start__gte=min(period.start for period in periods.values()),
            start__lt=max(period.days_end for period in periods.values()),
        )
        .annotate(net_quantity=NET_QUANTITY, net_cost=NET_COST)
        .values_list("meter__account_id", "meter_id", "start", "end", "net_quantity", "net_cost")
    )
    for row in rows:
        day = _Day(*row)
        days_by_account[day.account_id].append(day)
    forecasts = _bill_forecasts(budgets, periods)
    return {
        budget.pk: _status(
            budget, periods[budget.pk], days_by_account[budget.account_id], forecasts, now
        )
        for budget in budgets
    }


_ForecastKey = tuple[uuid.UUID, uuid.UUID | None, datetime, datetime]


def _bill_forecasts(
    budgets: Sequence[Budget], periods: dict[uuid.UUID, BudgetPeriodBounds]
) -> dict[_ForecastKey, dict[str, Any]]:
    """BILL_FORECAST data by (account, meter or None, period start, period end)."""
    rows = Insight.objects.filter(
        customer_id__in={budget.customer_id for budget in budgets},
        type=InsightType.BILL_FORECAST.name,
        account_id__in={budget.account_id for budget in budgets},
        period_start__in={period.start for period in periods.values()},
    ).values_list("account_id", "meter_id", "period_start", "period_end", "data")
    return {(account, meter, start, end): data for account, meter, start, end, data in rows}


def _status(
    budget: Budget,
    period: BudgetPeriodBounds,
    account_days: list[_Day],
    forecasts: dict[_ForecastKey, dict[str, Any]],
    now: datetime,
) -> BudgetStatus:
    is_cost = budget.kind == BudgetKind.COST
    included = [
        day
        for day in account_days
        if period.start <= day.start < period.days_end
        and (is_cost or day.meter_id == budget.meter_id)
    ]
    if is_cost:
        # A day the tariff cannot price (no rate, no billed cost) adds nothing.
        exact = sum((day.cost for day in included if day.cost is not None), Decimal(0))
    else:
        exact = sum((day.quantity for day in included), Decimal(0))
    as_of = min(max(day.end for day in included), now) if included else now
    forecast = _forecast(budget, period, forecasts, {day.meter_id for day in included})
    if forecast is None:
        forecast = _run_rate(exact, period, as_of, budget.customer.timezone)
    used = amount_quantize(budget, exact)
    # What is used already is a floor for the period's total, whatever a forecast said.
    projected = amount_quantize(budget, max(forecast, exact))
    limit = budget.limit
    if used < 0:
        # Net export so far (credits above charges): on track, whatever is projected.
        state = BudgetState.ON_TRACK
    elif used >= limit:
        state = BudgetState.OVER
    elif projected >= limit:
        state = BudgetState.AT_RISK
    else:
        state = BudgetState.ON_TRACK
    return BudgetStatus(
        period=period,
        used=used,
        projected=projected,
        percent_used=(used * 100 / limit).quantize(_PERCENT_QUANTUM, rounding=ROUND_HALF_UP),
        state=state,
        as_of=as_of,
    )


def _run_rate(used: Decimal, period: BudgetPeriodBounds, as_of: datetime, timezone: str) -> Decimal:
    """``used / elapsed local days x period's local days``.

    Elapsed days run from the period start to ``as_of`` (the end of the data), counting whole
    local days plus the elapsed share of ``as_of``'s day by its real length, so a 23- or 25-hour
    day is one day, as in the period's day count.
    """
    tz = zone(timezone)
    day = as_of.astimezone(tz).date()
    day_start = local_date_start(tz, day)
    day_length = local_date_start(tz, day + timedelta(days=1)) - day_start
    elapsed = (day - period.start.astimezone(tz).date()).days + Decimal(
        (as_of - day_start) // _MICROSECOND
    ) / Decimal(day_length // _MICROSECOND)
    if elapsed <= 0:
        return used
    return used * period.days / elapsed


def _forecast(
    budget: Budget,
    period: BudgetPeriodBounds,
    forecasts: dict[_ForecastKey, dict[str, Any]],
    metered: set[uuid.UUID],
) -> Decimal | None:
    """The bill forecast's figure for exactly this budget's period, when there is one.

    ENERGY: the meter's ``forecastQuantity``. COST: the account's ``forecastCost``, else the sum
    of the per-meter ones when every meter with usage this period has one. A forecast for
    another window (a billing period, for a MONTHLY budget whose month differs) is not used.
    """

    def figure(meter_id: uuid.UUID | None, name: str) -> Decimal | None:
        data = forecasts.get((budget.account_id, meter_id, period.start, period.end))
        return _decimal(data.get(name)) if isinstance(data, dict) else None

    if budget.kind == BudgetKind.ENERGY:
        return figure(budget.meter_id, "forecastQuantity")
    account_forecast = figure(None, "forecastCost")
    if account_forecast is not None or not metered:
        return account_forecast
    per_meter = [figure(meter_id, "forecastCost") for meter_id in metered]
    return None if None in per_meter else sum(per_meter, Decimal(0))


def _decimal(value: Any) -> Decimal | None:
    """A forecast figure (decimal string or JSON number) as a Decimal; None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
