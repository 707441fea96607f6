"""Reads for insights: the customer's own insights, and the cohort figures peer comparison
needs (numbers only: no other customer's identity ever leaves the query)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet, Sum
from rest_framework.exceptions import NotFound

from customers.models import Account, Customer, Meter
from customers.selectors import account_scope
from insights.analytics.bill import COMPLETE_COVERAGE
from insights.analytics.peers import floor_area_band
from insights.models import Insight
from metadata.catalog import Granularity
from usage.calendar import local_date_start, zone
from usage.models import NET_QUANTITY, Rollup


def insight_list(
    *,
    customer: Customer,
    types: list[str] | None = None,
    account_id: str | None = None,
    meter_id: str | None = None,
    status: str | None = None,
) -> QuerySet[Insight]:
    """The customer's insights, filtered; ordering is the paginator's."""
    queryset = Insight.objects.filter(account_scope(customer), customer=customer).select_related(
        "meter", "customer"
    )
    if types:
        queryset = queryset.filter(type__in=types)
    if account_id is not None:
        queryset = queryset.filter(account_id=account_id)
    if meter_id is not None:
        queryset = queryset.filter(meter_id=meter_id)
    if status is not None:
        queryset = queryset.filter(status=status)
    return queryset


def insight_get(*, customer: Customer, insight_id: str, for_update: bool = False) -> Insight:
    """The customer's insight, or 404 whether it is unknown, malformed or someone else's."""
    queryset = Insight.objects.filter(account_scope(customer), customer=customer).select_related(
        "meter", "customer"
    )
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        return queryset.get(pk=insight_id)
    except (Insight.DoesNotExist, ValidationError, ValueError):  # unknown, or not a UUID
        raise NotFound("No such insight.") from None


def _month_rollups(first: date, tz_name: str) -> QuerySet[Rollup]:
    """MONTH rollups of the local month starting ``first``, in any timezone: month buckets are
    weeks apart, so a window of two days either side of our local start finds exactly them."""
    start = local_date_start(zone(tz_name), first)
    return Rollup.objects.filter(
        granularity=Granularity.MONTH.name,
        start__gte=start - timedelta(days=2),
        start__lt=start + timedelta(days=2),
    )


def _full_month_equivalent(quantity, present, expected) -> float | None:
    """Usage scaled to the whole month, or None when too little of it was read."""
    coverage = float(present) / float(expected) if expected else 0.0
    return float(quantity) / coverage if coverage >= COMPLETE_COVERAGE else None


def peer_month_quantities(
    *, customer: Customer, account: Account, meter: Meter, first: date
) -> tuple[float, np.ndarray] | None:
    """This home's net usage in the local month starting ``first`` and that of every similar home of
    other customers (same utility, service, unit, home type, floor-area band and weather
    region), each summed over the home's meters and scaled to a fully read month. None when
    this home's month is not (nearly) fully read."""
    premise = account.premise
    totals = (
        _month_rollups(first, meter.timezone)
        .filter(
            meter__utility_id=meter.utility_id,
            meter__service_type=meter.service_type,
            meter__unit_of_measure=meter.unit_of_measure,
        )
        .values("meter__account_id")
        .annotate(
            quantity=Sum(NET_QUANTITY),
            present=Sum(F("actual_count") + F("estimated_count")),
            expected=Sum("expected_count"),
        )
    )
    own = next(iter(totals.filter(meter__account_id=account.pk)), None)
    yours = (
        None
        if own is None
        else _full_month_equivalent(own["quantity"], own["present"], own["expected"])
    )
    if yours is None:
        return None
    lower, upper = floor_area_band(premise.floor_area_sqm)
    band = Q(meter__account__premise__floor_area_sqm__gte=lower)
    if upper is not None:
        band &= Q(meter__account__premise__floor_area_sqm__lt=upper)
    cohort = totals.filter(
        band,
        meter__account__premise__home_type=premise.home_type,
        meter__account__premise__weather_region=premise.weather_region,
    ).exclude(meter__account__customer=customer)
    others = [
        _full_month_equivalent(row["quantity"], row["present"], row["expected"]) for row in cohort
    ]
    return yours, np.array([value for value in others if value is not None], dtype=float)
