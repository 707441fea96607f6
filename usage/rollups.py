"""Rollups: a meter's readings totalled per bucket of its local calendar, precomputed.

Buckets come from ``usage.calendar.bucket_bounds`` (the one definition of the local calendar,
shared with the API). A refresh recomputes every bucket touching a range of changed readings:

* PostgreSQL: one set-based statement per granularity (and per 5,000 buckets). The bucket
  boundaries go in as a ``timestamptz[]`` and ``width_bucket(start, bounds)`` puts each row
  in its bucket by binary search. HOUR (or the finest kept granularity) reads the readings,
  priced by joining the tariff's 7 x 24 price grid (``usage.pricing``); DAY sums the fresh
  HOUR rollups and WEEK, MONTH and BILLING_PERIOD the DAY ones, so the readings are read once.
  ``INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE`` writes the totals (only rows
  whose figures changed), and the same statement deletes the rows of buckets in the range that
  no longer hold any reading. A meter with no rollups in the range yet gets a plain ``INSERT``.
* Elsewhere (SQLite, the embedded demo): the same buckets and prices in Python, upserted with
  ``bulk_create(update_conflicts=True)``. Same rows as PostgreSQL, slower.

A refresh is idempotent (same readings, same rows, ``computed_at`` untouched when nothing
changed) and safe to run concurrently: it holds a per-meter ``pg_advisory_xact_lock``.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from customers.models import Meter
from energygrid.hooks import hooks_run
from metadata.catalog import Granularity
from usage.calendar import bucket_bounds, meter_bucket_range, zone
from usage.models import (
    ROLLUP_FIGURES,
    ROLLUP_GRANULARITIES,
    Quality,
    Reading,
    Rollup,
    RollupDirtyRange,
    RollupState,
)
from usage.pricing import PRICE_GRID_SQL, PriceGrid, price_grid, priced_readings

#: First key of the two-key advisory lock a rollup refresh holds per meter ("ROLL").
ROLLUP_LOCK_CLASS = 0x524F4C4C
#: Buckets per statement: bounds the array sent and the rows one statement writes.
CHUNK_BUCKETS = 9000
_EXPECTED_QUANTUM = Decimal("0.0001")

# A granularity is kept for a meter when one reading fits in its bucket.
_LONGEST_INTERVAL_SECONDS = {
    Granularity.HOUR: 3600,
    Granularity.DAY: 86400,
    Granularity.WEEK: 7 * 86400,
    Granularity.MONTH: 28 * 86400,
    Granularity.BILLING_PERIOD: 28 * 86400,
}


# A statement puts a row in bucket ``i`` by ``width_bucket(start, bounds)`` (a binary search over
# the bucket boundaries) and reads the bucket's start, end, expected count and, for HOUR, the
# price of its local hour from arrays indexed by ``i``. The arrays hold fixed-width values only
# (timestamps; the expected count x 10^4 and the price x 10^6 as integers, -1 for no price), so
# indexing one is O(1), and they are constants of the statement, not columns copied per row.
_BUCKET_COLUMNS = """
(%(bounds)b::timestamptz[])[totals.i] AS start,
(%(bounds)b::timestamptz[])[totals.i + 1] AS "end",
(%(expected)b::bigint[])[totals.i] * 0.0001 AS expected_count"""

# HOUR from the readings. A local hour at one offset has one price (rates match the local
# weekday and hour of an interval's start), so readings are priced per bucket, not per reading:
# cost = their own costs + the hour's price x the quantity of those without one. No time zone
# conversion per reading at all.
_FRESH_HOURS_FROM_READINGS = f"""
totals AS (
    SELECT width_bucket(reading.start, %(bounds)b::timestamptz[]) AS i,
           sum(reading.quantity) AS quantity,
           count(*) AS readings,
           sum(reading.cost) AS own_cost,
           count(reading.cost) AS costed,
           sum(reading.quantity) FILTER (WHERE reading.cost IS NULL) AS unpriced_quantity,
           count(*) FILTER (WHERE reading.quality = %(actual)s) AS actual_count,
           count(*) FILTER (WHERE reading.quality = %(estimated)s) AS estimated_count,
           max(reading.quantity) AS peak_quantity
    FROM usage_reading AS reading
    WHERE reading.meter_id = %(meter_id)s
      AND reading.start >= %(lo)s AND reading.start < %(hi)s
    GROUP BY 1
),
priced AS (
    SELECT totals.*, (%(prices)b::bigint[])[totals.i] AS price_micros FROM totals
),
fresh AS (
    SELECT {_BUCKET_COLUMNS}, totals.quantity,
           CASE WHEN totals.costed = totals.readings THEN totals.own_cost
                WHEN totals.price_micros >= 0
                THEN COALESCE(totals.own_cost, 0)
                     + totals.unpriced_quantity * totals.price_micros * 0.000001
           END AS cost,
           totals.actual_count, totals.estimated_count, totals.peak_quantity
    FROM priced AS totals
)"""  # noqa: S608 (constant SQL; values are bound)

# The finest level of a meter whose readings are longer than an hour (DAY for daily meters):
# a bucket spans several local hours, so each reading is priced by the tariff's grid.
_FRESH_FROM_PRICED_READINGS = f"""
price_grid AS ({PRICE_GRID_SQL}),
priced AS (
    SELECT width_bucket(reading.start, %(bounds)b::timestamptz[]) AS i, reading.quantity,
           reading.quality, COALESCE(reading.cost, reading.quantity * price_grid.price) AS cost
    FROM (
        SELECT reading.*, reading.start AT TIME ZONE %(tz)s AS local_start
        FROM usage_reading AS reading
        WHERE reading.meter_id = %(meter_id)s
          AND reading.start >= %(lo)s AND reading.start < %(hi)s
        OFFSET 0
    ) AS reading
    LEFT JOIN price_grid
      ON price_grid.dow = extract(isodow FROM reading.local_start)::int
     AND price_grid.hour = extract(hour FROM reading.local_start)::int
),
totals AS (
    SELECT priced.i,
           sum(priced.quantity) AS quantity,
           CASE WHEN count(priced.cost) = count(*) THEN sum(priced.cost) END AS cost,
           count(*) FILTER (WHERE priced.quality = %(actual)s) AS actual_count,
           count(*) FILTER (WHERE priced.quality = %(estimated)s) AS estimated_count,
           max(priced.quantity) AS peak_quantity
    FROM priced
    GROUP BY priced.i
),
fresh AS (
    SELECT {_BUCKET_COLUMNS}, totals.quantity, totals.cost, totals.actual_count,
           totals.estimated_count, totals.peak_quantity
    FROM totals
)"""  # noqa: S608 (composed of constant SQL; values are bound)

# A bucket from the finer rollups it is made of (a day of hours, a week or month of days):
# exact, since every figure is a sum, a count or a maximum.
_FRESH_FROM_ROLLUPS = f"""
totals AS (
    SELECT width_bucket(finer.start, %(bounds)b::timestamptz[]) AS i,
           sum(finer.quantity) AS quantity,
           CASE WHEN count(finer.cost) = count(*) THEN sum(finer.cost) END AS cost,
           sum(finer.actual_count) AS actual_count,
           sum(finer.estimated_count) AS estimated_count,
           max(finer.peak_quantity) AS peak_quantity
    FROM usage_rollup AS finer
    WHERE finer.meter_id = %(meter_id)s AND finer.granularity = %(source)s
      AND finer.start >= %(lo)s AND finer.start < %(hi)s
    GROUP BY 1
),
fresh AS (
    SELECT {_BUCKET_COLUMNS}, totals.quantity, totals.cost, totals.actual_count,
           totals.estimated_count, totals.peak_quantity
    FROM totals
)"""  # noqa: S608 (composed of constant SQL; values are bound)


_INSERT_FRESH = """
    INSERT INTO usage_rollup AS rollup (
        meter_id, granularity, start, "end", quantity, cost, actual_count, estimated_count,
        expected_count, peak_quantity, computed_at
    )
    SELECT %(meter_id)s, %(granularity)s, start, "end", quantity, cost, actual_count,
           estimated_count, expected_count, peak_quantity, %(now)s
    FROM fresh"""


def _insert_statement(fresh: str) -> str:
    """Inserts the ``fresh`` rows: for a meter with no rollups in the range (a first rollup,
    a rebuild from empty), where checking each row for a conflict would double the write."""
    return f"WITH {fresh}{_INSERT_FRESH}"


def _refresh_statement(fresh: str) -> str:
    """Upserts the ``fresh`` rows as the rollups of their buckets (only rows whose figures
    changed) and deletes the rows of buckets in the range that no longer hold any reading, in
    one statement."""
    return f"""
WITH {fresh},
upserted AS ({_INSERT_FRESH}
    ON CONFLICT (meter_id, granularity, start) DO UPDATE SET
        "end" = EXCLUDED."end",
        quantity = EXCLUDED.quantity,
        cost = EXCLUDED.cost,
        actual_count = EXCLUDED.actual_count,
        estimated_count = EXCLUDED.estimated_count,
        expected_count = EXCLUDED.expected_count,
        peak_quantity = EXCLUDED.peak_quantity,
        computed_at = EXCLUDED.computed_at
    WHERE (rollup."end", rollup.quantity, rollup.cost, rollup.actual_count,
           rollup.estimated_count, rollup.expected_count, rollup.peak_quantity)
          IS DISTINCT FROM
          (EXCLUDED."end", EXCLUDED.quantity, EXCLUDED.cost, EXCLUDED.actual_count,
           EXCLUDED.estimated_count, EXCLUDED.expected_count, EXCLUDED.peak_quantity)
)
DELETE FROM usage_rollup AS stale
WHERE stale.meter_id = %(meter_id)s
  AND stale.granularity = %(granularity)s
  AND stale.start >= %(lo)s AND stale.start < %(hi)s
  AND stale.start NOT IN (SELECT start FROM fresh)
"""  # noqa: S608 (composed of constant SQL; values are bound)


#: The statement for (fresh rows from, rollups exist in the range): upsert, else insert.
_STATEMENTS = {
    (source, upsert): (_refresh_statement if upsert else _insert_statement)(fresh)
    for source, fresh in (
        ("hours", _FRESH_HOURS_FROM_READINGS),
        ("readings", _FRESH_FROM_PRICED_READINGS),
        ("rollups", _FRESH_FROM_ROLLUPS),
    )
    for upsert in (True, False)
}
#: The finer granularity each one's buckets are unions of: a local day is whole local hours
#: (midnight is an hour boundary even at odd offsets and DST), weeks and months whole days.
_MADE_OF = {
    Granularity.DAY: Granularity.HOUR,
    Granularity.WEEK: Granularity.DAY,
    Granularity.MONTH: Granularity.DAY,
    Granularity.BILLING_PERIOD: Granularity.DAY,
}


def rollup_granularities(meter: Meter) -> list[Granularity]:
    """The granularities kept for ``meter``: those a single reading of it fits into."""
    return [
        g for g in ROLLUP_GRANULARITIES if meter.interval_seconds <= _LONGEST_INTERVAL_SECONDS[g]
    ]


def expected_counts(bounds: list[datetime], interval_seconds: int) -> list[Decimal]:
    """Intervals each bucket's real duration holds (4 decimals; whole for whole intervals)."""
    return [
        (
            Decimal(int((bounds[i + 1] - bounds[i]).total_seconds())) / Decimal(interval_seconds)
        ).quantize(_EXPECTED_QUANTUM)
        for i in range(len(bounds) - 1)
    ]


def _lock_meter(meter: Meter) -> None:
    """Serialises refreshes of one meter until the transaction ends (PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                [ROLLUP_LOCK_CLASS, str(meter.pk)],
            )


def _hour_prices(meter: Meter, bounds: list[datetime], grid: PriceGrid) -> list[int]:
    """Each HOUR bucket's price (that of its local weekday and hour) x 10^6, -1 for none."""
    micros = {key: int(price.scaleb(6)) for key, price in grid.items()}
    tz = zone(meter.timezone)
    prices = []
    for start in bounds[:-1]:
        local = start.astimezone(tz)
        prices.append(micros.get((local.isoweekday(), local.hour), -1))
    return prices


def _refresh_sql(
    meter: Meter,
    granularity: Granularity,
    bounds: list[datetime],
    now: datetime,
    finer: Granularity | None,
    grid: PriceGrid,
    *,
    upsert: bool,
) -> None:
    """One statement: from the ``finer`` rollups when given (already fresh for this range),
    else from the readings; ``upsert`` unless the meter has no rollups in the range."""
    params = {
        "tariff_id": meter.tariff_id,
        "tz": meter.timezone,
        "meter_id": meter.pk,
        "granularity": granularity.name,
        "bounds": bounds,
        "expected": [int(e.scaleb(4)) for e in expected_counts(bounds, meter.interval_seconds)],
        "prices": _hour_prices(meter, bounds, grid) if granularity is Granularity.HOUR else [],
        "lo": bounds[0],
        "hi": bounds[-1],
        "now": now,
        "actual": Quality.ACTUAL,
        "estimated": Quality.ESTIMATED,
        "source": finer.name if finer else None,
    }
    if finer is not None:
        source = "rollups"
    elif granularity is Granularity.HOUR:
        source = "hours"
    else:
        source = "readings"
    statement = _STATEMENTS[source, upsert]
    # Bound server-side: the bucket arrays travel once each, in binary, rather than inlined
    # as SQL text literals (9,000 timestamps quoted in Python and parsed by PostgreSQL per use).
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(statement, params)


@dataclass
class _Totals:
    quantity: Decimal = Decimal(0)
    cost: Decimal | None = Decimal(0)
    actual_count: int = 0
    estimated_count: int = 0
    peak_quantity: Decimal = Decimal(0)
    seen: bool = field(default=False)

    def add(self, quantity: Decimal, cost: Decimal | None, quality: str) -> None:
        self.quantity += quantity
        self.cost = None if cost is None or self.cost is None else self.cost + cost
        if quality == Quality.ACTUAL:
            self.actual_count += 1
        else:
            self.estimated_count += 1
        self.peak_quantity = quantity if not self.seen else max(self.peak_quantity, quantity)
        self.seen = True


def _refresh_python(
    meter: Meter, granularity: Granularity, bounds: list[datetime], now: datetime
) -> None:
    lo, hi = bounds[0], bounds[-1]
    totals: dict[int, _Totals] = {}
    for reading in priced_readings(meter=meter, lo=lo, hi=hi):
        index = bisect_right(bounds, reading.start) - 1
        totals.setdefault(index, _Totals()).add(reading.quantity, reading.cost, reading.quality)
    expected = expected_counts(bounds, meter.interval_seconds)
    fresh = {
        bounds[i]: Rollup(
            meter=meter,
            granularity=granularity.name,
            start=bounds[i],
            end=bounds[i + 1],
            quantity=t.quantity,
            cost=t.cost,
            actual_count=t.actual_count,
            estimated_count=t.estimated_count,
            expected_count=expected[i],
            peak_quantity=t.peak_quantity,
            computed_at=now,
        )
        for i, t in totals.items()
    }
    existing = {
        row.start: row
        for row in Rollup.objects.filter(
            meter=meter, granularity=granularity.name, start__gte=lo, start__lt=hi
        )
    }
    changed = [
        row
        for start, row in fresh.items()
        if start not in existing
        or any(getattr(row, f) != getattr(existing[start], f) for f in ROLLUP_FIGURES)
    ]
    Rollup.objects.bulk_create(
        changed,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["meter", "granularity", "start"],
        update_fields=[*ROLLUP_FIGURES, "computed_at"],
    )
    stale = [row.pk for start, row in existing.items() if start not in fresh]
    for i in range(0, len(stale), 500):
        Rollup.objects.filter(pk__in=stale[i : i + 500]).delete()


def rollup_basis(meter: Meter, grid: PriceGrid) -> str:
    """A digest of what ``meter``'s rollups are computed from besides its readings: its time
    zone, interval, billing cycle day and the prices of its tariff (``grid``)."""
    basis = (
        meter.timezone,
        meter.interval_seconds,
        meter.account.billing_cycle_day,
        sorted(grid.items()),
    )
    return hashlib.sha256(repr(basis).encode()).hexdigest()


def _refresh(
    meter: Meter, start: datetime, end: datetime, *, repair: bool, grid: PriceGrid
) -> None:
    in_sql = connection.vendor == "postgresql"
    now = timezone.now()
    kept = rollup_granularities(meter)
    # Rows of granularities the meter no longer has (its interval grew) are stale.
    Rollup.objects.filter(meter=meter, start__lt=end, end__gt=start).exclude(
        granularity__in=[g.name for g in kept]
    ).delete()
    edges = [meter_bucket_range(meter, granularity, start, end) for granularity in kept]
    hull = (min(lo for lo, _ in edges), max(hi for _, hi in edges))
    # Every bucket refreshed below lies in the hull: with no rollup there yet, each row is new.
    upsert = Rollup.objects.filter(meter=meter, start__lt=hull[1], end__gt=hull[0]).exists()
    for granularity in kept:
        finer = _MADE_OF.get(granularity)
        finer = finer if finer in kept else None
        lo, hi = hull if repair and granularity in _MADE_OF.values() else (start, end)
        bounds = bucket_bounds(
            timezone=meter.timezone,
            granularity=granularity,
            billing_cycle_day=meter.account.billing_cycle_day,
            start=lo,
            end=hi,
        )
        for i in range(0, len(bounds) - 1, CHUNK_BUCKETS):
            chunk = bounds[i : i + CHUNK_BUCKETS + 1]
            if in_sql:
                _refresh_sql(meter, granularity, chunk, now, finer, grid, upsert=upsert)
            else:
                _refresh_python(meter, granularity, chunk, now)


def rollups_refresh(*, meter: Meter, start: datetime, end: datetime, repair: bool = False) -> None:
    """Recomputes ``meter``'s rollups for every bucket touching ``[start, end)``.

    Coarser rollups are summed from the finer ones refreshed just before them. A catch-up
    trusts the finer rows outside its range: they are fresh, or a dirty range of their own
    will refresh them (and the coarser buckets holding them) in turn; so one new day refreshes
    that day's hours and day, and the week, month and billing period holding it. ``repair``
    trusts nothing: the levels others are made of (HOUR, DAY) are refreshed over the hull of
    every bucket the range touches, so a week or billing period never sums a wrong day.

    Clears the dirty ranges this covers, so the periodic sweep does not redo them.
    """
    with transaction.atomic():
        _lock_meter(meter)
        covered = list(
            RollupDirtyRange.objects.filter(
                meter=meter, start__gte=start, end__lte=end
            ).values_list("pk", flat=True)
        )
        _refresh(meter, start, end, repair=repair, grid=price_grid(meter.tariff))
        RollupDirtyRange.objects.filter(pk__in=covered).delete()
        if covered:  # new readings are now in the rollups: tell who is built on usage
            hooks_run(settings.ROLLUP_CAUGHT_UP_HOOKS, meter=meter, start=start, end=end)


def rollups_rebuild(
    *, meter: Meter, since: datetime | None = None, skip_unchanged: bool = False
) -> bool:
    """Recomputes every rollup of ``meter`` (from ``since``); False when there was nothing to do.

    The range spans the readings and the existing rollups, so rollups of readings that have
    since gone are deleted too. ``skip_unchanged``: a meter last rebuilt in full on the same
    :func:`rollup_basis` with no dirty range left is skipped without reading its readings,
    since every change of readings records a dirty range in its own transaction, kept until
    its catch-up has run.
    """
    grid = price_grid(meter.tariff)
    basis = rollup_basis(meter, grid)
    if (
        skip_unchanged
        and since is None
        and RollupState.objects.filter(meter=meter, basis=basis).exists()
        and not RollupDirtyRange.objects.filter(meter=meter).exists()
    ):
        return False
    span = rollups_spans(meter_ids=[meter.pk], since=since).get(meter.pk)
    with transaction.atomic():
        if span is not None:
            rollups_refresh(meter=meter, start=span[0], end=span[1], repair=True)
        if since is None:
            RollupState.objects.update_or_create(
                meter=meter, defaults={"basis": basis, "rebuilt_at": timezone.now()}
            )
    return span is not None


def rollups_spans(
    *, meter_ids: Iterable[Any], since: datetime | None = None
) -> dict[Any, tuple[datetime, datetime]]:
    """Each meter's span of readings and rollups (from ``since``): ``[first start, last end)``.

    Meters with neither are left out. Rollups count too, so a recompute over the span also
    deletes the rollups of readings that have since gone.
    """
    readings = Reading.objects.filter(meter_id__in=meter_ids)
    rollups = Rollup.objects.filter(meter_id__in=meter_ids)
    if since is not None:
        readings = readings.filter(start__gte=since)
        rollups = rollups.filter(end__gt=since)
    spans: dict[Any, tuple[datetime, datetime]] = {}

    def widen(meter_id: Any, lo: datetime, hi: datetime) -> None:
        known = spans.get(meter_id, (lo, hi))
        spans[meter_id] = (min(known[0], lo), max(known[1], hi))

    last_readings = readings.values("meter_id").annotate(
        lo=Min("start"), hi=Max("start"), interval=Max("meter__interval_seconds")
    )
    for row in last_readings.values_list("meter_id", "lo", "hi", "interval"):
        widen(row[0], row[1], row[2] + timedelta(seconds=row[3]))
    for meter_id, lo, hi in (
        rollups.values("meter_id")
        .annotate(lo=Min("start"), hi=Max("end"))
        .values_list("meter_id", "lo", "hi")
    ):
        widen(meter_id, lo, hi)
    if since is not None:
        spans = {key: (max(lo, since), hi) for key, (lo, hi) in spans.items()}
    return spans


def rollups_catch_up_pending() -> list[Meter]:
    """Refreshes every meter with dirty ranges left (lost or failed tasks); returns them."""
    pending = list(
        RollupDirtyRange.objects.values("meter_id").annotate(lo=Min("start"), hi=Max("end"))
    )
    meters = Meter.objects.select_related("account").in_bulk([p["meter_id"] for p in pending])
    refreshed = []
    for row in pending:
        meter = meters.get(row["meter_id"])
        if meter is not None:
            rollups_refresh(meter=meter, start=row["lo"], end=row["hi"])
            refreshed.append(meter)
    return refreshed
