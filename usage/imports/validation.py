"""What a reading must be to be stored, and how a rejected file is reported.

Readings travel in ``Batch``es of numpy columns (instants in microseconds, quantities and
costs in millionths), so the checks run per column, not per row. A rejection names the first
few bad lines (the header is line 1) and counts the rest.

A reading has a direction (DELIVERED, or RECEIVED on a bidirectional meter) and covers
``[start, end)``: on an interval meter exactly its ``interval_seconds`` on the meter's local
grid, on a billing-read meter any read period (contract section 10).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import numpy as np
import pandas as pd

from customers.models import Meter
from usage.models import Direction, Quality

#: Bad rows quoted in a rejection message; the rest are counted.
ERRORS_SHOWN = 5
#: Readings per batch: bounds memory (flat in the file's size) and sizes each COPY.
BATCH_ROWS = 100_000
#: Readings before this are typos, not data.
EARLIEST_START = datetime(1990, 1, 1, tzinfo=UTC)
#: Readings this far past "now" are typos (or a clock gone wrong), not data.
FUTURE_SLACK = timedelta(days=7)
#: Quantities and costs are kept in millionths (Reading.quantity / cost: numeric(18, 6)).
MICRO = 1_000_000
#: Magnitude they hold: below 10^12 units.
LIMIT_MICRO = 10**18
#: The qualities a reading can have (a frozenset: Choices.values rebuilds a list per call).
QUALITIES = frozenset(Quality.values)
#: Values quoted in messages are cut to this many characters.
SHOWN_CHARS = 40


class ReadingsImportError(Exception):
    """The file (or the command's arguments) cannot be imported; the message is one line."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str


class ReadingsRejected(ReadingsImportError):
    """Bad rows: nothing of the file was written."""

    def __init__(self, *, source: str, errors: list[RowError], total: int) -> None:
        self.errors = errors
        self.total = total
        shown = "; ".join(f"line {e.line}: {e.message}" for e in errors)
        more = f"; and {total - len(errors)} more" if total > len(errors) else ""
        noun = "error" if total == 1 else "errors"
        super().__init__(f"{source}: rejected, nothing imported ({total} {noun}): {shown}{more}")


@dataclass(frozen=True)
class ImportResult:
    rows: int
    changed: int
    meters: int
    start: datetime | None
    end: datetime | None


@dataclass
class Errors:
    """The bad rows with the lowest line numbers (at most ERRORS_SHOWN) and how many in all."""

    first: list[RowError] = field(default_factory=list)
    total: int = 0

    def add(self, line: int, message: str) -> None:
        self.count(1)
        self.keep(line, message)

    def count(self, rows: int) -> None:
        self.total += rows

    def wants(self, line: int) -> bool:
        """Whether a bad row on ``line`` would be shown (its message is worth rendering)."""
        return len(self.first) < ERRORS_SHOWN or line < self.first[-1].line

    def keep(self, line: int, message: str) -> None:
        if self.wants(line):
            bisect.insort(self.first, RowError(line, message), key=lambda e: e.line)
            del self.first[ERRORS_SHOWN:]

    def rejection(self, source: str, other: Errors) -> ReadingsRejected:
        """Both lists' errors as one rejection, the earliest lines first."""
        first = sorted(self.first + other.first, key=lambda e: e.line)[:ERRORS_SHOWN]
        return ReadingsRejected(source=source, errors=first, total=self.total + other.total)


def fatal(source: str, line: int, message: str) -> ReadingsRejected:
    return ReadingsRejected(source=source, errors=[RowError(line, message)], total=1)


def clip(text: object) -> str:
    """``text`` for a message, cut short when long (a huge field never fills a log)."""
    text = str(text)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."


def shown(text: str) -> str:
    """``text`` quoted for a message, cut short when long."""
    return repr(clip(text))


@dataclass
class Batch:
    """Good readings in line order, as columns; ``meter`` indexes the import's meter list.

    ``end`` is what the file gave (where ``has_end``); once checked (``keep_valid``) it is every
    reading's end, start + interval on an interval meter.
    """

    line: np.ndarray  # int64
    meter: np.ndarray  # int32
    start: np.ndarray  # int64, microseconds since 1970-01-01 UTC
    end: np.ndarray  # int64, microseconds since 1970-01-01 UTC (0 where has_end is False)
    has_end: np.ndarray  # bool
    direction: np.ndarray  # int16: a Direction (ESPI flowDirection code)
    quantity: np.ndarray  # int64 millionths
    cost: np.ndarray  # int64 millionths (0 where has_cost is False)
    has_cost: np.ndarray  # bool
    estimated: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.line)

    def take(self, rows: np.ndarray) -> Batch:
        return Batch(*(getattr(self, name)[rows] for name in self.__dataclass_fields__))


def instant(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))


def micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


# Why a reading cannot be stored, in the order the checks apply (the first that fails counts).
_OUT_OF_RANGE, _ONE_WAY, _NO_END, _NOT_AFTER, _END_OUT_OF_RANGE, _LENGTH, _OFF_GRID = range(1, 8)


def keep_valid(batch: Batch, *, meters: Sequence[Meter], latest: datetime, errors: Errors) -> Batch:
    """``batch`` without the readings its meters cannot take; those become errors.

    A reading starts in 1990..``latest``; it is RECEIVED only on a bidirectional meter. On an
    interval meter it lasts the meter's interval (when the file gives its end or duration) and
    starts on the meter's grid (the interval counted in local time); on a billing-read meter it
    has an end after its start and no later than ``latest``. Every kept reading gets its end.
    """
    start, end = batch.start, batch.end.copy()
    problem = np.zeros(len(batch), dtype=np.int8)

    def flag(rows: np.ndarray, code: int) -> None:
        problem[rows & (problem == 0)] = code

    # Each row's meter's properties, so the checks run per column whatever the meter count.
    zones: dict[str, int] = {}
    zone = np.array([zones.setdefault(m.timezone, len(zones)) for m in meters], np.int32)
    billing = np.array([m.billing_read for m in meters], bool)[batch.meter]
    one_way = ~np.array([m.bidirectional for m in meters], bool)[batch.meter]
    interval = np.array([m.interval_seconds or 0 for m in meters], np.int64)[batch.meter] * MICRO
    flag((start < micros(EARLIEST_START)) | (start > micros(latest)), _OUT_OF_RANGE)
    flag(one_way & (batch.direction == Direction.RECEIVED), _ONE_WAY)
    flag(billing & ~batch.has_end, _NO_END)
    flag(billing & (end <= start), _NOT_AFTER)
    flag(billing & (end > micros(latest)), _END_OUT_OF_RANGE)
    flag(~billing & batch.has_end & (end - start != interval), _LENGTH)
    end = np.where(billing, end, start + interval)
    on_grid = ~billing & (problem == 0)
    row_zone = zone[batch.meter]
    for name, code in zones.items():
        rows = on_grid & (row_zone == code)
        if rows.any():
            utc = pd.DatetimeIndex(start[rows].astype("datetime64[us]")).tz_localize("UTC")
            local = utc.tz_convert(name).tz_localize(None).as_unit("us").asi8
            problem[rows] = np.where(local % interval[rows] == 0, 0, _OFF_GRID)
    bad = np.flatnonzero(problem)
    errors.count(len(bad))
    for row in bad:
        line = int(batch.line[row])
        if not errors.wants(line):
            break
        errors.keep(line, _problem(int(problem[row]), batch, row, meters[batch.meter[row]]))
    batch.end = end
    return batch if not len(bad) else batch.take(problem == 0)


def _problem(code: int, batch: Batch, row: int, meter: Meter) -> str:
    start, end = instant(batch.start[row]).isoformat(), instant(batch.end[row]).isoformat()
    number, interval = meter.meter_number, meter.interval_seconds
    if code == _OUT_OF_RANGE:
        return f"start {start} is out of range (1990 to a week from now)"
    if code == _ONE_WAY:
        return f"a RECEIVED reading, but meter {number} is not bidirectional"
    if code == _NO_END:
        return f"meter {number} is read per billing period: the reading needs an end"
    if code == _NOT_AFTER:
        return f"end {end} is not after start {start}"
    if code == _END_OUT_OF_RANGE:
        return f"end {end} is out of range (up to a week from now)"
    if code == _LENGTH:
        seconds = Decimal(int(batch.end[row] - batch.start[row])) / MICRO
        return f"reading lasts {seconds:f} s but meter {number} records every {interval} s"
    return f"start {start} is not on meter {number}'s {interval}-second grid (local time)"


def decimal_problem(value: Decimal, what: str) -> str | None:
    """Why ``value`` cannot be a quantity (what="quantity") or cost, or None."""
    if what == "quantity" and value < 0:
        return f"quantity {clip(value)} is negative"
    if abs(value) * MICRO >= LIMIT_MICRO or value != value.quantize(Decimal(1).scaleb(-6)):
        return f"{what} {clip(value)} has more than 6 decimals or is too large"
    return None


class NewReading(NamedTuple):
    """A reading given one by one (by code, or from an ESPI feed); ``end`` None: not given."""

    start: datetime
    quantity: Decimal
    cost: Decimal | None = None
    quality: str = Quality.ACTUAL
    direction: Direction = Direction.DELIVERED
    end: datetime | None = None


class RowsBuilder:
    """Collects readings given one by one (ESPI feeds, generated readings) into Batches."""

    def __init__(self, *, errors: Errors) -> None:
        self.errors = errors
        self.rows: list[tuple[int, int, int, int, bool, int, int, int, bool, bool]] = []

    def add(self, *, line: int, meter: int, reading: NewReading) -> None:
        start, quantity, cost, quality, direction, end = reading
        problem = decimal_problem(quantity, "quantity")
        if problem is None and cost is not None:
            problem = decimal_problem(cost, "cost")
        if problem is None and quality not in QUALITIES:
            problem = f"quality {shown(quality)} is not ACTUAL or ESTIMATED"
        if problem:
            self.errors.add(line, problem)
            return
        self.rows.append(
            (
                line,
                meter,
                micros(start),
                0 if end is None else micros(end),
                end is not None,
                direction,
                int(quantity * MICRO),
                0 if cost is None else int(cost * MICRO),
                cost is not None,
                quality == Quality.ESTIMATED,
            )
        )

    def full(self) -> bool:
        return len(self.rows) >= BATCH_ROWS

    def take(self) -> Batch:
        """The readings collected so far (then forgets them)."""
        rows, self.rows = self.rows, []
        types = (np.int64, np.int32, np.int64, np.int64, bool, np.int16) + (np.int64,) * 2
        types += (bool, bool)
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(types)
        return Batch(*(np.array(c, dtype=t) for c, t in zip(columns, types, strict=True)))
