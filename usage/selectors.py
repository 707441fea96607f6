"""Reads of usage: series, summaries and exports, always for a meter the caller owns.

HOUR and coarser come from rollups precomputed by workers; FIFTEEN_MINUTE is the one
granularity served from readings (priced with the tariff when a reading has no cost of its own).
"""

from __future__ import annotations

import bisect
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import islice

from django.db.models import Count, Q, Sum
from rest_framework.exceptions import NotFound

from customers.models import Customer, Meter
from metadata.catalog import Granularity
from usage.calendar import local_date_start, meter_bucket_bounds, zone
from usage.models import ROLLUP_FIGURES, Quality, Reading, Rollup
from usage.pricing import PricedReading, priced_readings


def meter_get(*, customer: Customer, meter_id: str) -> Meter:
    """The customer's meter, or 404 whether it is unknown, malformed or someone else's."""
    meter = (
        Meter.objects.select_related("account", "tariff")
        .filter(account__customer=customer, pk=meter_id)
        .first()
        if _is_uuid(meter_id)
        else None
    )
    if meter is None:
        raise NotFound("No such meter.")
    return meter


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Bucket:
    """One bucket of a usage series; figures are exact, rounding happens when rendered."""

    start: datetime
    end: datetime
    quantity: Decimal
    cost: Decimal | None
    actual_count: int
    estimated_count: int
    expected_count: Decimal
    peak_quantity: Decimal

    @property
    def quality(self) -> str:
        if self.estimated_count == 0:
            return Quality.ACTUAL
        if self.actual_count == 0:
            return Quality.ESTIMATED
        return "MIXED"

    @property
    def coverage(self) -> float:
        present = self.actual_count + self.estimated_count
        return min(1.0, float(present / self.expected_count)) if self.expected_count else 0.0


def usage_series(
    *,
    meter: Meter,
    granularity: Granularity,
    start: datetime,
    end: datetime,
    after: datetime | None,
    limit: int,
) -> list[Bucket]:
    """Up to ``limit`` non-empty buckets of ``[start, end)`` (bucket boundaries) starting after
    the bucket that starts at ``after`` (a page token's position)."""
    if granularity is Granularity.FIFTEEN_MINUTE:
        return _buckets_from_readings(meter, start, end, after, limit)
    rows = Rollup.objects.filter(
        meter=meter, granularity=granularity.name, start__gte=start, start__lt=end
    )
    if after is not None:
        rows = rows.filter(start__gt=after)
    return [
        Bucket(*row) for row in rows.order_by("start").values_list("start", *ROLLUP_FIGURES)[:limit]
    ]


def _buckets_from_readings(
    meter: Meter, start: datetime, end: datetime, after: datetime | None, limit: int
) -> list[Bucket]:
    """Quarter-hour buckets straight from readings (one reading each on a 15-minute meter)."""
    bounds = meter_bucket_bounds(meter, Granularity.FIFTEEN_MINUTE, start, end)
    # ``after`` is a bucket start from our signed page token, so a later boundary exists.
    low = start if after is None else bounds[bisect.bisect_right(bounds, after)]
    per_bucket = max(1, Granularity.FIFTEEN_MINUTE.value.nominal_seconds // meter.interval_seconds)
    cap = (limit + 1) * per_bucket
    readings = list(islice(priced_readings(meter=meter, lo=low, hi=bounds[-1]), cap))
    interval = timedelta(seconds=meter.interval_seconds)
    groups: dict[int, list[PricedReading]] = {}
    for reading in readings:
        groups.setdefault(bisect.bisect_right(bounds, reading.start) - 1, []).append(reading)
    buckets = [
        _bucket(bounds[position], bounds[position + 1], members, interval)
        for position, members in groups.items()
    ]
    if len(readings) == cap:
        # The last bucket may continue past what was fetched; it starts the next page.
        buckets.pop()
    return buckets[:limit]


def _bucket(
    start: datetime, end: datetime, members: list[PricedReading], interval: timedelta
) -> Bucket:
    estimated = sum(1 for reading in members if reading.quality == Quality.ESTIMATED)
    costs = [reading.cost for reading in members]
    return Bucket(
        start=start,
        end=end,
        quantity=sum((reading.quantity for reading in members), Decimal(0)),
        cost=None if None in costs else sum(costs, Decimal(0)),
        actual_count=len(members) - estimated,
        estimated_count=estimated,
        expected_count=Decimal((end - start) / interval),
        peak_quantity=max(reading.quantity for reading in members),
    )


@dataclass(frozen=True)
class PeriodTotal:
    start: datetime
    end: datetime
    quantity: Decimal
    cost: Decimal | None


@dataclass(frozen=True)
class Summary:
    current: PeriodTotal
    previous: PeriodTotal | None
    year_ago: PeriodTotal | None
    days: int
    peak_start: datetime | None
    peak_quantity: Decimal | None

    @property
    def change_percent(self) -> Decimal | None:
        if self.previous is None or not self.previous.quantity:
            return None
        change = (self.current.quantity - self.previous.quantity) / self.previous.quantity
        return change * 100

    @property
    def average_daily_quantity(self) -> Decimal:
        return self.current.quantity / self.days


def _year_earlier(day: date) -> date:
    """The same local date a year earlier; 29 February maps to 28 February."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def usage_summary(*, meter: Meter, first_day: date, end_day: date) -> Summary:
    """Totals for local dates ``[first_day, end_day)``, the as-many days before, a year before.

    Three filtered aggregates over DAY rollups in one query, then the peak interval: the DAY
    with the largest peak, and its largest reading.
    """
    tz = zone(meter.timezone)
    days = (end_day - first_day).days
    windows = {
        "current": (first_day, end_day),
        "previous": (first_day - timedelta(days=days), first_day),
        "year_ago": (_year_earlier(first_day), _year_earlier(end_day)),
    }
    instants = {
        name: (local_date_start(tz, low), local_date_start(tz, high))
        for name, (low, high) in windows.items()
    }
    aggregates = {}
    for name, (low, high) in instants.items():
        in_window = Q(start__gte=low, start__lt=high)
        aggregates[f"{name}_quantity"] = Sum("quantity", filter=in_window)
        aggregates[f"{name}_cost"] = Sum("cost", filter=in_window)
        aggregates[f"{name}_days"] = Count("start", filter=in_window)
        aggregates[f"{name}_priced"] = Count("cost", filter=in_window)
    days_rollups = Rollup.objects.filter(meter=meter, granularity=Granularity.DAY.name)
    row = days_rollups.aggregate(**aggregates)

    def total(name: str) -> PeriodTotal | None:
        if not row[f"{name}_days"]:
            return None
        priced = row[f"{name}_priced"] == row[f"{name}_days"]
        low, high = instants[name]
        return PeriodTotal(
            low, high, row[f"{name}_quantity"], row[f"{name}_cost"] if priced else None
        )

    low, high = instants["current"]
    current = total("current") or PeriodTotal(low, high, Decimal(0), Decimal(0))
    peak_start, peak_quantity = _peak_interval(meter, days_rollups, low, high)
    return Summary(
        current=current,
        previous=total("previous"),
        year_ago=total("year_ago"),
        days=days,
        peak_start=peak_start,
        peak_quantity=peak_quantity,
    )


def _peak_interval(meter: Meter, days_rollups, low: datetime, high: datetime):
    peak_day = (
        days_rollups.filter(start__gte=low, start__lt=high)
        .order_by("-peak_quantity", "start")
        .values_list("start", "end")
        .first()
    )
    if peak_day is None:
        return None, None
    reading = (
        Reading.objects.filter(meter=meter, start__gte=peak_day[0], start__lt=peak_day[1])
        .order_by("-quantity", "start")
        .values_list("start", "quantity")
        .first()
    )
    return reading if reading is not None else (None, None)
