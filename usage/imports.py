"""Loading interval readings (CSV and Green Button ESPI), all-or-nothing per file.

A file is streamed (memory stays flat in its size), every row is validated, and the rows go
into a temporary staging table: on PostgreSQL through ``COPY``, elsewhere through
``executemany``. Duplicate (meter, start) pairs are found there, in SQL. If any row is bad the
transaction rolls back and the error names the first few bad lines (the header is line 1);
otherwise the staged rows are upserted on (meter, start) (PostgreSQL: ``INSERT ... SELECT ...
ON CONFLICT DO UPDATE``, touching only rows whose values changed; SQLite:
``bulk_create(update_conflicts=True)``), the meters' first/last reading times move, and a
rollup catch-up is queued, after commit, for exactly the meters and time range that changed.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, TextIO
from xml.sax import SAXParseException, handler
from xml.sax.expatreader import ExpatLocator

from defusedxml import DefusedXmlException
from defusedxml.expatreader import create_parser
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from customers.models import Meter, Utility
from usage import espi
from usage.calendar import zone
from usage.models import Quality, Reading, RollupDirtyRange
from usage.partitions import reading_partitions_ensure
from usage.tasks import rollups_catch_up

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
_INTEGER = re.compile(r"[+-]?\d+")

# (parent, element) pairs of an IntervalReading that the import reads.
_QUALITIES = frozenset(Quality.values)
_READING_FIELDS = {
    ("timePeriod", "start"),
    ("timePeriod", "duration"),
    ("IntervalReading", "value"),
    ("IntervalReading", "cost"),
}


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
class _Errors:
    """The first few bad rows (they stream in line order) and how many there were."""

    first: list[RowError] = field(default_factory=list)
    total: int = 0

    def add(self, line: int, message: str) -> None:
        self.total += 1
        if len(self.first) < ERRORS_SHOWN:
            self.first.append(RowError(line, message))

    def rejection(self, source: str, other: _Errors) -> ReadingsRejected:
        """Both lists' errors as one rejection, the earliest lines first."""
        first = sorted(self.first + other.first, key=lambda e: e.line)[:ERRORS_SHOWN]
        return ReadingsRejected(source=source, errors=first, total=self.total + other.total)


def _fatal(source: str, line: int, message: str) -> ReadingsRejected:
    return ReadingsRejected(source=source, errors=[RowError(line, message)], total=1)


# --- validation -------------------------------------------------------------------------------


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time with an explicit offset (``Z`` or ``±hh:mm``), as UTC."""
    if not _RFC3339.fullmatch(text):
        raise ValueError(f"start {text!r} is not an RFC 3339 date-time with an offset")
    return datetime.fromisoformat(text.upper()).astimezone(UTC)


def _parse_decimal(text: str, what: str) -> Decimal:
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


# --- CSV --------------------------------------------------------------------------------------


class _MeterLookup:
    """Meter numbers to meters, within a utility when given; remembered per import."""

    def __init__(self, *, utility: Utility | None, only: Meter | None) -> None:
        self.utility = utility
        self.only = only
        self.known: dict[str, Meter | str] = {}

    def __call__(self, number: str) -> Meter | str:
        if number not in self.known:
            self.known[number] = self._find(number)
        return self.known[number]

    def _find(self, number: str) -> Meter | str:
        if self.only is not None:
            if number == self.only.meter_number:
                return self.only
            return f"meter {number!r} is not the meter --meter names ({self.only.meter_number})"
        meters = Meter.objects.select_related("account__customer").filter(meter_number=number)
        if self.utility is not None:
            meters = meters.filter(utility=self.utility)
        found = list(meters[:2])
        if not found:
            return f"unknown meter number {number!r}"
        if len(found) > 1:
            return f"meter number {number!r} exists at several utilities: pass --utility"
        return found[0]


def _csv_readings(
    stream: TextIO, *, source: str, lookup: Callable[[str], Meter | str], errors: _Errors
) -> Iterator[StagedReading]:
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise _fatal(source, 1, f"the file is empty; a header {','.join(CSV_COLUMNS)} is required")
    columns = [name.strip() for name in header]
    unknown = [name for name in columns if name not in CSV_COLUMNS]
    missing = [name for name in CSV_REQUIRED if name not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        raise _fatal(
            source,
            1,
            f"the header must name {', '.join(CSV_REQUIRED)} and optionally quality, cost, "
            f"each once (got {','.join(columns)})",
        )
    at = {name: i for i, name in enumerate(columns)}
    latest = timezone.now() + FUTURE_SLACK
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            errors.add(line, f"expected {len(columns)} fields, found {len(row)}")
            continue
        values = {name: row[i].strip() for name, i in at.items()}
        meter = lookup(values["meterNumber"])
        if isinstance(meter, str):
            errors.add(line, meter)
            continue
        try:
            start = parse_rfc3339(values["start"])
            quantity = _parse_decimal(values["quantity"], "quantity")
            cost = _parse_decimal(values["cost"], "cost") if values.get("cost") else None
        except ValueError as error:
            errors.add(line, str(error))
            continue
        quality = values.get("quality") or Quality.ACTUAL
        if quality not in _QUALITIES:
            errors.add(line, f"quality {quality!r} is not ACTUAL or ESTIMATED")
            continue
        problem = reading_problem(
            meter=meter, start=start, quantity=quantity, cost=cost, latest=latest
        )
        if problem:
            errors.add(line, problem)
            continue
        yield StagedReading(line, meter, start, quantity, cost, quality)


# --- Green Button ESPI ------------------------------------------------------------------------


@dataclass(frozen=True)
class _ReadingType:
    uom: int
    power_of_ten: int
    currency: int | None


class _EspiHandler(handler.ContentHandler):
    """SAX handler turning an ESPI Atom feed's IntervalReadings into staged readings.

    Streaming: it keeps only the feed's ReadingTypes and MeterReading links, and hands each
    reading over (``ready``) as soon as its element closes.
    """

    def __init__(self, *, source: str, meter: Meter, errors: _Errors) -> None:
        super().__init__()
        self.source = source
        self.meter = meter
        self.errors = errors
        self.latest = timezone.now() + FUTURE_SLACK
        self.ready: list[StagedReading] = []
        self.readings_seen = 0
        self._locator = None
        self._stack: list[str] = []
        self._text: list[str] = []
        self._links: list[tuple[str, str]] = []
        self._resource: str | None = None
        self._type_fields: dict[str, str] = {}
        self._reading_types: dict[str, _ReadingType] = {}
        self._meter_reading_types: dict[str, str] = {}
        self._block: tuple[_ReadingType, Decimal] | None = None
        self._reading: dict[str, str | int | list[str]] | None = None
        self._cost_problem: str | None = None

    def setDocumentLocator(self, locator) -> None:
        self._locator = locator

    @property
    def line(self) -> int:
        return self._locator.getLineNumber() if self._locator else 0

    def characters(self, content: str) -> None:
        self._text.append(content)

    def startElementNS(self, name, qname, attrs) -> None:
        local = name[1]
        parent = self._stack[-1] if self._stack else None
        self._stack.append(local)
        self._text = []
        if local == "entry":
            self._links = []
        elif local == "link" and "entry" in self._stack:
            self._links.append((attrs.get((None, "rel"), ""), attrs.get((None, "href"), "")))
        elif parent == "content" and local in ("ReadingType", "MeterReading", "IntervalBlock"):
            self._resource = local
            self._type_fields = {}
            if local == "IntervalBlock":
                self._block = self._block_scale()
        elif local == "IntervalReading" and self._resource == "IntervalBlock":
            self._reading = {"line": self.line, "quality": []}

    def endElementNS(self, name, qname) -> None:
        local = name[1]
        text = "".join(self._text).strip()
        self._text = []
        self._stack.pop()
        parent = self._stack[-1] if self._stack else None
        reading = self._reading
        if self._resource == "ReadingType" and parent == "ReadingType":
            self._type_fields[local] = text
        elif reading is not None:
            if (parent, local) in _READING_FIELDS:
                reading[local] = text
            elif parent == "ReadingQuality" and local == "quality":
                reading["quality"].append(text)
            elif local == "IntervalReading":
                self._reading = None
                self.readings_seen += 1
                staged = self._stage(reading)
                if staged is not None:
                    self.ready.append(staged)
        if parent == "content" and local == self._resource:
            self._end_resource(local)

    def _self_href(self) -> str:
        return next((href for rel, href in self._links if rel == "self"), "")

    def _end_resource(self, local: str) -> None:
        if local == "ReadingType":
            fields = self._type_fields
            try:
                self._reading_types[self._self_href()] = _ReadingType(
                    uom=int(fields["uom"]),
                    power_of_ten=int(fields.get("powerOfTenMultiplier") or 0),
                    currency=int(fields["currency"]) if fields.get("currency") else None,
                )
            except (KeyError, ValueError):
                raise _fatal(
                    self.source, self.line, "ReadingType needs an integer uom (and multiplier)"
                ) from None
        elif local == "MeterReading":
            related = [href for rel, href in self._links if rel == "related"]
            reading_type = next((href for href in related if "/ReadingType/" in href), None)
            if reading_type:
                self._meter_reading_types[self._self_href()] = reading_type
        self._resource = None
        self._block = None

    def _block_scale(self) -> tuple[_ReadingType, Decimal]:
        """The ReadingType of the IntervalBlock starting here, and the factor to the meter unit.

        Found through the block's MeterReading (its href prefix); a feed with a single
        ReadingType needs no links.
        """
        reading_type = None
        for rel, href in self._links:
            if rel in ("self", "up") and "/IntervalBlock" in href:
                meter_reading = href.split("/IntervalBlock")[0]
                reading_type = self._reading_types.get(
                    self._meter_reading_types.get(meter_reading, "")
                )
                if reading_type:
                    break
        if reading_type is None and len(set(self._reading_types.values())) == 1:
            reading_type = next(iter(self._reading_types.values()))
        if reading_type is None:
            raise _fatal(
                self.source,
                self.line,
                "cannot tell which ReadingType this IntervalBlock is in: the feed must give "
                "the ReadingType (linked from the block's MeterReading) before the blocks",
            )
        unit = self.meter.unit_of_measure
        factor = espi.UOM_TO_METER_UNIT.get((reading_type.uom, unit))
        if factor is None:
            uom = espi.UOM_NAMES.get(reading_type.uom, "an unsupported unit")
            raise _fatal(
                self.source,
                self.line,
                f"the feed's values are in {uom} (uom {reading_type.uom}), which meter "
                f"{self.meter.meter_number} (in {unit}) cannot take",
            )
        billed_in = self.meter.account.customer.billing_currency
        currency = reading_type.currency
        if currency is not None and espi.CURRENCIES.get(currency) != billed_in:
            self._cost_problem = (
                f"costs are in currency {currency} but the customer is billed in {billed_in}"
            )
        else:
            self._cost_problem = None
        return reading_type, factor * Decimal(1).scaleb(reading_type.power_of_ten)

    def _stage(self, reading: dict) -> StagedReading | None:
        line = reading["line"]
        for key in ("start", "duration", "value"):
            if not _INTEGER.fullmatch(str(reading.get(key, ""))):
                self.errors.add(line, f"IntervalReading needs an integer {key}")
                return None
        duration = int(reading["duration"])
        if duration != self.meter.interval_seconds:
            self.errors.add(
                line,
                f"reading lasts {duration} s but meter {self.meter.meter_number} records every "
                f"{self.meter.interval_seconds} s",
            )
            return None
        codes = reading["quality"]
        if any(not code.isdigit() for code in codes) or not {int(c) for c in codes} <= (
            espi.ACTUAL_QUALITIES | espi.ESTIMATED_QUALITIES
        ):
            self.errors.add(line, f"unknown ReadingQuality {', '.join(codes)}")
            return None
        quality = (
            Quality.ESTIMATED
            if {int(c) for c in codes} & espi.ESTIMATED_QUALITIES
            else Quality.ACTUAL
        )
        cost = None
        if reading.get("cost"):
            if not _INTEGER.fullmatch(reading["cost"]):
                self.errors.add(line, f"cost {reading['cost']!r} is not an integer")
                return None
            if self._cost_problem:
                self.errors.add(line, self._cost_problem)
                return None
            cost = Decimal(int(reading["cost"])).scaleb(espi.COST_EXPONENT)
        assert self._block is not None
        quantity = Decimal(int(reading["value"])) * self._block[1]
        start = datetime.fromtimestamp(int(reading["start"]), UTC)
        problem = reading_problem(
            meter=self.meter, start=start, quantity=quantity, cost=cost, latest=self.latest
        )
        if problem:
            self.errors.add(line, problem)
            return None
        return StagedReading(line, self.meter, start, quantity, cost, quality)


def _espi_readings(
    stream: BinaryIO, *, source: str, meter: Meter, errors: _Errors
) -> Iterator[StagedReading]:
    """Readings of an ESPI feed, parsed by a SAX parser that refuses entities and external
    references (defusedxml)."""
    parser = create_parser()
    parser.setFeature(handler.feature_namespaces, True)
    feed = _EspiHandler(source=source, meter=meter, errors=errors)
    parser.setContentHandler(feed)
    feed.setDocumentLocator(ExpatLocator(parser))  # parse() would; feed() does not
    try:
        while chunk := stream.read(1 << 16):
            parser.feed(chunk)
            yield from feed.ready
            feed.ready.clear()
        parser.close()
    except SAXParseException as error:
        message = f"not well-formed XML: {error.getMessage()}"
        raise _fatal(source, error.getLineNumber(), message) from None
    except DefusedXmlException as error:
        raise _fatal(source, feed.line, f"refused XML construct: {error}") from None
    yield from feed.ready
    if feed.readings_seen == 0:
        raise _fatal(source, feed.line, "the feed holds no IntervalReading")


# --- staging and upsert -----------------------------------------------------------------------

_DUPLICATES_SQL = """
    SELECT line, first_line, count(*) OVER () FROM (
        SELECT seq, line, first_value(line) OVER same AS first_line, row_number() OVER same AS nth
        FROM usage_reading_stage
        WINDOW same AS (PARTITION BY meter_id, start ORDER BY seq)
    ) AS repeats
    WHERE nth > 1
    ORDER BY seq
    LIMIT %s
"""
_RANGES_SQL = """
    SELECT meter_id, min(start), max(start), count(*)
    FROM usage_reading_stage GROUP BY meter_id
"""


class _Stage:
    """A temporary table holding one file's validated rows until they are all known good.

    ``seq`` numbers the rows in file order (several ESPI readings can share a line).
    """

    def __init__(self) -> None:
        self.cursor = connection.cursor()

    def load(self, readings: Iterable[StagedReading]) -> tuple[int, dict[uuid.UUID, Meter]]:
        meters: dict[uuid.UUID, Meter] = {}
        batch: list[StagedReading] = []
        count = 0
        for reading in readings:
            batch.append(reading)
            meters.setdefault(reading.meter.pk, reading.meter)
            if len(batch) == BATCH_ROWS:
                self.write(batch, count)
                count += len(batch)
                batch = []
        self.write(batch, count)
        return count + len(batch), meters

    def duplicates(self) -> _Errors:
        """Rows repeating an earlier row's (meter, start): the first few, and how many."""
        self.cursor.execute(_DUPLICATES_SQL, [ERRORS_SHOWN])
        found = _Errors()
        for line, first_line, total in self.cursor.fetchall():
            found.add(line, f"same meter and start as line {first_line}")
            found.total = total
        return found

    def write(self, batch: list[StagedReading], seq: int) -> None:
        """Stages ``batch``, numbering its rows from ``seq``."""
        raise NotImplementedError

    def ranges(self) -> list[tuple[uuid.UUID, datetime, datetime, int]]:
        raise NotImplementedError

    def upsert(self) -> list[tuple[uuid.UUID, datetime, datetime, int]]:
        """Writes the staged rows; returns (meter, first start, last start, rows) changed."""
        raise NotImplementedError

    def drop(self) -> None:
        self.cursor.execute("DROP TABLE IF EXISTS usage_reading_stage")
        self.cursor.close()


class _PostgresStage(_Stage):
    def __init__(self) -> None:
        super().__init__()
        self.cursor.execute("DROP TABLE IF EXISTS pg_temp.usage_reading_stage")
        self.cursor.execute(
            "CREATE TEMP TABLE usage_reading_stage (seq bigint NOT NULL, line bigint NOT NULL,"
            " meter_id uuid NOT NULL, start timestamptz NOT NULL, quantity numeric(18, 6) NOT NULL,"
            " cost numeric(18, 6), quality varchar(9) NOT NULL) ON COMMIT DROP"
        )

    def write(self, batch: list[StagedReading], seq: int) -> None:
        if not batch:
            return
        copy_sql = (
            "COPY usage_reading_stage (seq, line, meter_id, start, quantity, cost, quality)"
            " FROM STDIN"
        )
        with self.cursor.copy(copy_sql) as copy:
            for n, r in enumerate(batch, start=seq):
                copy.write_row((n, r.line, r.meter.pk, r.start, r.quantity, r.cost, r.quality))

    def ranges(self) -> list[tuple[uuid.UUID, datetime, datetime, int]]:
        self.cursor.execute(_RANGES_SQL)
        return self.cursor.fetchall()

    def upsert(self) -> list[tuple[uuid.UUID, datetime, datetime, int]]:
        self.cursor.execute(
            """
            WITH changed AS (
                INSERT INTO usage_reading AS reading (meter_id, start, quantity, cost, quality)
                SELECT meter_id, start, quantity, cost, quality FROM usage_reading_stage
                ON CONFLICT (meter_id, start) DO UPDATE SET
                    quantity = EXCLUDED.quantity, cost = EXCLUDED.cost,
                    quality = EXCLUDED.quality
                WHERE (reading.quantity, reading.cost, reading.quality)
                      IS DISTINCT FROM (EXCLUDED.quantity, EXCLUDED.cost, EXCLUDED.quality)
                RETURNING reading.meter_id, reading.start
            )
            SELECT meter_id, min(start), max(start), count(*) FROM changed GROUP BY meter_id
            """
        )
        return self.cursor.fetchall()


class _SqliteStage(_Stage):
    """SQLite: exact decimals kept as text; every staged row counts as changed."""

    def __init__(self) -> None:
        super().__init__()
        self.cursor.execute("DROP TABLE IF EXISTS temp.usage_reading_stage")
        self.cursor.execute(
            "CREATE TEMP TABLE usage_reading_stage (seq integer NOT NULL PRIMARY KEY,"
            " line integer NOT NULL, meter_id text NOT NULL, start text NOT NULL,"
            " quantity text NOT NULL, cost text, quality text NOT NULL)"
        )

    def write(self, batch: list[StagedReading], seq: int) -> None:
        self.cursor.executemany(
            "INSERT INTO usage_reading_stage (seq, line, meter_id, start, quantity, cost, quality)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    n,
                    r.line,
                    r.meter.pk.hex,
                    r.start.strftime("%Y-%m-%d %H:%M:%S"),
                    str(r.quantity),
                    None if r.cost is None else str(r.cost),
                    r.quality,
                )
                for n, r in enumerate(batch, start=seq)
            ],
        )

    @staticmethod
    def _instant(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    def ranges(self) -> list[tuple[uuid.UUID, datetime, datetime, int]]:
        self.cursor.execute(_RANGES_SQL)
        return [
            (uuid.UUID(meter), self._instant(lo), self._instant(hi), n)
            for meter, lo, hi, n in self.cursor.fetchall()
        ]

    def upsert(self) -> list[tuple[uuid.UUID, datetime, datetime, int]]:
        last = -1
        while True:
            self.cursor.execute(
                "SELECT seq, meter_id, start, quantity, cost, quality FROM usage_reading_stage"
                " WHERE seq > %s ORDER BY seq LIMIT %s",
                [last, BATCH_ROWS],
            )
            rows = self.cursor.fetchall()
            if not rows:
                return self.ranges()
            Reading.objects.bulk_create(
                [
                    Reading(
                        meter_id=uuid.UUID(meter),
                        start=self._instant(start),
                        quantity=Decimal(quantity),
                        cost=None if cost is None else Decimal(cost),
                        quality=quality,
                    )
                    for _, meter, start, quantity, cost, quality in rows
                ],
                batch_size=500,
                update_conflicts=True,
                unique_fields=["meter", "start"],
                update_fields=["quantity", "cost", "quality"],
            )
            last = rows[-1][0]


def _extend_meter_bounds(
    ranges: list[tuple[uuid.UUID, datetime, datetime, int]], meters: dict[uuid.UUID, Meter]
) -> None:
    """First reading's start and last reading's end, widened to what the file brought."""
    for meter_id, lo, hi, _ in ranges:
        end = hi + timedelta(seconds=meters[meter_id].interval_seconds)
        first, last = (
            Meter.objects.select_for_update()
            .filter(pk=meter_id)
            .values_list("first_reading_at", "last_reading_at")
            .get()
        )
        Meter.objects.filter(pk=meter_id).update(
            first_reading_at=lo if first is None else min(first, lo),
            last_reading_at=end if last is None else max(last, end),
        )


def _queue_rollups(
    changed: list[tuple[uuid.UUID, datetime, datetime, int]], meters: dict[uuid.UUID, Meter]
) -> None:
    """Records each changed range and queues its catch-up once the readings are committed."""
    for meter_id, lo, hi, _ in changed:
        end = hi + timedelta(seconds=meters[meter_id].interval_seconds)
        RollupDirtyRange.objects.create(meter_id=meter_id, start=lo, end=end)
        rollups_catch_up.delay_on_commit(str(meter_id), lo.isoformat(), end.isoformat())


def _load(readings: Iterable[StagedReading], *, source: str, errors: _Errors) -> ImportResult:
    with transaction.atomic():
        stage = _PostgresStage() if connection.vendor == "postgresql" else _SqliteStage()
        rows, meters = stage.load(readings)
        duplicates = stage.duplicates()
        if errors.total or duplicates.total:
            raise errors.rejection(source, duplicates)
        if rows == 0:
            raise ReadingsImportError(f"{source}: no readings in the file")
        ranges = stage.ranges()
        start = min(lo for _, lo, _, _ in ranges)
        end = max(hi for _, _, hi, _ in ranges)
        reading_partitions_ensure(start=start, end=end)
        changed = stage.upsert()
        stage.drop()
        _extend_meter_bounds(ranges, meters)
        _queue_rollups(changed, meters)
    longest = max(meter.interval_seconds for meter in meters.values())
    return ImportResult(
        rows=rows,
        changed=sum(n for _, _, _, n in changed),
        meters=len(ranges),
        start=start,
        end=end + timedelta(seconds=longest),
    )


# --- services ---------------------------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """Passes bytes through, advancing a progress bar by how many were read."""

    def __init__(self, raw: BinaryIO, bar: tqdm) -> None:
        self.raw = raw
        self.bar = bar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.raw.readinto(buffer)
        self.bar.update(count or 0)
        return count


def _find_meter(number: str, utility: Utility | None) -> Meter:
    meters = Meter.objects.select_related("account__customer").filter(meter_number=number)
    if utility is not None:
        meters = meters.filter(utility=utility)
    found = list(meters[:2])
    if not found:
        raise ReadingsImportError(f"unknown meter number {number!r}")
    if len(found) > 1:
        raise ReadingsImportError(
            f"meter number {number!r} exists at several utilities: pass --utility"
        )
    return found[0]


def readings_import(
    *,
    path: Path,
    file_format: str = "csv",
    meter_number: str | None = None,
    utility_slug: str | None = None,
    progress: bool = False,
) -> ImportResult:
    """Imports a CSV or ESPI file of interval readings: all of it, or nothing.

    ``meter_number`` names the meter that receives an ESPI feed (required there); with CSV it
    restricts the file to that meter. ``utility_slug`` scopes meter numbers to one utility.
    Raises ReadingsImportError (ReadingsRejected for bad rows) with a one-line reason.
    """
    if file_format not in ("csv", "espi"):
        raise ReadingsImportError(f"unknown format {file_format!r}: use csv or espi")
    utility = None
    if utility_slug is not None:
        utility = Utility.objects.filter(slug=utility_slug).first()
        if utility is None:
            raise ReadingsImportError(f"unknown utility {utility_slug!r}")
    meter = _find_meter(meter_number, utility) if meter_number is not None else None
    if file_format == "espi" and meter is None:
        raise ReadingsImportError("--meter is required with --format espi")
    try:
        raw = path.open("rb", buffering=0)
    except OSError as error:
        raise ReadingsImportError(f"cannot read {path}: {error.strerror}") from None
    source = path.name
    errors = _Errors()
    with (
        raw,
        tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            desc=f"import {source}",
            disable=not progress,
        ) as bar,
    ):
        stream = io.BufferedReader(_CountingReader(raw, bar))
        if file_format == "espi":
            assert meter is not None
            readings = _espi_readings(stream, source=source, meter=meter, errors=errors)
            return _load(readings, source=source, errors=errors)
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        lookup = _MeterLookup(utility=utility, only=meter)
        try:
            readings = _csv_readings(text, source=source, lookup=lookup, errors=errors)
            return _load(readings, source=source, errors=errors)
        except UnicodeDecodeError:
            raise ReadingsImportError(f"{source}: not UTF-8 text") from None


def readings_upsert(
    *, meter: Meter, readings: Iterable[tuple[datetime, Decimal, Decimal | None, str]]
) -> ImportResult:
    """Stores ``(start, quantity, cost, quality)`` readings of one meter, like an import.

    For code that generates readings (the demo): same validation, staging, upsert, meter
    bounds and rollup catch-up as a file; "line" numbers in errors count readings from 1.
    """
    latest = timezone.now() + FUTURE_SLACK
    errors = _Errors()

    def staged() -> Iterator[StagedReading]:
        for number, (start, quantity, cost, quality) in enumerate(readings, start=1):
            problem = reading_problem(
                meter=meter, start=start, quantity=quantity, cost=cost, latest=latest
            )
            if problem is None and quality not in _QUALITIES:
                problem = f"quality {quality!r} is not ACTUAL or ESTIMATED"
            if problem:
                errors.add(number, problem)
                continue
            yield StagedReading(number, meter, start.astimezone(UTC), quantity, cost, quality)

    return _load(staged(), source=f"readings of meter {meter.meter_number}", errors=errors)
