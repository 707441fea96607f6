"""Rollups: a meter's readings totalled per bucket of its local calendar, precomputed.

Buckets come from ``usage.calendar.bucket_bounds`` (the one definition of the local calendar,
shared with the API). A refresh recomputes every bucket touching a range of changed readings:

* PostgreSQL: one set-based statement per granularity (and per 5,000 buckets). The bucket
  boundaries go in as a ``timestamptz[]`` and ``width_bucket(start, bounds)`` puts each row
  in its bucket by binary search. HOUR (or the finest kept granularity) reads the readings,
  priced by the price of their local hour under the tariff in force (an array per direction
  from ``usage.pricing.PriceSchedule``); DAY sums the fresh HOUR rollups and WEEK, MONTH and
  BILLING_PERIOD the DAY ones, so the readings are read once. DELIVERED and RECEIVED readings
  are totalled apart (``FILTER``), in one pass, on a bidirectional meter.
  ``INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE`` writes the totals (only rows
  whose figures changed), and the same statement deletes the rows of buckets in the range that
  no longer hold any reading. A meter with no rollups in the range yet gets a plain ``INSERT``.
* Elsewhere (SQLite, the embedded demo): the same buckets and prices in Python, upserted with
  ``bulk_create(update_conflicts=True)``. Same rows as PostgreSQL, slower.
* A billing-read meter has one BILLING_PERIOD row per read period (a dozen a year), built in
  Python on every database.

A refresh is idempotent (same readings, same rows, ``computed_at`` untouched when nothing
changed) and safe to run concurrently: it holds a per-meter ``pg_advisory_xact_lock``.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Min, OuterRef, Q, Subquery
from django.utils import timezone

from customers.models import Account, Meter
from energygrid.hooks import hooks_run
from metadata.catalog import FlowDirection, Granularity
from usage.calendar import (
    SUPPORTED_END,
    SUPPORTED_START,
    bucket_bound_epochs,
    meter_bucket_range,
)
from usage.models import (
    DELIVERED_CHANNEL,
    RECEIVED_CHANNEL,
    ROLLUP_FIGURES,
    ROLLUP_GRANULARITIES,
    Channel,
    Direction,
    Quality,
    Reading,
    RenderedDay,
    Rollup,
    RollupDirtyRange,
    RollupRevision,
    RollupState,
)
from usage.pricing import (
    NO_PRICE,
    PriceSchedule,
    channels,
    hour_bounds,
    price_schedule,
    priced_readings,
    reading_end,
)
from usage.rendering import ITEMS_VERSION, day_items_basis, item_json, series_items
from usage.selectors import SeriesPage, usage_series_columns
from usage.sqlarrays import Int64Array, TimestampArray, binary_cursor

#: First key of the two-key advisory lock a rollup refresh holds per meter ("ROLL").
ROLLUP_LOCK_CLASS = 0x524F4C4C
#: Buckets per statement: bounds the array sent and the rows one statement writes. A rebuild of
#: a year of readings spans up to 428 local days (widened to whole months and billing periods),
#: 10,300 hours: one HOUR statement (at 9,000 it took two, and 20 meter-years took 10 % longer).
CHUNK_BUCKETS = 12_000

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


#: The statement parameter (an array of each local hour's price) each direction is priced by.
_PRICES = {Direction.DELIVERED: "prices", Direction.RECEIVED: "export_prices"}


def _kept(bidirectional: bool) -> list[Channel]:
    """The channels a statement totals: RECEIVED only on a bidirectional meter."""
    return [DELIVERED_CHANNEL, RECEIVED_CHANNEL] if bidirectional else [DELIVERED_CHANNEL]


def _only(channel: Channel, bidirectional: bool, condition: str = "") -> str:
    """A FILTER clause keeping ``channel``'s readings (and ``condition``): none is needed on a
    meter with one channel, whose statement reads only its DELIVERED readings."""
    conditions = [f"reading.direction = {int(channel.direction)}"] if bidirectional else []
    conditions += [condition] if condition else []
    return f" FILTER (WHERE {' AND '.join(conditions)})" if conditions else ""


def _absent(channel: Channel) -> str:
    """A channel a meter does not have: every figure 0."""
    return ", ".join(f"0 AS {column}" for column in channel.columns)


def _hours_from_readings(bidirectional: bool) -> str:
    """HOUR from the readings. A local hour at one offset has one price (rates match the local
    weekday and hour of an interval's start, under the tariff in force that local date), so
    readings are priced per bucket, not per reading: cost = their own costs + the hour's price
    x the quantity of those without one. No time zone conversion per reading at all."""
    channels = _kept(bidirectional)
    totals = ",\n".join(
        f"""count(*){_only(c, bidirectional)} AS {c.of("readings")},
           sum(reading.quantity){_only(c, bidirectional)} AS {c.of("quantity")},
           sum(reading.cost){_only(c, bidirectional)} AS {c.of("own_cost")},
           count(reading.cost){_only(c, bidirectional)} AS {c.of("costed")},
           sum(reading.quantity){_only(c, bidirectional, "reading.cost IS NULL")}
               AS {c.of("unpriced_quantity")},
           count(*){_only(c, bidirectional, "reading.quality = %(actual)s")}
               AS {c.of("actual_count")},
           count(*){_only(c, bidirectional, "reading.quality = %(estimated)s")}
               AS {c.of("estimated_count")},
           max(reading.quantity){_only(c, bidirectional)} AS {c.of("peak")}"""
        for c in channels
    )
    figures = ",\n".join(
        f"""COALESCE(totals.{c.of("quantity")}, 0) AS {c.of("quantity")},
           CASE WHEN totals.{c.of("readings")} = 0 THEN 0
                WHEN totals.{c.of("costed")} = totals.{c.of("readings")}
                THEN totals.{c.of("own_cost")}
                WHEN (%({_PRICES[c.direction]})b::bigint[])[totals.i] >= 0
                THEN COALESCE(totals.{c.of("own_cost")}, 0)
                     + totals.{c.of("unpriced_quantity")}
                       * (%({_PRICES[c.direction]})b::bigint[])[totals.i] * 0.000001
           END AS {c.of("cost")},
           totals.{c.of("actual_count")}, totals.{c.of("estimated_count")},
           COALESCE(totals.{c.of("peak")}, 0) AS {c.of("peak_quantity")}"""
        for c in channels
    )
    received = "" if bidirectional else f", {_absent(RECEIVED_CHANNEL)}"
    return f"""
totals AS (
    SELECT width_bucket(reading.start, %(bounds)b::timestamptz[]) AS i,
           {totals}
    FROM usage_reading AS reading
    WHERE reading.meter_id = %(meter_id)s AND reading.direction = ANY(%(directions)s)
      AND reading.start >= %(lo)s AND reading.start < %(hi)s
    GROUP BY 1
),
fresh AS (
    SELECT {_BUCKET_COLUMNS}, {figures}{received}
    FROM totals
)"""  # noqa: S608 (constant SQL; values are bound)


def _from_priced_readings(bidirectional: bool) -> str:
    """The finest level of a meter whose readings are longer than an hour (DAY for daily
    meters): a bucket spans several local hours, so each reading is priced by the price of its
    own local hour, looked up in ``prices`` / ``export_prices`` indexed by ``hour_bounds``."""
    channels = _kept(bidirectional)
    totals = ",\n".join(
        f"""count(*){_only(c, bidirectional)} AS {c.of("readings")},
           COALESCE(sum(reading.quantity){_only(c, bidirectional)}, 0) AS {c.of("quantity")},
           count(reading.cost){_only(c, bidirectional)} AS {c.of("costed")},
           sum(reading.cost){_only(c, bidirectional)} AS {c.of("cost")},
           count(*){_only(c, bidirectional, "reading.quality = %(actual)s")}
               AS {c.of("actual_count")},
           count(*){_only(c, bidirectional, "reading.quality = %(estimated)s")}
               AS {c.of("estimated_count")},
           COALESCE(max(reading.quantity){_only(c, bidirectional)}, 0)
               AS {c.of("peak_quantity")}"""
        for c in channels
    )
    figures = ",\n".join(
        f"""totals.{c.of("quantity")},
           CASE WHEN totals.{c.of("readings")} = 0 THEN 0
                WHEN totals.{c.of("costed")} = totals.{c.of("readings")}
                THEN totals.{c.of("cost")}
           END AS {c.of("cost")},
           totals.{c.of("actual_count")}, totals.{c.of("estimated_count")},
           totals.{c.of("peak_quantity")}"""
        for c in channels
    )
    received = "" if bidirectional else f", {_absent(RECEIVED_CHANNEL)}"
    return f"""
priced AS (
    SELECT width_bucket(reading.start, %(bounds)b::timestamptz[]) AS i, reading.direction,
           reading.quantity, reading.quality,
           COALESCE(reading.cost, reading.quantity * NULLIF(
               (CASE WHEN reading.direction = {int(Direction.RECEIVED)}
                     THEN %(export_prices)b::bigint[] ELSE %(prices)b::bigint[] END)
               [width_bucket(reading.start, %(hour_bounds)b::timestamptz[])], {NO_PRICE}
           ) * 0.000001) AS cost
    FROM usage_reading AS reading
    WHERE reading.meter_id = %(meter_id)s AND reading.direction = ANY(%(directions)s)
      AND reading.start >= %(lo)s AND reading.start < %(hi)s
),
totals AS (
    SELECT reading.i, {totals}
    FROM priced AS reading
    GROUP BY reading.i
),
fresh AS (
    SELECT {_BUCKET_COLUMNS}, {figures}{received}
    FROM totals
)"""  # noqa: S608 (composed of constant SQL; values are bound)


def _from_rollups() -> str:
    """A bucket from the finer rollups it is made of (a day of hours, a week or month of
    days): exact, since every figure is a sum, a count or a maximum."""
    sums = ",\n".join(
        f"""sum(finer.{c.of("quantity")}) AS {c.of("quantity")},
           CASE WHEN count(finer.{c.of("cost")}) = count(*) THEN sum(finer.{c.of("cost")}) END
               AS {c.of("cost")},
           sum(finer.{c.of("actual_count")}) AS {c.of("actual_count")},
           sum(finer.{c.of("estimated_count")}) AS {c.of("estimated_count")},
           max(finer.{c.of("peak_quantity")}) AS {c.of("peak_quantity")}"""
        for c in (DELIVERED_CHANNEL, RECEIVED_CHANNEL)
    )
    figures = ", ".join(f"totals.{column}" for column in _FIGURES)
    return f"""
totals AS (
    SELECT width_bucket(finer.start, %(bounds)b::timestamptz[]) AS i, {sums}
    FROM usage_rollup AS finer
    WHERE finer.meter_id = %(meter_id)s AND finer.granularity = %(source)s
      AND finer.start >= %(lo)s AND finer.start < %(hi)s
    GROUP BY 1
),
fresh AS (
    SELECT {_BUCKET_COLUMNS}, {figures}
    FROM totals
)"""  # noqa: S608 (composed of constant SQL; values are bound)


#: The figures a statement computes per bucket besides its bounds: both channels'.
_FIGURES = (*DELIVERED_CHANNEL.columns, *RECEIVED_CHANNEL.columns)
_WRITTEN = ("start", *ROLLUP_FIGURES)
_INSERT_FRESH = f"""
    INSERT INTO usage_rollup AS rollup (
        meter_id, granularity, {", ".join(f'"{c}"' for c in _WRITTEN)}, computed_at
    )
    SELECT %(meter_id)s, %(granularity)s, {", ".join(f'"{c}"' for c in _WRITTEN)}, %(now)s
    FROM fresh"""  # noqa: S608 (constant SQL)


def _insert_statement(fresh: str) -> str:
    """Inserts the ``fresh`` rows: for a meter with no rollups in the range (a first rollup,
    a rebuild from empty), where checking each row for a conflict would double the write."""
    return f"WITH {fresh}{_INSERT_FRESH}"


def _refresh_statement(fresh: str) -> str:
    """Upserts the ``fresh`` rows as the rollups of their buckets (only rows whose figures
    changed) and deletes the rows of buckets in the range that no longer hold any reading, in
    one statement."""
    figures = [f'"{c}"' for c in ROLLUP_FIGURES]
    updates = ",\n        ".join(f"{c} = EXCLUDED.{c}" for c in figures)
    return f"""
WITH {fresh},
upserted AS ({_INSERT_FRESH}
    ON CONFLICT (meter_id, granularity, start) DO UPDATE SET
        {updates},
        computed_at = EXCLUDED.computed_at
    WHERE ({", ".join(f"rollup.{c}" for c in figures)})
          IS DISTINCT FROM
          ({", ".join(f"EXCLUDED.{c}" for c in figures)})
)
DELETE FROM usage_rollup AS stale
WHERE stale.meter_id = %(meter_id)s
  AND stale.granularity = %(granularity)s
  AND stale.start >= %(lo)s AND stale.start < %(hi)s
  AND stale.start NOT IN (SELECT start FROM fresh)
"""  # noqa: S608 (composed of constant SQL; values are bound)


#: The statement for (fresh rows from, bidirectional, rollups exist in the range).
_STATEMENTS = {
    (source, bidirectional, upsert): (_refresh_statement if upsert else _insert_statement)(fresh)
    for bidirectional in (True, False)
    for source, fresh in (
        ("hours", _hours_from_readings(bidirectional)),
        ("readings", _from_priced_readings(bidirectional)),
        ("rollups", _from_rollups()),
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
    """The granularities kept for ``meter``: those a single reading of it fits into; for a
    billing-read meter only BILLING_PERIOD, whose rows are its read periods."""
    if meter.billing_read:
        return [Granularity.BILLING_PERIOD]
    return [
        g for g in ROLLUP_GRANULARITIES if meter.interval_seconds <= _LONGEST_INTERVAL_SECONDS[g]
    ]


def expected_counts(bounds: np.ndarray, interval_seconds: int) -> np.ndarray:
    """Intervals each bucket's real duration holds, x 10^4 (4 decimals; whole for whole
    intervals), rounded half to even, for buckets between ``bounds`` (epoch seconds)."""
    quotient, remainder = np.divmod(np.diff(bounds) * 10_000, interval_seconds)
    half = 2 * remainder - interval_seconds
    return quotient + ((half > 0) | ((half == 0) & (quotient % 2 == 1)))


def _lock_meters(meters: Iterable[Meter]) -> None:
    """Serialises refreshes of each of ``meters`` until the transaction ends (PostgreSQL): one
    statement, the locks taken in key order, so two batches of overlapping meters queue instead
    of deadlocking."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT pg_advisory_xact_lock(%s, keys.key)
                FROM (SELECT DISTINCT hashtext(id) AS key FROM unnest(%s::text[]) AS id
                      ORDER BY 1) AS keys
                """,
                [ROLLUP_LOCK_CLASS, [str(meter.pk) for meter in meters]],
            )


@dataclass(frozen=True)
class _Prices:
    """How a refresh prices each direction of the meter it refreshes."""

    delivered: PriceSchedule
    received: PriceSchedule

    @classmethod
    def of(cls, meter: Meter) -> _Prices:
        return cls(price_schedule(meter), price_schedule(meter, Direction.RECEIVED))

    def arrays(self, hours: np.ndarray) -> dict[str, Int64Array]:
        """The price of each of ``hours`` for both directions, as the statements take them."""
        return {
            "prices": Int64Array(self.delivered.hour_prices(hours)),
            "export_prices": Int64Array(self.received.hour_prices(hours)),
        }


def _refresh_sql(
    meter: Meter,
    granularity: Granularity,
    bounds: np.ndarray,
    now: datetime,
    finer: Granularity | None,
    prices: _Prices,
    *,
    upsert: bool,
) -> None:
    """One statement: from the ``finer`` rollups when given (already fresh for this range),
    else from the readings; ``upsert`` unless the meter has no rollups in the range."""
    lo, hi = (datetime.fromtimestamp(int(edge), UTC) for edge in (bounds[0], bounds[-1]))
    params = {
        "meter_id": meter.pk,
        "directions": [int(d) for d in channels(meter)],
        "granularity": granularity.name,
        # Bound server-side in binary: 9,000 timestamps travel once, not quoted in Python and
        # parsed by PostgreSQL per use.
        "bounds": TimestampArray(bounds),
        "expected": Int64Array(expected_counts(bounds, meter.interval_seconds)),
        "lo": lo,
        "hi": hi,
        "now": now,
        "actual": Quality.ACTUAL,
        "estimated": Quality.ESTIMATED,
        "source": finer.name if finer else None,
    }
    if finer is not None:
        source = "rollups"
    elif granularity is Granularity.HOUR:
        source = "hours"
        params.update(prices.arrays(bounds))
    else:
        source = "readings"
        hours = hour_bounds(meter, lo, hi)
        params["hour_bounds"] = TimestampArray(hours)
        params.update(prices.arrays(hours))
    statement = _STATEMENTS[source, meter.bidirectional, upsert]
    with binary_cursor() as cursor:
        cursor.execute(statement, params)


@dataclass
class _Totals:
    """One direction's figures of one bucket, summed in Python (nothing seen: all zero)."""

    quantity: Decimal = Decimal(0)
    cost: Decimal | None = Decimal(0)
    actual_count: int = 0
    estimated_count: int = 0
    peak_quantity: Decimal = Decimal(0)

    def add(self, quantity: Decimal, cost: Decimal | None, quality: str) -> None:
        self.quantity += quantity
        self.cost = None if cost is None or self.cost is None else self.cost + cost
        if quality == Quality.ACTUAL:
            self.actual_count += 1
        else:
            self.estimated_count += 1
        self.peak_quantity = max(self.peak_quantity, quantity)

    def figures(self, channel: Channel) -> dict[str, Any]:
        return dict(
            zip(
                channel.columns,
                (
                    self.quantity,
                    self.cost,
                    self.actual_count,
                    self.estimated_count,
                    self.peak_quantity,
                ),
                strict=True,
            )
        )


@dataclass
class _Bucket:
    start: datetime
    end: datetime
    expected_count: Decimal
    delivered: _Totals = field(default_factory=_Totals)
    received: _Totals = field(default_factory=_Totals)

    def row(self, meter: Meter, granularity: Granularity, now: datetime) -> Rollup:
        return Rollup(
            meter=meter,
            granularity=granularity.name,
            start=self.start,
            end=self.end,
            expected_count=self.expected_count,
            computed_at=now,
            **self.delivered.figures(DELIVERED_CHANNEL),
            **self.received.figures(RECEIVED_CHANNEL),
        )


def _buckets_python(meter: Meter, bounds: np.ndarray, prices: _Prices) -> dict[datetime, _Bucket]:
    """The buckets of ``bounds`` (epoch seconds) holding readings, summed in Python (SQLite)."""
    expected = [
        Decimal(e).scaleb(-4) for e in expected_counts(bounds, meter.interval_seconds).tolist()
    ]
    edges = [datetime.fromtimestamp(edge, UTC) for edge in bounds.tolist()]
    buckets: dict[datetime, _Bucket] = {}
    for reading in priced_readings(meter=meter, lo=edges[0], hi=edges[-1]):
        i = bisect_right(edges, reading.start) - 1
        bucket = buckets.setdefault(edges[i], _Bucket(edges[i], edges[i + 1], expected[i]))
        totals = bucket.received if reading.direction == Direction.RECEIVED else bucket.delivered
        totals.add(reading.quantity, reading.cost, reading.quality)
    return buckets


def _read_periods(meter: Meter, lo: datetime, hi: datetime) -> dict[datetime, _Bucket]:
    """A billing-read meter's BILLING_PERIOD buckets: its read periods starting in ``[lo, hi)``."""
    buckets: dict[datetime, _Bucket] = {}
    for reading in priced_readings(meter=meter, lo=lo, hi=hi):
        bucket = buckets.setdefault(reading.start, _Bucket(reading.start, reading.end, Decimal(1)))
        totals = bucket.received if reading.direction == Direction.RECEIVED else bucket.delivered
        totals.add(reading.quantity, reading.cost, reading.quality)
    return buckets


def _write_python(
    meter: Meter,
    granularity: Granularity,
    lo: datetime,
    hi: datetime,
    buckets: dict[datetime, _Bucket],
    now: datetime,
) -> None:
    """Makes ``meter``'s ``granularity`` rollups starting in ``[lo, hi)`` those of ``buckets``:
    rows whose figures changed are upserted, rows of buckets no longer holding readings go."""
    fresh = {start: bucket.row(meter, granularity, now) for start, bucket in buckets.items()}
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
    stale = [start for start in existing if start not in fresh]
    for i in range(0, len(stale), 500):
        Rollup.objects.filter(
            meter=meter, granularity=granularity.name, start__in=stale[i : i + 500]
        ).delete()


def rollup_basis(meter: Meter, prices: _Prices) -> str:
    """A digest of what ``meter``'s rollups are computed from besides its readings: its time
    zone, read resolution, interval, directions, billing cycle day and its price schedules;
    and the version of the DAY items stored with them (a new one renders them again)."""
    basis = (
        ITEMS_VERSION,
        meter.timezone,
        meter.read_resolution,
        meter.interval_seconds,
        meter.bidirectional,
        meter.account.billing_cycle_day,
        prices.delivered.basis(),
        prices.received.basis(),
    )
    return hashlib.sha256(repr(basis).encode()).hexdigest()


def _refresh(
    meter: Meter, start: datetime, end: datetime, *, repair: bool, prices: _Prices
) -> None:
    in_sql = connection.vendor == "postgresql"
    now = timezone.now()
    kept = rollup_granularities(meter)
    # Rows of granularities the meter no longer has (its interval grew) are stale; a meter
    # keeping them all has none (the query reads every rollup of the meter in the range).
    if len(kept) < len(ROLLUP_GRANULARITIES):
        Rollup.objects.filter(meter=meter, start__lt=end, end__gt=start).exclude(
            granularity__in=[g.name for g in kept]
        ).delete()
    if meter.billing_read:
        buckets = _read_periods(meter, start, end)
        _write_python(meter, Granularity.BILLING_PERIOD, start, end, buckets, now)
        _render_days(meter, start, end)
        return
    edges = [meter_bucket_range(meter, granularity, start, end) for granularity in kept]
    hull = (min(lo for lo, _ in edges), max(hi for _, hi in edges))
    # Every bucket refreshed below lies in the hull: with no rollup there yet, each row is new.
    upsert = Rollup.objects.filter(meter=meter, start__lt=hull[1], end__gt=hull[0]).exists()
    for granularity in kept:
        finer = _MADE_OF.get(granularity)
        finer = finer if finer in kept else None
        lo, hi = hull if repair and granularity in _MADE_OF.values() else (start, end)
        bounds = bucket_bound_epochs(
            timezone=meter.timezone,
            granularity=granularity,
            billing_cycle_day=meter.account.billing_cycle_day,
            start=lo,
            end=hi,
        )
        for i in range(0, len(bounds) - 1, CHUNK_BUCKETS):
            chunk = bounds[i : i + CHUNK_BUCKETS + 1]
            if in_sql:
                _refresh_sql(meter, granularity, chunk, now, finer, prices, upsert=upsert)
            else:
                buckets = _buckets_python(meter, chunk, prices)
                first, last = (datetime.fromtimestamp(int(e), UTC) for e in (chunk[0], chunk[-1]))
                _write_python(meter, granularity, first, last, buckets, now)
    _render_days(meter, *hull)


def _render_days(meter: Meter, start: datetime, end: datetime) -> None:
    """Stores the Usage page items of ``meter``'s DAY rollups that start in ``[start, end)``
    (:class:`~usage.models.RenderedDay`), rendered by the read path's own code, or of all its
    DAY rollups when the basis its items were rendered under changed; none for a meter that
    keeps no DAY rollups."""
    items = RenderedDay.objects.filter(meter=meter)
    if Granularity.DAY not in rollup_granularities(meter):
        items.delete()
        return
    currency = (
        Account.objects.filter(pk=meter.account_id)
        .values_list("customer__billing_currency", flat=True)
        .get()
    )
    basis = day_items_basis(meter, currency)
    if RollupRevision.objects.filter(meter=meter, items_basis=basis).exists():
        items = items.filter(start__gte=start, start__lt=end)
    else:
        start, end = SUPPORTED_START, SUPPORTED_END
        RollupRevision.objects.update_or_create(meter=meter, defaults={"items_basis": basis})
    page = SeriesPage(
        meter=meter,
        granularity=Granularity.DAY,
        start=start,
        end=end,
        after=None,
        limit=_ALL_DAYS,
        direction=FlowDirection.NET,
    )
    columns = usage_series_columns(page, currency=currency)
    items.delete()
    rendered = [item_json(item) for item in series_items(columns, meter=meter)]
    if connection.vendor != "postgresql":
        RenderedDay.objects.bulk_create(
            RenderedDay(meter=meter, start=datetime.fromtimestamp(epoch, UTC), item=item)
            for epoch, item in zip(columns.starts, rendered, strict=True)
        )
    elif rendered:
        with binary_cursor() as cursor:
            cursor.execute(
                _INSERT_ITEMS,
                {"meter_id": meter.pk, "starts": TimestampArray(columns.starts), "items": rendered},
            )


#: :func:`_render_days`'s write on PostgreSQL: one statement, the arrays bound in binary
#: (Django's ``bulk_create`` quoted every item into the statement's text).
_INSERT_ITEMS = f"""
    INSERT INTO {RenderedDay._meta.db_table} (meter_id, start, item)
    SELECT %(meter_id)s, day.start, day.item
    FROM unnest(%(starts)b::timestamptz[], %(items)b::text[]) AS day (start, item)"""  # noqa: S608


#: More DAY buckets than the supported dates hold.
_ALL_DAYS = 200_000


def rollups_refresh(*, meter: Meter, start: datetime, end: datetime, repair: bool = False) -> None:
    """Recomputes ``meter``'s rollups for every bucket touching ``[start, end)``.

    Coarser rollups are summed from the finer ones refreshed just before them. A catch-up
    trusts the finer rows outside its range: they are fresh, or a dirty range of their own
    will refresh them (and the coarser buckets holding them) in turn; so one new day refreshes
    that day's hours and day, and the week, month and billing period holding it. ``repair``
    trusts nothing: the levels others are made of (HOUR, DAY) are refreshed over the hull of
    every bucket the range touches, so a week or billing period never sums a wrong day.

    Clears the dirty ranges this covers, so the periodic sweep does not redo them, and counts
    one more :class:`~usage.models.RollupRevision` of the meter.
    """
    _refresh_locked([_Job(meter, start, end, _Prices.of(meter))], repair=repair)


@dataclass(frozen=True)
class _Job:
    """One meter's range to refresh, with its prices looked up."""

    meter: Meter
    start: datetime
    end: datetime
    prices: _Prices


def _refresh_locked(jobs: list[_Job], *, repair: bool) -> None:
    """:func:`rollups_refresh` of each job (one meter each), in one transaction: the locks,
    dirty ranges and revisions of all of them in a few statements, not a few per meter."""
    if not jobs:
        return
    meter_ids = [job.meter.pk for job in jobs]
    with transaction.atomic():
        _lock_meters(job.meter for job in jobs)
        within = Q()
        for job in jobs:
            within |= Q(meter=job.meter, start__gte=job.start, end__lte=job.end)
        covered = list(RollupDirtyRange.objects.filter(within).values_list("pk", "meter_id"))
        for job in jobs:
            _refresh(job.meter, job.start, job.end, repair=repair, prices=job.prices)
        RollupRevision.objects.bulk_create(
            [RollupRevision(meter_id=meter_id) for meter_id in meter_ids], ignore_conflicts=True
        )
        RollupRevision.objects.filter(meter_id__in=meter_ids).update(revision=F("revision") + 1)
        RollupDirtyRange.objects.filter(pk__in=[pk for pk, _ in covered]).delete()
        caught_up = {meter_id for _, meter_id in covered}
        for job in jobs:  # new readings are now in the rollups: tell who is built on usage
            if job.meter.pk in caught_up:
                hooks_run(
                    settings.ROLLUP_CAUGHT_UP_HOOKS, meter=job.meter, start=job.start, end=job.end
                )


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
    return rollups_rebuild_many([(meter, since)], skip_unchanged=skip_unchanged) > 0


#: Meters :func:`rollups_rebuild_many` rebuilds in one transaction (their locks held until it
#: commits): the bookkeeping is a few statements per batch instead of a few per meter.
REBUILD_BATCH = 30


def rollups_rebuild_many(
    rebuilds: Iterable[tuple[Meter, datetime | None]], *, skip_unchanged: bool = False
) -> int:
    """:func:`rollups_rebuild` of each ``(meter, since)``, :data:`REBUILD_BATCH` meters per
    transaction; returns how many meters were rebuilt. The meters need their account and
    pricing (:data:`usage.pricing.PRICING_PREFETCH`) loaded, else each costs a few queries."""
    rebuilds = iter(rebuilds)
    rebuilt = 0
    while batch := list(islice(rebuilds, REBUILD_BATCH)):
        rebuilt += _rebuild_batch(batch, skip_unchanged=skip_unchanged)
    return rebuilt


def _rebuild_batch(batch: list[tuple[Meter, datetime | None]], *, skip_unchanged: bool) -> int:
    """One transaction of :func:`rollups_rebuild_many`: which meters to skip, their spans and
    their rebuild states in one query each (the spans one per distinct ``since``)."""
    prices = {meter.pk: _Prices.of(meter) for meter, _ in batch}
    bases = {meter.pk: rollup_basis(meter, prices[meter.pk]) for meter, _ in batch}
    if skip_unchanged:
        full = [meter.pk for meter, since in batch if since is None]
        current = set(RollupState.objects.filter(meter__in=full).values_list("meter_id", "basis"))
        dirty = set(
            RollupDirtyRange.objects.filter(meter__in=full).values_list("meter_id", flat=True)
        )
        batch = [
            (meter, since)
            for meter, since in batch
            if since is not None or (meter.pk, bases[meter.pk]) not in current or meter.pk in dirty
        ]
    spans: dict[Any, tuple[datetime, datetime]] = {}
    for since in {since for _, since in batch}:
        ids = [meter.pk for meter, start in batch if start == since]
        spans.update(rollups_spans(meter_ids=ids, since=since))
    jobs = [
        _Job(meter, *spans[meter.pk], prices[meter.pk]) for meter, _ in batch if meter.pk in spans
    ]
    now = timezone.now()
    with transaction.atomic():
        _refresh_locked(jobs, repair=True)
        RollupState.objects.bulk_create(
            [
                RollupState(meter=meter, basis=bases[meter.pk], rebuilt_at=now)
                for meter, since in batch
                if since is None
            ],
            update_conflicts=True,
            unique_fields=["meter"],
            update_fields=["basis", "rebuilt_at"],
        )
    return len(jobs)


def rollups_spans(
    *, meter_ids: Iterable[Any], since: datetime | None = None
) -> dict[Any, tuple[datetime, datetime]]:
    """Each meter's span of readings and rollups (from ``since``): ``[first start, last end)``.

    Meters with neither are left out. Rollups count too, so a recompute over the span also
    deletes the rollups of readings that have since gone.
    """
    readings = Reading.objects.filter(meter=OuterRef("pk"))
    rollups = Rollup.objects.filter(meter_id__in=meter_ids)
    if since is not None:
        readings = readings.filter(start__gte=since)
        rollups = rollups.filter(end__gt=since)
    spans: dict[Any, tuple[datetime, datetime]] = {}

    def widen(meter_id: Any, lo: datetime, hi: datetime) -> None:
        known = spans.get(meter_id, (lo, hi))
        spans[meter_id] = (min(known[0], lo), max(known[1], hi))

    # Each direction's first and last reading, each found by the (meter, direction, start)
    # index (aggregating min and max over every reading of a meter-year took 45-85 ms).
    edges = {}
    for direction in Direction:
        ordered = readings.filter(direction=direction).order_by
        edges[f"lo_{direction}"] = Subquery(ordered("start").values("start")[:1])
        edges[f"last_{direction}"] = Subquery(ordered("-start").values("start")[:1])
        edges[f"last_end_{direction}"] = Subquery(ordered("-start").values("end")[:1])
    for meter in Meter.objects.filter(pk__in=meter_ids).only("interval_seconds").annotate(**edges):
        for direction in Direction:
            lo, last, last_end = (
                getattr(meter, f"{edge}_{direction}") for edge in ("lo", "last", "last_end")
            )
            if lo is not None:  # the last reading ends an interval on, a read period where it says
                widen(meter.pk, lo, reading_end(meter, last, last_end))
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
