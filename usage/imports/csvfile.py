"""CSV files of readings: ``meterNumber,start,quantity[,quality][,cost][,direction][,end]``.

The export's own CSV (``start,end,quantity,unitOfMeasure,cost,currency,quality,direction``)
reads back too: ``meterNumber`` may be left out when ``--meter`` names the meter, and
``unitOfMeasure`` / ``currency``, when given, must be the meter's unit and the customer's
currency.

The file is read in chunks of whole lines; pyarrow's CSV reader parses each chunk into string
columns and every check runs per column (RE2 patterns, casts), so no Python code runs per row
unless the row is bad. A line is one row (a quoted field cannot hold a line break); a chunk
whose lines do not all parse as rows of the header's width is re-read line by line to name the
bad ones. A line longer than ``MAX_LINE_BYTES`` rejects the file before it is held in memory.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as arrow_csv

from customers.models import Meter
from usage.imports.validation import (
    LIMIT_MICRO,
    MICRO,
    Batch,
    Errors,
    clip,
    fatal,
    micros,
    shown,
)
from usage.models import Direction, Quality

CSV_COLUMNS = ("meterNumber", "start", "quantity", "quality", "cost", "direction", "end")
#: Columns of the export's CSV that an import checks and otherwise ignores.
CSV_CHECKED = ("unitOfMeasure", "currency")
CSV_REQUIRED = ("meterNumber", "start", "quantity")
#: Bytes read at a time; a chunk is the whole lines among them.
READ_BYTES = 1 << 22
#: A longer line is refused (a file with no line breaks cannot fill memory).
MAX_LINE_BYTES = 1 << 16

_BOM = b"\xef\xbb\xbf"
_RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
_DECIMAL = r"^[+-]?(\d+(\.\d*)?|\.\d+)$"
# Sign, whole part without leading zeros, fraction without trailing zeros.
_DECIMAL_PARTS = r"^(?P<sign>[+-]?)0*(?P<whole>\d*?)(?:\.(?P<fraction>\d*?)0*)?$"
_WHOLE_DIGITS = len(str(LIMIT_MICRO // MICRO)) - 1
_EPOCH = "1970-01-01T00:00:00Z"

# Why a row is bad (``CsvReadings._batch`` checks them in its order).
(
    _METER,
    _START,
    _END,
    _QUANTITY,
    _COST,
    _QUALITY,
    _DIRECTION,
    _UNIT,
    _CURRENCY,
    _NEGATIVE,
    _QUANTITY_SIZE,
    _COST_SIZE,
) = range(1, 13)
#: The direction column's values; empty is DELIVERED.
_DIRECTIONS = ("", Direction.DELIVERED.name, Direction.RECEIVED.name)

MeterIndex = Callable[[str], "int | str"]


def _chunks(stream: BinaryIO, source: str) -> Iterator[tuple[int, bytes]]:
    """(number of its first line, whole lines) chunks of the stream, the BOM left out."""
    line = 1
    pending = b""
    while block := stream.read(READ_BYTES):
        if line == 1 and not pending and block.startswith(_BOM):
            block = block[len(_BOM) :]
        pending += block
        cut = pending.rfind(b"\n") + 1
        chunk, pending = pending[:cut], pending[cut:]
        if chunk:
            yield line, chunk
            line += chunk.count(b"\n")
        if len(pending) > MAX_LINE_BYTES:
            raise fatal(source, line, f"the line is longer than {MAX_LINE_BYTES:,} bytes")
    if pending:
        yield line, pending + b"\n"


def _decode(raw: bytes, source: str, line: int) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise fatal(source, line, "not UTF-8 text") from None


def header_columns(line: bytes, source: str, *, one_meter: bool) -> list[str]:
    """The columns the header names; a bad header rejects the file (as line 1).

    ``meterNumber`` may be left out when the import is for ``one_meter``.
    """
    columns = [name.strip() for name in next(csv.reader([_decode(line, source, 1)]), [])]
    required = CSV_REQUIRED[1:] if one_meter else CSV_REQUIRED
    unknown = [name for name in columns if name not in CSV_COLUMNS + CSV_CHECKED]
    missing = [name for name in required if name not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        optional = [name for name in CSV_COLUMNS + CSV_CHECKED if name not in required]
        raise fatal(
            source,
            1,
            f"the header must name {', '.join(required)} and optionally "
            f"{', '.join(optional)}, each once (got {','.join(columns)})",
        )
    return columns


class CsvReadings:
    """Batches of the good rows of a CSV file; bad rows go to ``errors``.

    ``meter_index`` maps a meter number to its index in ``meters`` (or to why it names none);
    ``only`` is the meter of a file without a ``meterNumber`` column.
    """

    def __init__(
        self,
        *,
        source: str,
        meter_index: MeterIndex,
        meters: Sequence[Meter],
        only: Meter | None,
        errors: Errors,
    ) -> None:
        self.source = source
        self.meter_index = meter_index
        self.meters = meters
        self.only = only
        self.errors = errors
        self.columns: list[str] = []

    def batches(self, stream: BinaryIO) -> Iterator[Batch]:
        chunks = _chunks(stream, self.source)
        first = next(chunks, None)
        if first is None:
            raise fatal(
                self.source, 1, f"the file is empty; a header {','.join(CSV_COLUMNS)} is required"
            )
        _, chunk = first
        header, _, body = chunk.partition(b"\n")
        self.columns = header_columns(header, self.source, one_meter=self.only is not None)
        for line, lines in itertools.chain([(2, body)], chunks):
            if lines:
                yield self._batch(*self._parse(lines, line))

    def _parse(self, lines: bytes, first: int) -> tuple[dict[str, pa.Array], np.ndarray]:
        """The chunk's rows as trimmed string columns, with their line numbers."""
        count = lines.count(b"\n")
        invalid: list[object] = []
        try:
            table = arrow_csv.read_csv(
                pa.py_buffer(lines),
                read_options=arrow_csv.ReadOptions(column_names=self.columns),
                parse_options=arrow_csv.ParseOptions(
                    ignore_empty_lines=False,
                    invalid_row_handler=lambda row: invalid.append(row) or "skip",
                ),
                convert_options=arrow_csv.ConvertOptions(
                    column_types=dict.fromkeys(self.columns, pa.string()),
                    strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid:
            return self._parse_slowly(lines, first)
        if invalid or table.num_rows != count:
            return self._parse_slowly(lines, first)
        columns = {
            name: pc.utf8_trim_whitespace(table[name].combine_chunks()) for name in self.columns
        }
        return columns, np.arange(first, first + count, dtype=np.int64)

    def _parse_slowly(self, lines: bytes, first: int) -> tuple[dict[str, pa.Array], np.ndarray]:
        """Line by line with Python's csv module: names the lines that are not rows."""
        rows: list[list[str]] = []
        numbers: list[int] = []
        width = len(self.columns)
        for line, raw in enumerate(lines.split(b"\n")[:-1], start=first):
            try:
                row = next(csv.reader([_decode(raw, self.source, line)], strict=True), [])
            except csv.Error as error:
                self.errors.add(line, f"not a CSV row ({error})")
                continue
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != width:
                self.errors.add(line, f"expected {width} fields, found {len(row)}")
                continue
            rows.append([cell.strip() for cell in row])
            numbers.append(line)
        cells = list(zip(*rows, strict=True)) if rows else [()] * width
        columns = {name: pa.array(cells[i], pa.string()) for i, name in enumerate(self.columns)}
        return columns, np.array(numbers, dtype=np.int64)

    def _batch(self, columns: dict[str, pa.Array], lines: np.ndarray) -> Batch:
        blank = np.ones(len(lines), dtype=bool)
        for values in columns.values():
            blank &= _numpy(pc.equal(pc.utf8_length(values), 0))
        empty = pa.array([""] * len(lines), pa.string())
        quality = columns.get("quality", empty)
        cost = columns.get("cost", empty)
        if "meterNumber" in columns:
            meters = self._meters(columns["meterNumber"])
        else:
            meters = np.full(len(lines), self.meter_index(self.only.meter_number), dtype=np.int32)
        start, start_ok = _instants(columns["start"])
        has_end = _numpy(pc.not_equal(pc.utf8_length(columns.get("end", empty)), 0))
        end, end_ok = _instants(columns["end"]) if has_end.any() else (start, has_end)
        quantity, quantity_ok, negative, quantity_size = _millionths(columns["quantity"])
        has_cost = _numpy(pc.not_equal(pc.utf8_length(cost), 0))
        if has_cost.any():
            cost_micro, cost_ok, _, cost_size = _millionths(cost)
        else:
            cost_micro, cost_ok, cost_size = (
                np.zeros(len(lines), dtype=np.int64),
                has_cost,
                has_cost,
            )
        estimated = _numpy(pc.equal(quality, Quality.ESTIMATED))
        quality_ok = estimated | _numpy(pc.is_in(quality, pa.array(["", Quality.ACTUAL])))
        direction = columns.get("direction", empty)
        received = _numpy(pc.equal(direction, Direction.RECEIVED.name))
        direction_ok = _numpy(pc.is_in(direction, pa.array(_DIRECTIONS)))
        known = meters >= 0
        checks = {  # in order: the first that fails is reported (-1: a blank line, skipped)
            -1: blank,
            _METER: ~known,
            _START: ~start_ok,
            _END: has_end & ~end_ok,
            _QUANTITY: ~quantity_ok,
            _COST: has_cost & ~cost_ok,
            _QUALITY: ~quality_ok,
            _DIRECTION: ~direction_ok,
            _UNIT: self._differs(columns, "unitOfMeasure", meters, known),
            _CURRENCY: self._differs(columns, "currency", meters, known),
            _NEGATIVE: negative,
            _QUANTITY_SIZE: quantity_size,
            _COST_SIZE: has_cost & cost_size,
        }
        problem = np.select(list(checks.values()), list(checks), default=0)
        bad = np.flatnonzero(problem > 0)
        self.errors.count(len(bad))
        for row in bad:
            if not self.errors.wants(int(lines[row])):
                break
            cells = {name: values[row].as_py() for name, values in columns.items()}
            meter = self.meters[meters[row]] if known[row] else None
            self.errors.keep(int(lines[row]), self._message(int(problem[row]), cells, meter))
        good = problem == 0
        return Batch(
            lines[good],
            meters[good],
            start[good],
            np.where(has_end, end, 0)[good],
            has_end[good],
            np.where(received, Direction.RECEIVED, Direction.DELIVERED).astype(np.int16)[good],
            quantity[good],
            np.where(has_cost, cost_micro, 0)[good],
            has_cost[good],
            estimated[good],
        )

    def _differs(
        self, columns: dict[str, pa.Array], name: str, meters: np.ndarray, known: np.ndarray
    ) -> np.ndarray:
        """Rows whose ``name`` (unitOfMeasure or currency) is given and is not their meter's."""
        values = columns.get(name)
        if values is None or not known.any():
            return np.zeros(len(meters), dtype=bool)
        expected = pa.array([_meter_value(meter, name) for meter in self.meters], pa.string()).take(
            pa.array(np.where(known, meters, 0))
        )
        given = _numpy(pc.not_equal(pc.utf8_length(values), 0))
        return known & given & _numpy(pc.not_equal(values, expected))

    def _meters(self, numbers: pa.Array) -> np.ndarray:
        """Each row's meter index, -1 where the number names no meter."""
        encoded = pc.dictionary_encode(numbers)
        found = [self.meter_index(number) for number in encoded.dictionary.to_pylist()]
        indexes = np.array([i if isinstance(i, int) else -1 for i in found], dtype=np.int32)
        return indexes[_numpy(encoded.indices)] if len(indexes) else indexes

    def _message(self, problem: int, cells: dict[str, str], meter: Meter | None) -> str:
        if problem == _METER:
            found = self.meter_index(cells["meterNumber"])
            assert isinstance(found, str)
            return found
        if problem in (_START, _END):
            what = "start" if problem == _START else "end"
            return f"{what} {shown(cells[what])} is not an RFC 3339 date-time with an offset"
        if problem == _DIRECTION:
            return f"direction {shown(cells['direction'])} is not DELIVERED or RECEIVED"
        if problem in (_UNIT, _CURRENCY):
            what = "unitOfMeasure" if problem == _UNIT else "currency"
            assert meter is not None
            return (
                f"{what} {shown(cells[what])} is not meter {meter.meter_number}'s "
                f"({_meter_value(meter, what)})"
            )
        if problem in (_QUANTITY, _COST):
            what = "quantity" if problem == _QUANTITY else "cost"
            return f"{what} {shown(cells[what])} is not a decimal number"
        if problem == _QUALITY:
            return f"quality {shown(cells['quality'])} is not ACTUAL or ESTIMATED"
        if problem == _NEGATIVE:
            return f"quantity {clip(Decimal(cells['quantity']))} is negative"
        what = "quantity" if problem == _QUANTITY_SIZE else "cost"
        return f"{what} {clip(Decimal(cells[what]))} has more than 6 decimals or is too large"


def _meter_value(meter: Meter, column: str) -> str:
    """What the export writes in ``column`` for ``meter``: its unit, or its customer's currency."""
    if column == "unitOfMeasure":
        return meter.unit_of_measure
    return meter.account.customer.billing_currency


def _numpy(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False)


def _instants(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds since the epoch of RFC 3339 date-times with an offset, and which parsed."""
    if pc.any(pc.match_substring_regex(texts, "[tz]")).as_py():
        texts = pc.utf8_upper(texts)
    ok = _numpy(pc.match_substring_regex(texts, _RFC3339))
    safe = pc.if_else(pa.array(ok), texts, _EPOCH)
    try:
        parsed = _numpy(pc.cast(safe, pa.timestamp("us", "UTC")).cast(pa.int64()))
    except pa.ArrowInvalid:  # a well-formed but impossible date somewhere: find it
        parsed = np.zeros(len(ok), dtype=np.int64)
        for row in np.flatnonzero(ok):
            try:
                parsed[row] = micros(datetime.fromisoformat(texts[row].as_py()))
            except ValueError:
                ok[row] = False
    return parsed, ok


def _millionths(texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decimal texts as millionths: (value, well-formed, negative, too precise or too large).

    Exact, never through a float: Arrow's cast to decimal(18, 6) holds the millionths as a
    128-bit integer (read as its low 64 bits: every value fits). Where the cast refuses a value
    (too many decimals or digits) the digits are cut and joined as text instead.
    """
    ok = _numpy(pc.match_substring_regex(texts, _DECIMAL))
    safe = pc.if_else(pa.array(ok), texts, "0")
    try:
        decimals = safe.cast(pa.decimal128(18, 6))
    except pa.ArrowInvalid:
        return _millionths_by_parts(safe, ok)
    value = np.frombuffer(decimals.buffers()[1], dtype=np.int64)[2 * decimals.offset :: 2]
    value = value[: len(ok)].copy()
    return value, ok, value < 0, np.zeros(len(ok), dtype=bool)


def _millionths_by_parts(
    safe: pa.Array, ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Like _millionths, splitting sign, whole digits and fraction digits with a pattern."""
    parts = pc.extract_regex(safe, _DECIMAL_PARTS)
    whole, fraction = parts.field("whole"), parts.field("fraction")
    size = _numpy(pc.greater(pc.utf8_length(whole), _WHOLE_DIGITS)) | _numpy(
        pc.greater(pc.utf8_length(fraction), 6)
    )
    keep = pa.array(~size)
    whole = pc.if_else(pc.and_(keep, pc.greater(pc.utf8_length(whole), 0)), whole, "0")
    fraction = pc.utf8_rpad(pc.if_else(keep, fraction, ""), 6, "0")
    value = _numpy(whole.cast(pa.int64())) * MICRO + _numpy(fraction.cast(pa.int64()))
    negative = _numpy(pc.equal(parts.field("sign"), "-"))
    value = np.where(negative, -value, value)
    return value, ok, value < 0, size
