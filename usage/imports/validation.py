"""What a reading must be to be stored, and how a rejected file is reported (line numbers,
the header being line 1)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from customers.models import Meter
from usage.calendar import zone
from usage.models import Quality

#: Bad rows quoted in a rejection message; the rest are counted.
ERRORS_SHOWN = 5
#: Staged rows per COPY block / executemany call: bounds memory, lets lookups run between.
BATCH_ROWS = 10_000
#: Readings before this are typos, not data.
EARLIEST_START = datetime(1990, 1, 1, tzinfo=UTC)
#: Readings this far past "now" are typos (or a clock gone wrong), not data.
FUTURE_SLACK = timedelta(days=7)
#: The precision Reading.quantity / Reading.cost keep, and the magnitude they hold.
_QUANTUM = Decimal("0.000001")
_LIMIT = Decimal(10) ** 12

CSV_COLUMNS = ("meterNumber", "start", "quantity", "quality", "cost")
CSV_REQUIRED = ("meterNumber", "start", "quantity")

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
INTEGER = re.compile(r"[+-]?\d+")

#: The qualities a reading can have (a frozenset: Choices.values rebuilds a list per call).
QUALITIES = frozenset(Quality.values)


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


@dataclass(frozen=True, slots=True)
class StagedReading:
    line: int
    meter: Meter
    start: datetime
    quantity: Decimal
    cost: Decimal | None
    quality: str


@dataclass
class Errors:
    """The first few bad rows (they stream in line order) and how many there were."""

    first: list[RowError] = field(default_factory=list)
    total: int = 0

    def add(self, line: int, message: str) -> None:
        self.total += 1
        if len(self.first) < ERRORS_SHOWN:
            self.first.append(RowError(line, message))

    def rejection(self, source: str, other: Errors) -> ReadingsRejected:
        """Both lists' errors as one rejection, the earliest lines first."""
        first = sorted(self.first + other.first, key=lambda e: e.line)[:ERRORS_SHOWN]
        return ReadingsRejected(source=source, errors=first, total=self.total + other.total)


def fatal(source: str, line: int, message: str) -> ReadingsRejected:
    return ReadingsRejected(source=source, errors=[RowError(line, message)], total=1)


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time with an explicit offset (``Z`` or ``±hh:mm``), as UTC."""
    if not _RFC3339.fullmatch(text):
        raise ValueError(f"start {text!r} is not an RFC 3339 date-time with an offset")
    return datetime.fromisoformat(text.upper()).astimezone(UTC)


def parse_decimal(text: str, what: str) -> Decimal:
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"{what} {text!r} is not a decimal number")
    return Decimal(text)


def _fits(value: Decimal) -> bool:
    return abs(value) < _LIMIT and value == value.quantize(_QUANTUM)


def reading_problem(
    *, meter: Meter, start: datetime, quantity: Decimal, cost: Decimal | None, latest: datetime
) -> str | None:
    """Why this reading cannot be stored for ``meter``, or None if it can."""
    if quantity < 0:
        return f"quantity {quantity} is negative"
    if not _fits(quantity):
        return f"quantity {quantity} has more than 6 decimals or is too large"
    if cost is not None and not _fits(cost):
        return f"cost {cost} has more than 6 decimals or is too large"
    if not EARLIEST_START <= start <= latest:
        return f"start {start.isoformat()} is out of range (1990 to a week from now)"
    local_offset = start.astimezone(zone(meter.timezone)).utcoffset()
    local_seconds = int(start.timestamp()) + int(local_offset.total_seconds())
    if start.microsecond or local_seconds % meter.interval_seconds:
        return (
            f"start {start.isoformat()} is not on meter {meter.meter_number}'s "
            f"{meter.interval_seconds}-second grid (local time)"
        )
    return None
