"""Reads of usage: series, summaries and exports, always for a meter the caller owns.

HOUR and coarser come from rollups precomputed by workers; FIFTEEN_MINUTE is the one
granularity served from readings (priced with the tariff when a reading has no cost of its own).
"""

from __future__ import annotations

import bisect
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import islice

from django.db import connections, router
from django.db.models import Count, Q, Sum
from rest_framework.exceptions import NotFound

from customers.models import Customer, Meter
from customers.selectors import account_scope
from metadata.catalog import Granularity
from usage.calendar import local_date_start, meter_bucket_bounds, zone
from usage.models import Quality, Reading, Rollup
from usage.pricing import PricedReading, priced_readings
from usage.rendering import SeriesColumns


def meter_get(*, customer: Customer, meter_id: str) -> Meter:
    """The customer's meter, or 404 whether it is unknown, malformed or someone else's."""
    meter = (
        Meter.objects.select_related("account", "tariff")
        .filter(account_scope(customer), account__customer=customer, pk=meter_id)
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


@dataclass(frozen=True)
class SeriesPage:
    """A page of a usage series: up to ``limit`` non-empty buckets of ``[start, end)`` (bucket
    boundaries) starting after the bucket that starts at ``after`` (a page token's position)."""

    meter: Meter
    granularity: Granularity
    start: datetime
    end: datetime
    after: datetime | None
    limit: int


def usage_series(page: SeriesPage) -> list[Bucket]:
    """The buckets of ``page``."""
    if page.granularity is Granularity.FIFTEEN_MINUTE:
        return _buckets_from_readings(page)
    columns = _rollup_columns(page)
    return [
        Bucket(
            start=datetime.fromtimestamp(columns.starts[i], UTC),
            end=datetime.fromtimestamp(columns.ends[i], UTC),
            quantity=Decimal(columns.quantities[i]),
            cost=None if columns.costs[i] is None else Decimal(columns.costs[i]),
            actual_count=columns.actual_counts[i],
            estimated_count=columns.estimated_counts[i],
            expected_count=Decimal(columns.expected_counts[i]),
            peak_quantity=Decimal(columns.peak_quantities[i]),
        )
        for i in range(len(columns))
    ]


def usage_series_columns(page: SeriesPage) -> SeriesColumns:
    """:func:`usage_series` as columns (``usage.rendering``'s input): the API's hot path,
    with no Python object per rollup row."""
    if page.granularity is Granularity.FIFTEEN_MINUTE:
        return _columns(_buckets_from_readings(page))
    return _rollup_columns(page)


#: A timestamp column as UTC epoch seconds, per database vendor.
_EPOCH_SQL = {
    "postgresql": "CAST(EXTRACT(EPOCH FROM {}) AS BIGINT)",
    "sqlite": "CAST(strftime('%%s', {}) AS INTEGER)",
}


def _rollup_columns(page: SeriesPage) -> SeriesColumns:
    """One page of rollups in one query, its timestamps as epoch seconds and its figures as
    text: the database driver then builds no datetime or Decimal per row (profiled: that
    parsing was most of the read's time), and ``usage.rendering`` formats them in bulk."""
    connection = _rollups_connection()
    epoch = _EPOCH_SQL[connection.vendor]
    columns = (
        f"{epoch.format('start')}, {epoch.format(connection.ops.quote_name('end'))}, "
        "CAST(quantity AS TEXT), CAST(cost AS TEXT), actual_count, estimated_count, "
        "CAST(expected_count AS TEXT), CAST(peak_quantity AS TEXT)"
    )
    sql, params = _rollup_page(connection, columns, page)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return SeriesColumns(*(list(column) for column in zip(*rows, strict=True))) if rows else _EMPTY


def rollup_page_version(page: SeriesPage) -> tuple[int, str | None]:
    """What changes whenever a page of :func:`usage_series_columns` (HOUR and coarser) does:
    how many rollups it holds and when the latest of them was computed. A rollup is written
    only with a new ``computed_at``, so an inserted, updated or deleted row changes this."""
    connection = _rollups_connection()
    rows, params = _rollup_page(connection, "computed_at", page)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), CAST(MAX(computed_at) AS TEXT) FROM ({rows}) AS page",  # noqa: S608
            params,
        )
        count, latest = cursor.fetchone()
    return count, latest


def _rollups_connection():
    """The connection reads of rollups use (the replica, where one is configured)."""
    return connections[router.db_for_read(Rollup)]


def _rollup_page(connection, columns: str, page: SeriesPage) -> tuple[str, list]:
    """The SQL and parameters selecting ``columns`` of the page's rollup rows (a raw query:
    no model instances)."""
    ops = connection.ops
    after = page.after
    after_sql = "" if after is None else "AND start > %s "
    sql = (
        f"SELECT {columns} FROM {Rollup._meta.db_table} "  # noqa: S608 - our own literals
        "WHERE meter_id = %s AND granularity = %s "
        f"AND start >= %s AND start < %s {after_sql}ORDER BY start LIMIT %s"
    )
    params = [
        Rollup._meta.get_field("meter").get_db_prep_value(page.meter.pk, connection),
        page.granularity.name,
        ops.adapt_datetimefield_value(page.start),
        ops.adapt_datetimefield_value(page.end),
        *([] if after is None else [ops.adapt_datetimefield_value(after)]),
        page.limit,
    ]
    return sql, params


_EMPTY = SeriesColumns([], [], [], [], [], [], [], [])


def _columns(buckets: list[Bucket]) -> SeriesColumns:
    return SeriesColumns(
        starts=[int(b.start.timestamp()) for b in buckets],
        ends=[int(b.end.timestamp()) for b in buckets],
        quantities=[b.quantity for b in buckets],
        costs=[b.cost for b in buckets],
        actual_counts=[b.actual_count for b in buckets],
        estimated_counts=[b.estimated_count for b in buckets],
        expected_counts=[b.expected_count for b in buckets],
        peak_quantities=[b.peak_quantity for b in buckets],
    )


def _buckets_from_readings(page: SeriesPage) -> list[Bucket]:
    """Quarter-hour buckets straight from readings (one reading each on a 15-minute meter)."""
    meter, start, after, limit = page.meter, page.start, page.after, page.limit
    bounds = meter_bucket_bounds(meter, Granularity.FIFTEEN_MINUTE, start, page.end)
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
