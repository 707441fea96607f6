"""What an interval costs: its own cost if the utility sent one, else quantity x tariff price.

Contract sections 8 and 10: a tariff's rates are matched first-listed-first on the interval's
*local* start (ISO weekday and hour in the meter's timezone), under the tariff *in force* on
that local date (the meter's tariff history, ``customers.models.TariffPeriod``); a RECEIVED
interval earns its quantity x the export tariff's price (with no export tariff, the import
tariff's: net metering). Costs are left unrounded (money is rounded once, when a total is
shown). An interval no rate covers, on a meter with no tariff, has no cost (None).

The rule lives here once, in :class:`PriceSchedule`: for any instant, which price applies.
Code that prices in SQL asks it for the price of every local hour of a range
(:meth:`PriceSchedule.hour_prices`) and looks readings up in that array by
``width_bucket(start, hour_bounds)``, so the database never re-implements the matching.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import attrgetter

import numpy as np
from django.db import connection

from customers.models import Meter, Tariff
from metadata.catalog import Granularity
from usage.calendar import bucket_bound_epochs, utc_offsets, zone
from usage.models import Direction, Reading
from usage.sqlarrays import Int64Array, TimestampArray, binary_cursor

#: (ISO weekday 1-7, local hour 0-23) -> price per unit of the meter's unit_of_measure.
PriceGrid = dict[tuple[int, int], Decimal]
#: An hour no rate prices, in the integer price arrays handed to SQL.
NO_PRICE = -1
#: What :func:`price_schedule` reads of a meter, for ``prefetch_related`` where many are priced.
PRICING_PREFETCH = ("tariff__rates", "export_tariff__rates", "tariff_periods__tariff__rates")
_EPOCH_DATE = date(1970, 1, 1)


def price_grid(tariff: Tariff | None) -> PriceGrid:
    """The tariff's price for every local (ISO weekday, hour) some rate covers (its rates
    prefetched or not: :data:`PRICING_PREFETCH`)."""
    if tariff is None:
        return {}
    grid: PriceGrid = {}
    for rate in sorted(tariff.rates.all(), key=attrgetter("position")):
        for weekday in range(1, 8):
            for hour in range(rate.from_hour, rate.to_hour):
                if rate.applies(weekday, hour):
                    grid.setdefault((weekday, hour), rate.price)
    return grid


@dataclass(frozen=True)
class PriceSchedule:
    """The prices of one direction of one meter over time.

    ``grids[i]`` is in force from local date ``changes[i - 1]`` (the first grid also before
    ``changes[0]``, or for all time when there is no change).
    """

    timezone: str
    grids: tuple[PriceGrid, ...]
    changes: tuple[date, ...] = ()

    def grid_on(self, day: date) -> PriceGrid:
        """The grid of the tariff in force on local date ``day``."""
        return self.grids[bisect_right(self.changes, day)]

    def price_at(self, instant: datetime) -> Decimal | None:
        """The price of energy metered from ``instant`` (its local weekday, hour and date)."""
        local = instant.astimezone(zone(self.timezone))
        return self.grid_on(local.date()).get((local.isoweekday(), local.hour))

    def cost(
        self, *, start: datetime, quantity: Decimal, own_cost: Decimal | None
    ) -> Decimal | None:
        """Cost (or credit) of one interval: ``own_cost`` when given, else quantity x price."""
        if own_cost is not None:
            return own_cost
        price = self.price_at(start)
        return None if price is None else quantity * price

    def hour_prices(self, hour_bounds: np.ndarray) -> np.ndarray:
        """Each local hour's price x 10^6 (``NO_PRICE`` for none), for hours ``[b[i], b[i+1])``
        of ``hour_bounds`` (UTC epoch seconds), vectorised.

        ``hour_bounds`` are local hour boundaries (``bucket_bound_epochs`` at HOUR), so one
        price holds for the whole hour: the one of its start's local weekday, hour and date.
        """
        starts = np.asarray(hour_bounds, dtype=np.int64)[:-1]
        local = starts + utc_offsets(starts, self.timezone)
        days = local // 86_400  # local days since Thursday 1970-01-01
        table = np.full((len(self.grids), 8, 24), NO_PRICE, dtype=np.int64)
        for i, grid in enumerate(self.grids):
            for (weekday, hour), price in grid.items():
                table[i, weekday, hour] = int(price.scaleb(6))
        changes = np.array([(day - _EPOCH_DATE).days for day in self.changes], dtype=np.int64)
        in_force = np.searchsorted(changes, days, side="right")
        return table[in_force, (days + 3) % 7 + 1, (local % 86_400) // 3600]

    def basis(self) -> tuple:
        """What this schedule prices by, comparable across runs (for ``rollup_basis``)."""
        return self.changes, tuple(tuple(sorted(grid.items())) for grid in self.grids)


def price_schedule(meter: Meter, direction: Direction = Direction.DELIVERED) -> PriceSchedule:
    """How ``meter``'s energy in ``direction`` is priced: its (export) tariff history, else its
    current (export) tariff for all time; RECEIVED energy falls back to the import tariff."""
    export = direction == Direction.RECEIVED
    periods = [p for p in meter.tariff_periods.all() if p.export == export]
    if export and not periods and meter.export_tariff_id is None:
        return price_schedule(meter, Direction.DELIVERED)
    if not periods:
        tariff = meter.export_tariff if export else meter.tariff
        return PriceSchedule(meter.timezone, (price_grid(tariff),))
    periods.sort(key=lambda p: (p.valid_from is not None, p.valid_from))
    return PriceSchedule(
        meter.timezone,
        tuple(price_grid(p.tariff) for p in periods),
        tuple(p.valid_from for p in periods[1:]),
    )


def hour_bounds(meter: Meter, lo: datetime, hi: datetime) -> np.ndarray:
    """The meter's local hour boundaries covering ``[lo, hi)`` (UTC epoch seconds)."""
    return bucket_bound_epochs(
        timezone=meter.timezone,
        granularity=Granularity.HOUR,
        billing_cycle_day=1,
        start=lo,
        end=hi,
    )


def reading_end(meter: Meter, start: datetime, end: datetime | None) -> datetime:
    """Where a reading ends: its own ``end`` (a read period), else one interval on."""
    return end if end is not None else start + timedelta(seconds=meter.interval_seconds)


def channels(meter: Meter) -> list[Direction]:
    """The directions ``meter``'s readings count in: a meter that is not bidirectional has only
    DELIVERED ones (RECEIVED rows left from before it stopped being one do not count)."""
    if meter.bidirectional:
        return [Direction.DELIVERED, Direction.RECEIVED]
    return [Direction.DELIVERED]


# An interval meter's readings in [lo, hi) by (start, direction), each priced by looking its
# local hour up in the schedules' hour arrays. Columns: start, direction, quantity, cost,
# quality (each ends an interval on).
PRICED_READINGS_SQL = """
    SELECT reading.start, reading.direction, reading.quantity,
           COALESCE(
               reading.cost,
               reading.quantity * NULLIF(
                   (CASE WHEN reading.direction = %(received)s
                         THEN %(export_prices)b::bigint[] ELSE %(prices)b::bigint[] END)
                   [width_bucket(reading.start, %(hour_bounds)b::timestamptz[])], -1
               ) * 0.000001
           ) AS cost,
           reading.quality
    FROM usage_reading AS reading
    WHERE reading.meter_id = %(meter_id)s AND reading.direction = ANY(%(directions)s)
      AND reading.start >= %(lo)s AND reading.start < %(hi)s
    ORDER BY reading.start, reading.direction
"""


@dataclass(frozen=True, slots=True)
class PricedReading:
    start: datetime
    end: datetime
    direction: int
    quantity: Decimal
    cost: Decimal | None
    quality: str


def priced_readings(
    *, meter: Meter, lo: datetime, hi: datetime, direction: Direction | None = None
) -> Iterator[PricedReading]:
    """The meter's readings (of ``direction``, else both) in ``[lo, hi)`` by start, then
    direction, each with the cost (for RECEIVED: the credit) it is worth.

    On PostgreSQL pricing happens in the query; elsewhere in Python with the same schedules.
    """
    directions = [d for d in channels(meter) if direction in (None, d)]
    if not directions:
        return
    schedules = {d: price_schedule(meter, d) for d in channels(meter)}
    if connection.vendor == "postgresql" and not meter.billing_read:
        yield from _priced_in_sql(meter, lo, hi, directions, schedules)
        return
    rows = (
        Reading.objects.filter(meter=meter, direction__in=directions, start__gte=lo, start__lt=hi)
        .order_by("start", "direction")
        .values_list("start", "end", "direction", "quantity", "cost", "quality")
    )
    for start, end, way, quantity, cost, quality in rows.iterator(chunk_size=5000):
        yield PricedReading(
            start,
            reading_end(meter, start, end),
            way,
            quantity,
            schedules[way].cost(start=start, quantity=quantity, own_cost=cost),
            quality,
        )


def _priced_in_sql(
    meter: Meter,
    lo: datetime,
    hi: datetime,
    directions: list[Direction],
    schedules: dict[Direction, PriceSchedule],
) -> Iterator[PricedReading]:
    bounds = hour_bounds(meter, lo, hi)
    prices = schedules[Direction.DELIVERED].hour_prices(bounds)
    params = {
        "received": Direction.RECEIVED,
        "prices": Int64Array(prices),
        "export_prices": Int64Array(
            schedules[Direction.RECEIVED].hour_prices(bounds)
            if Direction.RECEIVED in schedules
            else prices
        ),
        "hour_bounds": TimestampArray(bounds),
        "meter_id": meter.pk,
        "directions": [int(d) for d in directions],
        "lo": lo,
        "hi": hi,
    }
    interval = timedelta(seconds=meter.interval_seconds)
    with binary_cursor() as cursor:
        cursor.execute(PRICED_READINGS_SQL, params)
        for start, way, quantity, cost, quality in cursor:
            yield PricedReading(start, start + interval, way, quantity, cost, quality)
