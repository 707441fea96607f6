"""Reads of usage: series, summaries and exports, always for a meter the caller owns.

HOUR and coarser come from rollups precomputed by workers; FIFTEEN_MINUTE is the one
granularity served from readings (priced with the tariff when a reading has no cost of its own).
A billing-read meter's only series is BILLING_PERIOD: its read periods, one rollup each.

Every read counts a direction (contract section 10.1) through :func:`flow_channels`: the
channels (DELIVERED, RECEIVED) it is made of, the first counted positive and the others
subtracted (NET = delivered - received). The one rule, in SQL for rollups and in Python for
readings: quantity and cost are the first channel's minus the others'; quality counts every
reading of the channels; coverage counts the channel with the fewest readings; the peak is the
first channel's (null when it has none); a bucket is listed when any of the channels has
readings in it.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache, partial
from itertools import groupby, islice
from typing import Any

import orjson
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, F, Q, Sum
from django.db.models.expressions import Col
from rest_framework.exceptions import NotFound

from customers.models import Account, Customer, Meter
from customers.selectors import account_visible
from energygrid.money import currency_places, format_moneys
from metadata.catalog import FlowDirection, Granularity
from usage.calendar import local_date_start, meter_bucket_bounds, zone
from usage.hour_items import hour_items, hour_items_cached
from usage.models import (
    DELIVERED_CHANNEL,
    NET_COST,
    NET_QUANTITY,
    RECEIVED_CHANNEL,
    Channel,
    Direction,
    Quality,
    Reading,
    RenderedDay,
    Rollup,
    RollupRevision,
)
from usage.pricing import PricedReading, priced_readings
from usage.rendering import SeriesColumns, day_items_basis, items_fragment, series_items


def meter_get(*, customer: Customer, meter_id: str) -> Meter:
    """The customer's meter, or 404 whether it is unknown, malformed or someone else's.

    Every Usage read starts here, so it is one hand-written statement on a cursor
    (:func:`_meter_statement`, prepared once per database): compiling the ORM's join (the
    customer through the account) cost more than the query itself, and a ``RawQuerySet``
    still worked out its column order and converters on every call. The meter comes with its
    account (only ``billing_cycle_day`` loaded; the rest deferred) and ``rollup_revision``, the
    count of its rollup writes (:class:`~usage.models.RollupRevision`, 0 before any), which
    the Usage page cache keys on, and ``items_basis``, what its stored DAY items were
    rendered under (:func:`day_items_served`). Its tariff loads on first use.
    """
    try:
        meter_uuid = uuid.UUID(meter_id)
    except ValueError:
        raise NotFound("No such meter.") from None
    alias = router.db_for_read(Meter)
    connection = connections[alias]
    statement = _meter_statement(alias)
    with connection.cursor() as cursor:
        cursor.execute(
            statement.sql,
            [
                Meter._meta.pk.get_db_prep_value(meter_uuid, connection),
                Customer._meta.pk.get_db_prep_value(customer.pk, connection),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound("No such meter.")
    meter = statement.meter(row, alias, connection)
    if not account_visible(customer, meter.account_id):
        raise NotFound("No such meter.")
    billing_cycle_day, meter.rollup_revision, meter.items_basis = row[len(statement.columns) :]
    meter.account = Account.from_db(
        alias,
        ["id", "customer_id", "billing_cycle_day"],
        [meter.account_id, customer.pk, billing_cycle_day],
    )
    return meter


@dataclass(frozen=True)
class _MeterStatement:
    """:func:`meter_get`'s SQL: the meter's columns (each with the converters Django applies
    to it), then the account's billing cycle day, the rollup revision and the items' basis."""

    sql: str
    attnames: list[str]
    columns: list[tuple[Col, list[Callable]]]

    def meter(self, row: tuple, alias: str, connection: BaseDatabaseWrapper) -> Meter:
        values = []
        for value, (column, converters) in zip(row, self.columns, strict=False):
            for converter in converters:
                value = converter(value, column, connection)
            values.append(value)
        return Meter.from_db(alias, self.attnames, values)


@cache
def _meter_statement(alias: str) -> _MeterStatement:
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = Meter._meta.concrete_fields
    columns = []
    for field in fields:
        column = field.get_col("meter")
        converters = connection.ops.get_db_converters(column)
        columns.append((column, converters + column.get_db_converters(connection)))
    sql = (
        f"SELECT {', '.join(f'meter.{quote(field.column)}' for field in fields)}, "  # noqa: S608
        "account.billing_cycle_day, COALESCE(revision.revision, 0), "
        "COALESCE(revision.items_basis, '') "
        f"FROM {Meter._meta.db_table} AS meter "
        f"JOIN {Account._meta.db_table} AS account ON account.id = meter.account_id "
        f"LEFT JOIN {RollupRevision._meta.db_table} AS revision ON revision.meter_id = meter.id "
        "WHERE meter.id = %s AND account.customer_id = %s"
    )
    return _MeterStatement(sql, [field.attname for field in fields], columns)


def flow_channels(*, meter: Meter, direction: FlowDirection) -> tuple[Channel, ...]:
    """The channels ``direction`` counts on ``meter``, the positive one first: NET on a
    bidirectional meter is delivered - received; on any other meter NET is DELIVERED."""
    if direction is FlowDirection.RECEIVED:
        return (RECEIVED_CHANNEL,)
    if direction is FlowDirection.NET and meter.bidirectional:
        return (DELIVERED_CHANNEL, RECEIVED_CHANNEL)
    return (DELIVERED_CHANNEL,)


@dataclass(frozen=True)
class Bucket:
    """One bucket of a usage series in one direction; figures are exact, rounding happens
    when rendered. ``covered_count`` is what coverage counts (the readings of the channel with
    the fewest); ``delivered``/``received`` are the two channels' quantities whatever the
    direction."""

    start: datetime
    end: datetime
    quantity: Decimal
    cost: Decimal | None
    actual_count: int
    estimated_count: int
    covered_count: int
    expected_count: Decimal
    peak_quantity: Decimal | None
    delivered: Decimal
    received: Decimal


@dataclass(frozen=True)
class SeriesPage:
    """A page of a usage series: up to ``limit`` non-empty buckets of ``[start, end)`` (bucket
    boundaries) starting after the bucket that starts at ``after`` (a page token's position),
    counting ``direction``."""

    meter: Meter
    granularity: Granularity
    start: datetime
    end: datetime
    after: datetime | None
    limit: int
    direction: FlowDirection = FlowDirection.NET


def usage_series(page: SeriesPage) -> list[Bucket]:
    """The buckets of ``page``."""
    if page.granularity is Granularity.FIFTEEN_MINUTE:
        return _buckets_from_readings(page)
    columns = _rollup_columns(page)

    def decimal(text: str | None) -> Decimal | None:
        return None if text is None else Decimal(text)

    def energy(micros: int | None) -> Decimal | None:
        return None if micros is None else Decimal(micros).scaleb(-6)

    return [
        Bucket(
            start=datetime.fromtimestamp(columns.starts[i], UTC),
            end=datetime.fromtimestamp(columns.ends[i], UTC),
            quantity=energy(columns.quantities[i]),
            cost=decimal(columns.costs[i]),
            actual_count=columns.actual_counts[i],
            estimated_count=columns.estimated_counts[i],
            covered_count=columns.covered_counts[i],
            expected_count=Decimal(columns.expected_counts[i]),
            peak_quantity=energy(columns.peak_quantities[i]),
            delivered=energy(columns.delivered[i]),
            received=energy(columns.received[i]),
        )
        for i in range(len(columns))
    ]


def usage_series_columns(page: SeriesPage, *, currency: str) -> SeriesColumns:
    """:func:`usage_series` as columns (``usage.rendering``'s input), costs formatted as the
    API's money in ``currency``: the API's hot path, with no Python object per rollup row."""
    if page.granularity is Granularity.FIFTEEN_MINUTE:
        columns = _columns(_buckets_from_readings(page))
    elif _rollups_connection().vendor in _MONEY_SQL:
        return _rollup_columns(page, money_places=currency_places(currency))
    else:
        columns = _rollup_columns(page)
    return replace(columns, costs=format_moneys(columns.costs, currency))


#: A timestamp column as UTC epoch seconds, per database vendor. PostgreSQL's ``EXTRACT`` is a
#: numeric (slow per row); ``date_part``'s double holds any whole second of the supported range
#: exactly.
_EPOCH_SQL = {
    "postgresql": "CAST(date_part('epoch', {}) AS BIGINT)",
    "sqlite": "CAST(strftime('%%s', {}) AS INTEGER)",
}


def _readings_sql(channel: Channel) -> str:
    return f"({channel.actual_count} + {channel.estimated_count})"


def _figures_sql(
    channels: tuple[Channel, ...], *, money: str, micros: str, bidirectional: bool
) -> str:
    """A rollup row's figures in the channels' direction (the module's rule), as the columns
    of :class:`SeriesColumns` after the timestamps, less those :func:`_rollup_columns` adds:
    energy through the template ``micros``, the cost through ``money``. On one channel every
    row of the page has its readings (:func:`_rollup_page`), so its peak needs no guard and
    its covered count, its readings, is added in Python; the two channels' quantities are
    selected only on a ``bidirectional`` meter. For NET, ``quantity - received_quantity`` is
    ``usage.models.NET_QUANTITY`` (and the cost ``NET_COST``)."""
    figures = [
        micros.format(" - ".join(channel.quantity for channel in channels)),
        money.format(" - ".join(channel.cost for channel in channels)),
        " + ".join(channel.actual_count for channel in channels),
        " + ".join(channel.estimated_count for channel in channels),
    ]
    peak = channels[0].peak_quantity
    if len(channels) > 1:
        counts = [_readings_sql(channel) for channel in channels]
        covered = counts[0]
        for count in counts[1:]:
            covered = f"CASE WHEN {covered} < {count} THEN {covered} ELSE {count} END"
        figures.append(covered)
        peak = f"CASE WHEN {counts[0]} > 0 THEN {peak} END"
    figures += ["CAST(expected_count AS TEXT)", micros.format(peak)]
    if bidirectional:
        figures += [
            micros.format(DELIVERED_CHANNEL.quantity),
            micros.format(RECEIVED_CHANNEL.quantity),
        ]
    return ", ".join(figures)


#: An energy figure (6 decimals) as integer millionths of the unit, per database vendor:
#: PostgreSQL's numerics are exact, SQLite's decimals are floats, rounded to the nearest.
_MICROS_SQL = {
    "postgresql": "CAST(({}) * 1000000 AS BIGINT)",
    "sqlite": "CAST(ROUND(({}) * 1000000) AS INTEGER)",
}
#: An exact amount as text.
_EXACT_MONEY_SQL = "CAST({} AS TEXT)"
#: An amount as the API's money (``energygrid.money.format_money``) where the database rounds
#: exactly: PostgreSQL's numeric ``ROUND`` is half away from zero, like ``ROUND_HALF_UP``, and
#: writes no negative zero. Elsewhere (SQLite's decimals are floats) Python formats the text.
_MONEY_SQL = {"postgresql": "CAST(ROUND({{}}, {places}) AS TEXT)"}


def _rollup_columns(page: SeriesPage, *, money_places: int | None = None) -> SeriesColumns:
    """One page of rollups in one query, its timestamps as epoch seconds, its energy figures
    as integer millionths, its expected counts as text and its costs as text, exact or, given
    ``money_places`` (where the database rounds money: :data:`_MONEY_SQL`), formatted as
    money: the database driver then builds no datetime or Decimal per row (profiled: that
    parsing was most of the read's time), and ``usage.rendering`` formats the rest in bulk."""
    connection = _rollups_connection()
    epoch = _EPOCH_SQL[connection.vendor]
    channels = flow_channels(meter=page.meter, direction=page.direction)
    money = _EXACT_MONEY_SQL
    if money_places is not None:
        money = _MONEY_SQL[connection.vendor].format(places=money_places)
    columns = (
        f"{epoch.format('start')}, {epoch.format(connection.ops.quote_name('end'))}, "
        + _figures_sql(
            channels,
            money=money,
            micros=_MICROS_SQL[connection.vendor],
            bidirectional=page.meter.bidirectional,
        )
    )
    sql, params = _rollup_page(connection, columns, page)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return _EMPTY
    values = list(zip(*rows, strict=True))
    if len(channels) == 1:
        actual, estimated = values[4], values[5]
        values.insert(6, [a + e for a, e in zip(actual, estimated, strict=True)])
    if not page.meter.bidirectional:
        values += [(None,) * len(rows)] * 2
    return SeriesColumns(*values)


def _rollups_connection():
    """The connection reads of rollups use (the replica, where one is configured)."""
    return connections[router.db_for_read(Rollup)]


def _rollup_page(connection, columns: str, page: SeriesPage) -> tuple[str, list]:
    """The SQL and parameters selecting ``columns`` of the page's rollup rows in which the
    page's channels have readings (a raw query: no model instances)."""
    channels = flow_channels(meter=page.meter, direction=page.direction)
    listed = " OR ".join(f"{_readings_sql(channel)} > 0" for channel in channels)
    window, params = _page_window(connection, page)
    sql = (
        f"SELECT {columns} FROM {Rollup._meta.db_table} "  # noqa: S608 - our own literals
        f"WHERE meter_id = %s AND granularity = %s AND ({listed}) {window}"
    )
    meter_id = Rollup._meta.get_field("meter").get_db_prep_value(page.meter.pk, connection)
    return sql, [meter_id, page.granularity.name, *params]


def _page_window(connection, page: SeriesPage) -> tuple[str, list]:
    """The end of a page's query, for a table of rows keyed by ``start`` (rollups, stored DAY
    items): the rows starting in ``[page.start, page.end)`` after ``page.after``, in order, at
    most ``page.limit``; and its parameters."""
    ops = connection.ops
    after = page.after
    after_sql = "" if after is None else "AND start > %s "
    params = [
        ops.adapt_datetimefield_value(page.start),
        ops.adapt_datetimefield_value(page.end),
        *([] if after is None else [ops.adapt_datetimefield_value(after)]),
        page.limit,
    ]
    return f"AND start >= %s AND start < %s {after_sql}ORDER BY start LIMIT %s", params


def day_items_served(page: SeriesPage, *, currency: str) -> bool:
    """Whether ``page`` is made of the meter's stored DAY items (:func:`usage_day_items`): a
    DAY page counting the NET channels, whose meter's items were rendered as this read
    would render them (``usage.rendering.day_items_basis``)."""
    meter = page.meter
    return (
        page.granularity is Granularity.DAY
        and flow_channels(meter=meter, direction=page.direction)
        == flow_channels(meter=meter, direction=FlowDirection.NET)
        and meter.items_basis == day_items_basis(meter, currency)
    )


def usage_day_items(page: SeriesPage) -> tuple[list[int], list[str]]:
    """The page's stored DAY items (:class:`~usage.models.RenderedDay`): their starts as
    epoch seconds and their JSON, in order."""
    connection = connections[router.db_for_read(RenderedDay)]
    window, params = _page_window(connection, page)
    sql = (
        f"SELECT {_EPOCH_SQL[connection.vendor].format('start')}, item "  # noqa: S608
        f"FROM {RenderedDay._meta.db_table} WHERE meter_id = %s {window}"
    )
    meter_id = RenderedDay._meta.get_field("meter").get_db_prep_value(page.meter.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [meter_id, *params])
        rows = cursor.fetchall()
    if not rows:
        return [], []
    starts, items = zip(*rows, strict=True)
    return list(starts), list(items)


def usage_page_items(
    page: SeriesPage, *, size: int, currency: str
) -> tuple[Sequence[int], list[dict[str, Any]] | orjson.Fragment]:
    """The starts of a Usage page's items (one more than ``size`` when a next page exists)
    and its ``size`` items: stored DAY items (:func:`day_items_served`), cached HOUR items
    (``usage.hour_items``), or rendered from the rollups."""
    if day_items_served(page, currency=currency):
        starts, stored = usage_day_items(page)
        return starts, items_fragment(stored[:size])
    if hour_items_cached(page):
        cached = hour_items(
            page, currency=currency, render=partial(usage_series_columns, currency=currency)
        )
        if cached is not None:
            starts, shown = cached
            return starts, orjson.Fragment(b"[" + shown + b"]")
    columns = usage_series_columns(page, currency=currency)
    return columns.starts, series_items(columns.head(size), meter=page.meter)


_EMPTY = SeriesColumns([], [], [], [], [], [], [], [], [], [], [])


def _columns(buckets: list[Bucket]) -> SeriesColumns:
    def micros(value: Decimal | None) -> int | None:
        return None if value is None else int(value.scaleb(6).to_integral_value())

    return SeriesColumns(
        starts=[int(b.start.timestamp()) for b in buckets],
        ends=[int(b.end.timestamp()) for b in buckets],
        quantities=[micros(b.quantity) for b in buckets],
        costs=[b.cost for b in buckets],
        actual_counts=[b.actual_count for b in buckets],
        estimated_counts=[b.estimated_count for b in buckets],
        covered_counts=[b.covered_count for b in buckets],
        expected_counts=[b.expected_count for b in buckets],
        peak_quantities=[micros(b.peak_quantity) for b in buckets],
        delivered=[micros(b.delivered) for b in buckets],
        received=[micros(b.received) for b in buckets],
    )


def _buckets_from_readings(page: SeriesPage) -> list[Bucket]:
    """Quarter-hour buckets straight from readings (one reading per channel each on a
    15-minute meter), read until the page is full."""
    meter, start, after = page.meter, page.start, page.after
    bounds = meter_bucket_bounds(meter, Granularity.FIFTEEN_MINUTE, start, page.end)
    # ``after`` is a bucket start from our signed page token, so a later boundary exists.
    low = start if after is None else bounds[bisect.bisect_right(bounds, after)]
    channels = flow_channels(meter=meter, direction=page.direction)
    interval = timedelta(seconds=meter.interval_seconds)
    # Readings come by (start, direction), so a bucket's readings are consecutive.
    groups = groupby(
        priced_readings(meter=meter, lo=low, hi=bounds[-1]),
        key=lambda reading: bisect.bisect_right(bounds, reading.start) - 1,
    )
    buckets = (
        _bucket(bounds[position], bounds[position + 1], list(members), channels, interval)
        for position, members in groups
    )
    return list(islice((bucket for bucket in buckets if bucket is not None), page.limit))


def _bucket(
    start: datetime,
    end: datetime,
    members: list[PricedReading],
    channels: tuple[Channel, ...],
    interval: timedelta,
) -> Bucket | None:
    """The bucket of readings ``members`` in the channels' direction (the module's rule);
    None when the channels have no reading in it."""
    by_channel = [
        [reading for reading in members if reading.direction == channel.direction]
        for channel in channels
    ]
    if not any(by_channel):
        return None

    def quantity(readings: list[PricedReading]) -> Decimal:
        return sum((reading.quantity for reading in readings), Decimal(0))

    def cost(readings: list[PricedReading]) -> Decimal | None:
        costs = [reading.cost for reading in readings]
        return None if None in costs else sum(costs, Decimal(0))

    costs = [cost(readings) for readings in by_channel]
    counted = [reading for readings in by_channel for reading in readings]
    estimated = sum(1 for reading in counted if reading.quality == Quality.ESTIMATED)
    return Bucket(
        start=start,
        end=end,
        quantity=quantity(by_channel[0]) - sum(map(quantity, by_channel[1:]), Decimal(0)),
        cost=None if None in costs else costs[0] - sum(costs[1:], Decimal(0)),
        actual_count=len(counted) - estimated,
        estimated_count=estimated,
        covered_count=min(len(readings) for readings in by_channel),
        expected_count=Decimal((end - start) / interval),
        peak_quantity=max((reading.quantity for reading in by_channel[0]), default=None),
        delivered=quantity([r for r in members if r.direction == Direction.DELIVERED]),
        received=quantity([r for r in members if r.direction == Direction.RECEIVED]),
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


def usage_summary(
    *,
    meter: Meter,
    first_day: date,
    end_day: date,
    direction: FlowDirection = FlowDirection.NET,
) -> Summary:
    """Totals in ``direction`` for local dates ``[first_day, end_day)``, the as-many days
    before, and the same dates a year before.

    Three filtered aggregates over DAY rollups in one query (a billing-read meter's read
    periods: those that start in each range), then the peak interval: the DAY with the largest
    peak of the direction's first channel, and its largest reading (none for read periods).
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
    channels = flow_channels(meter=meter, direction=direction)
    two = len(channels) == 2
    quantity = NET_QUANTITY if two else F(channels[0].quantity)
    cost = NET_COST if two else F(channels[0].cost)
    aggregates = {}
    for name, (low, high) in instants.items():
        in_window = Q(start__gte=low, start__lt=high)
        aggregates[f"{name}_quantity"] = Sum(quantity, filter=in_window)
        aggregates[f"{name}_cost"] = Sum(cost, filter=in_window)
        aggregates[f"{name}_days"] = Count("start", filter=in_window)
        aggregates[f"{name}_priced"] = Count(cost, filter=in_window)
    listed = Q()
    for channel in channels:
        listed |= channel.has_readings
    granularity = Granularity.BILLING_PERIOD if meter.billing_read else Granularity.DAY
    rollups = Rollup.objects.filter(listed, meter=meter, granularity=granularity.name)
    row = rollups.aggregate(**aggregates)

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
    peak_start, peak_quantity = (
        (None, None) if meter.billing_read else _peak_interval(meter, channels[0], low, high)
    )
    return Summary(
        current=current,
        previous=total("previous"),
        year_ago=total("year_ago"),
        days=days,
        peak_start=peak_start,
        peak_quantity=peak_quantity,
    )


def _peak_interval(meter: Meter, channel: Channel, low: datetime, high: datetime):
    peak_day = (
        Rollup.objects.filter(
            channel.has_readings,
            meter=meter,
            granularity=Granularity.DAY.name,
            start__gte=low,
            start__lt=high,
        )
        .order_by(f"-{channel.peak_quantity}", "start")
        .values_list("start", "end")
        .first()
    )
    if peak_day is None:
        return None, None
    reading = (
        Reading.objects.filter(
            meter=meter,
            direction=channel.direction,
            start__gte=peak_day[0],
            start__lt=peak_day[1],
        )
        .order_by("-quantity", "start")
        .values_list("start", "quantity")
        .first()
    )
    return reading if reading is not None else (None, None)
