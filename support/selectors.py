"""Everything the customer page shows, read in a fixed number of queries per meter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min

from budgets.models import Budget
from budgets.selectors import BudgetStatus, budget_list, budget_statuses
from customers.models import Account, Customer, IssuedRefreshToken, Meter
from insights.models import Insight
from metadata.catalog import Granularity
from usage.calendar import local_date_start, zone
from usage.models import RollupDirtyRange
from usage.selectors import Bucket, SeriesPage, usage_series

#: The usage charts: the last 90 local days by DAY, the last 24 local months by MONTH.
CHART_DAYS = 90
CHART_MONTHS = 24
LATEST_INSIGHTS = 10
RECENT_LOGINS = 10


@dataclass(frozen=True)
class RollupLag:
    """Changed readings whose rollups have not caught up yet (none: rollups are current)."""

    pending_ranges: int
    oldest_change: datetime | None


@dataclass(frozen=True)
class MeterOverview:
    meter: Meter
    rollup_lag: RollupLag
    today: date  # the meter's local date: the charts' last day and month
    daily: list[Bucket]
    monthly: list[Bucket]


@dataclass(frozen=True)
class AccountOverview:
    account: Account
    meters: list[MeterOverview]


@dataclass(frozen=True)
class BudgetOverview:
    budget: Budget
    status: BudgetStatus


@dataclass(frozen=True)
class Login:
    """A refresh token we issued: at login, and again at each refresh (rotation)."""

    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class CustomerOverview:
    customer: Customer
    accounts: list[AccountOverview]
    budgets: list[BudgetOverview]
    insights: list[Insight]
    logins: list[Login]


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def meter_charts(*, meter: Meter, now: datetime) -> tuple[list[Bucket], list[Bucket]]:
    """The meter's DAY buckets of the last :data:`CHART_DAYS` local days and MONTH buckets of
    the last :data:`CHART_MONTHS` local months (this one included), from the rollups, net of
    what it exported; for a billing-read meter no days, and its read periods for the months."""
    tz = zone(meter.timezone)
    today = now.astimezone(tz).date()
    end = local_date_start(tz, today + timedelta(days=1))
    months_start = local_date_start(tz, _months_back(today, CHART_MONTHS - 1))
    if meter.billing_read:
        periods = SeriesPage(
            meter=meter,
            granularity=Granularity.BILLING_PERIOD,
            start=months_start,
            end=end,
            after=None,
            limit=CHART_MONTHS * 2,
        )
        return [], usage_series(periods)
    daily = usage_series(
        SeriesPage(
            meter=meter,
            granularity=Granularity.DAY,
            start=local_date_start(tz, today - timedelta(days=CHART_DAYS - 1)),
            end=end,
            after=None,
            limit=CHART_DAYS,
        )
    )
    monthly = usage_series(
        SeriesPage(
            meter=meter,
            granularity=Granularity.MONTH,
            start=months_start,
            end=end,
            after=None,
            limit=CHART_MONTHS,
        )
    )
    return daily, monthly


def customer_overview(*, customer: Customer, now: datetime) -> CustomerOverview:
    accounts = list(
        customer.accounts.select_related("premise")
        .prefetch_related("meters__tariff__rates")
        .order_by("account_number")
    )
    meter_ids = [meter.pk for account in accounts for meter in account.meters.all()]
    lags = {
        row["meter_id"]: RollupLag(row["ranges"], row["oldest"])
        for row in RollupDirtyRange.objects.filter(meter_id__in=meter_ids)
        .values("meter_id")
        .annotate(ranges=Count("id"), oldest=Min("created_at"))
    }
    account_overviews = []
    for account in accounts:
        meters = []
        for meter in sorted(account.meters.all(), key=lambda m: m.meter_number):
            meter.account = account
            daily, monthly = meter_charts(meter=meter, now=now)
            lag = lags.get(meter.pk, RollupLag(0, None))
            today = now.astimezone(zone(meter.timezone)).date()
            meters.append(MeterOverview(meter, lag, today, daily, monthly))
        account_overviews.append(AccountOverview(account, meters))
    budgets = list(budget_list(customer=customer).order_by("name"))
    statuses = budget_statuses(budgets=budgets, now=now)
    lifetime = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    tokens = IssuedRefreshToken.objects.filter(customer=customer).order_by("-expires_at", "-id")
    return CustomerOverview(
        customer=customer,
        accounts=account_overviews,
        budgets=[BudgetOverview(budget, statuses[budget.pk]) for budget in budgets],
        insights=list(
            Insight.objects.filter(customer=customer)
            .select_related("meter")
            .order_by("-period_end", "-id")[:LATEST_INSIGHTS]
        ),
        logins=[
            Login(token.expires_at - lifetime, token.expires_at, token.revoked_at)
            for token in tokens[:RECENT_LOGINS]
        ],
    )
