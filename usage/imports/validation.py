"""What a reading must be to be stored, and how a rejected file is reported.

Readings travel in ``Batch``es of numpy columns (instants in microseconds, quantities and
costs in millionths), so the checks run per column, not per row. A rejection names the first
few bad lines (the header is line 1) and counts the rest.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from customers.models import Meter
from usage.models import Quality

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
    """Good readings in line order, as columns; ``meter`` indexes the import's meter list."""

    line: np.ndarray  # int64
    meter: np.ndarray  # int32
    start: np.ndarray  # int64, microseconds since 1970-01-01 UTC
    quantity: np.ndarray  # int64 millionths
    cost: np.ndarray  # int64 millionths (0 where has_cost is False)
    has_cost: np.ndarray  # bool
    estimated: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.line)

    def take(self, rows: np.ndarray) -> Batch:
        return Batch(
            self.line[rows],
            self.meter[rows],
            self.start[rows],
            self.quantity[rows],
            self.cost[rows],
            self.has_cost[rows],
            self.estimated[rows],
        )


def instant(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))


def micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def keep_timely(
    batch: Batch, *, meters: Sequence[Meter], latest: datetime, errors: Errors
) -> Batch:
    """``batch`` without the readings outside 1990..``latest`` or off their meter's grid
    (the interval counted in the meter's local time); those become errors."""
    start = batch.start
    in_range = (start >= micros(EARLIEST_START)) & (start <= micros(latest))
    on_grid = in_range & (start % MICRO == 0)
    for index in np.unique(batch.meter[on_grid]):
        meter = meters[index]
        rows = on_grid & (batch.meter == index)
        utc = pd.DatetimeIndex(start[rows].astype("datetime64[us]")).tz_localize("UTC")
        local = utc.tz_convert(meter.timezone).tz_localize(None).as_unit("us").asi8
        on_grid[rows] = (local // MICRO) % meter.interval_seconds == 0
    bad = np.flatnonzero(~on_grid)
    errors.count(len(bad))
    for row in bad:
        line = int(batch.line[row])
        if not errors.wants(line):
            break
        moment = instant(start[row]).isoformat()
        meter = meters[batch.meter[row]]
        errors.keep(
            line,
            f"start {moment} is out of range (1990 to a week from now)"
            if not in_range[row]
            else f"start {moment} is not on meter {meter.meter_number}'s "
            f"{meter.interval_seconds}-second grid (local time)",
        )
    return batch if not len(bad) else batch.take(on_grid)


def decimal_problem(value: Decimal, what: str) -> str | None:
    """Why ``value`` cannot be a quantity (what="quantity") or cost, or None."""
    if what == "quantity" and value < 0:
        return f"quantity {clip(value)} is negative"
    if abs(value) * MICRO >= LIMIT_MICRO or value != value.quantize(Decimal(1).scaleb(-6)):
        return f"{what} {clip(value)} has more than 6 decimals or is too large"
    return None


class RowsBuilder:
    """Collects readings given one by one (ESPI feeds, generated readings) into Batches."""

    def __init__(self, *, errors: Errors) -> None:
        self.errors = errors
        self.rows: list[tuple[int, int, int, int, int, bool, bool]] = []

    def add(
        self,
        *,
        line: int,
        meter: int,
        start: datetime,
        quantity: Decimal,
        cost: Decimal | None,
        quality: str,
    ) -> None:
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
        columns = list(zip(*rows, strict=True)) if rows else [()] * 7
        types = (np.int64, np.int32, np.int64, np.int64, np.int64, bool, bool)
        return Batch(*(np.array(c, dtype=t) for c, t in zip(columns, types, strict=True)))
