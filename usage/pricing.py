"""What an interval costs: its own cost if the utility sent one, else quantity x tariff price.

Contract section 8: a tariff's rates are matched first-listed-first on the interval's *local*
start (ISO weekday and hour in the meter's timezone); the cost is quantity x that price, left
unrounded (money is rounded once, when a total is shown). An interval no rate covers, on a meter
with no tariff, has no cost (None).

Two implementations of the one rule, checked against each other by the tests:

* ``PRICED_READINGS_SQL`` (PostgreSQL): set-based. The tariff is expanded to its 7 x 24 price
  grid once, and readings join it on ``extract(isodow/hour FROM start AT TIME ZONE tz)``, so
  pricing a year of readings is one hash join, not a subquery per row.
* ``price_grid`` + ``interval_cost`` (pure Python): the same grid, for SQLite and for code that
  holds readings in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection

from customers.models import Meter, Tariff
from usage.calendar import zone
from usage.models import Reading

#: (ISO weekday 1-7, local hour 0-23) -> price per unit of the meter's unit_of_measure.
PriceGrid = dict[tuple[int, int], Decimal]

# The tariff's first matching rate for every (ISO weekday, local hour); parameter: tariff_id.
PRICE_GRID_SQL = """
    SELECT DISTINCT ON (d.dow, h.hour) d.dow, h.hour, rate.price
    FROM generate_series(1, 7) AS d (dow)
    CROSS JOIN generate_series(0, 23) AS h (hour)
    JOIN customers_tariffrate AS rate
      ON rate.tariff_id = %(tariff_id)s
     AND rate.weekdays & (1 << (d.dow - 1)) <> 0
     AND h.hour >= rate.from_hour AND h.hour < rate.to_hour
    ORDER BY d.dow, h.hour, rate.position
"""

# One meter's readings in [lo, hi) with the cost each is worth (PostgreSQL).
# Parameters: tariff_id, tz, meter_id, lo, hi. Columns: start, quantity, cost, quality.
PRICED_READINGS_SQL = f"""
    WITH price_grid AS ({PRICE_GRID_SQL})
    SELECT reading.start, reading.quantity,
           COALESCE(reading.cost, reading.quantity * price_grid.price) AS cost,
           reading.quality
    FROM usage_reading AS reading
    LEFT JOIN price_grid
      ON price_grid.dow = extract(isodow FROM reading.start AT TIME ZONE %(tz)s)::int
     AND price_grid.hour = extract(hour FROM reading.start AT TIME ZONE %(tz)s)::int
    WHERE reading.meter_id = %(meter_id)s
      AND reading.start >= %(lo)s AND reading.start < %(hi)s
"""  # noqa: S608 (composed of constant SQL; values are bound)


def price_grid(tariff: Tariff | None) -> PriceGrid:
    """The tariff's price for every local (ISO weekday, hour) some rate covers."""
    if tariff is None:
        return {}
    grid: PriceGrid = {}
    for rate in tariff.rates.order_by("position"):
        for weekday in range(1, 8):
            for hour in range(rate.from_hour, rate.to_hour):
                if rate.applies(weekday, hour):
                    grid.setdefault((weekday, hour), rate.price)
    return grid


def interval_cost(
    *,
    grid: PriceGrid,
    timezone: str,
    start: datetime,
    quantity: Decimal,
    own_cost: Decimal | None,
) -> Decimal | None:
    """Cost of one interval: ``own_cost`` when given, else quantity x the local-time price."""
    if own_cost is not None:
        return own_cost
    local = start.astimezone(zone(timezone))
    price = grid.get((local.isoweekday(), local.hour))
    return None if price is None else quantity * price


@dataclass(frozen=True, slots=True)
class PricedReading:
    start: datetime
    quantity: Decimal
    cost: Decimal | None
    quality: str


def priced_readings(*, meter: Meter, lo: datetime, hi: datetime) -> Iterator[PricedReading]:
    """The meter's readings in ``[lo, hi)`` by start, each with the cost it is worth.

    On PostgreSQL pricing happens in the query; elsewhere in Python with the same grid.
    """
    if connection.vendor == "postgresql":
        params = {
            "tariff_id": meter.tariff_id,
            "tz": meter.timezone,
            "meter_id": meter.pk,
            "lo": lo,
            "hi": hi,
        }
        with connection.cursor() as cursor:
            cursor.execute(PRICED_READINGS_SQL + " ORDER BY reading.start", params)
            for start, quantity, cost, quality in cursor:
                yield PricedReading(start, quantity, cost, quality)
        return
    grid = price_grid(meter.tariff)
    rows = (
        Reading.objects.filter(meter=meter, start__gte=lo, start__lt=hi)
        .order_by("start")
        .values_list("start", "quantity", "cost", "quality")
    )
    for start, quantity, cost, quality in rows.iterator(chunk_size=5000):
        yield PricedReading(
            start,
            quantity,
            interval_cost(
                grid=grid, timezone=meter.timezone, start=start, quantity=quantity, own_cost=cost
            ),
            quality,
        )
