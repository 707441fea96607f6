"""Where one file's good rows wait until the whole file is known good, and their write into
``usage_reading``.

PostgreSQL: each Batch is packed by numpy into PostgreSQL's binary COPY rows of
usage_reading's columns (no per-row Python) and spooled to a temporary file, with each row's
key and line in a second one. The write locks the file's meters in id order; when none of them
has readings in the file's range (a new import) the rows are copied straight into
usage_reading, which takes COPY's batched inserts. Otherwise they are copied into a temporary
staging table, inserted from there for the meters with no readings in the range and upserted
for the others (``ON CONFLICT``, in key order, counting only rows whose values changed). A
file repeating a (meter, direction, start) fails the primary key; only then are the keys
copied into a table to name the repeated lines.

SQLite (the demo): the same table filled by ``executemany`` and Django's
``bulk_create(update_conflicts=True)``; every staged row counts as changed.
"""

from __future__ import annotations

import functools
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise

import numpy as np
import pandas as pd
from django.db import IntegrityError, connection

from customers.models import Meter
from usage.imports.validation import (
    BATCH_ROWS,
    ERRORS_SHOWN,
    MICRO,
    Batch,
    Errors,
    instant,
    micros,
)
from usage.models import Direction, Quality, Reading

_DUPLICATES_SQL = """
    SELECT line, first_line, count(*) OVER () FROM (
        SELECT seq, line, first_value(line) OVER same AS first_line, row_number() OVER same AS nth
        FROM usage_reading_stage
        WINDOW same AS (PARTITION BY meter_id, direction, start ORDER BY seq)
    ) AS repeats
    WHERE nth > 1
    ORDER BY seq
    LIMIT %s
"""

_COLUMNS = (
    "seq, line, meter_id, direction, start, end_at, period, quantity, cost, has_cost, estimated"
)

# The staged readings (PostgreSQL: a table like usage_reading), for the meters in (or not in) a
# list.
_READING_NAMES = 'meter_id, direction, start, "end", quantity, cost, quality'
_READING_COLUMNS = f"({_READING_NAMES})"
_READINGS = f"SELECT {_READING_NAMES} FROM usage_reading_stage"  # noqa: S608 (constant SQL)
_INSERT_SQL = f"""
    INSERT INTO usage_reading {_READING_COLUMNS}
    {_READINGS} WHERE meter_id <> ALL(%s)
"""
# In key order, so two upserts of the same rows lock them in the same order.
_UPSERT_SQL = f"""
    WITH changed AS (
        INSERT INTO usage_reading AS reading {_READING_COLUMNS}
        {_READINGS} WHERE meter_id = ANY(%s)
        ORDER BY meter_id, direction, start
        ON CONFLICT (meter_id, direction, start) DO UPDATE SET
            "end" = EXCLUDED."end", quantity = EXCLUDED.quantity, cost = EXCLUDED.cost,
            quality = EXCLUDED.quality
        WHERE (reading."end", reading.quantity, reading.cost, reading.quality)
              IS DISTINCT FROM
              (EXCLUDED."end", EXCLUDED.quantity, EXCLUDED.cost, EXCLUDED.quality)
        RETURNING reading.meter_id, reading.start, reading."end"
    )
    SELECT changed.meter_id, min(changed.start), max(changed.start),
           max(COALESCE(changed."end", changed.start + meter.interval_seconds * interval '1 s')),
           count(*)
    FROM changed JOIN customers_meter AS meter ON meter.id = changed.meter_id
    GROUP BY changed.meter_id
"""  # noqa: S608 (constant SQL)


@dataclass(frozen=True, slots=True)
class MeterRange:
    """What the file (or the write) holds for one meter: first and last start, the end of
    the reading that ends last, rows."""

    meter: Meter
    first: datetime
    last: datetime
    end: datetime
    rows: int


class Stage:
    """Where the good rows wait (a temporary table; on PostgreSQL temporary files); ``seq``
    numbers them in file order (several ESPI readings can share a line). The rows of
    billing-read meters (read periods: a dozen a year per meter) are also kept in memory, to
    check that none overlap."""

    def __init__(self, meters: Sequence[Meter]) -> None:
        self.meters = meters
        self.cursor = connection.cursor()
        self.staged = 0
        self._ranges: list[pd.DataFrame] = []
        self._billing_read: list[bool] = []
        self._periods: list[pd.DataFrame] = []

    def add(self, batch: Batch) -> None:
        if not len(batch):
            return
        self._billing_read += [m.billing_read for m in self.meters[len(self._billing_read) :]]
        period = np.array(self._billing_read)[batch.meter]
        self.write(batch, period)
        self.staged += len(batch)
        frame = pd.DataFrame({"meter": batch.meter, "start": batch.start, "end": batch.end})
        self._ranges.append(
            frame.groupby("meter").agg(
                first=("start", "min"),
                last=("start", "max"),
                end=("end", "max"),
                rows=("start", "size"),
            )
        )
        if period.any():
            rows = batch.take(period)
            columns = ("line", "meter", "direction", "start", "end")
            self._periods.append(pd.DataFrame({name: getattr(rows, name) for name in columns}))

    def ranges(self) -> list[MeterRange]:
        """Per meter of the file, the range of its staged rows."""
        if not self._ranges:
            return []
        frame = (
            pd.concat(self._ranges)
            .groupby(level=0)
            .agg({"first": "min", "last": "max", "end": "max", "rows": "sum"})
        )
        columns = (frame.index, frame["first"], frame["last"], frame["end"], frame["rows"])
        return [
            MeterRange(self.meters[index], instant(first), instant(last), instant(end), int(rows))
            for index, first, last, end, rows in zip(*columns, strict=True)
        ]

    def duplicates(self) -> Errors:
        """Rows repeating an earlier row's (meter, direction, start): the first few, and how
        many."""
        self.cursor.execute(_DUPLICATES_SQL, [ERRORS_SHOWN])
        found = Errors()
        for line, first_line, total in self.cursor.fetchall():
            found.keep(line, f"same meter, direction and start as line {first_line}")
            found.total = total
        return found

    def overlaps(self) -> Errors:
        """Read periods of one meter and direction that overlap, within the file or with the
        stored ones the file does not replace (same start): the first few, and how many.

        Two rows with the same start are left to ``duplicates``. Run with the meters locked.
        """
        if not self._periods:
            return Errors()
        new = pd.concat(self._periods, ignore_index=True)
        key = ["meter", "direction", "start"]
        stored = self._stored_periods(new)
        stored = stored.merge(new[key], on=key, how="left", indicator=True)
        stored = stored[stored["_merge"] == "left_only"].drop(columns="_merge")
        periods = pd.concat([new, stored]).sort_values([*key, "line"], ignore_index=True)
        before = periods.groupby(["meter", "direction"])[["line", "start", "end"]].shift(1)
        clash = (
            (periods["start"] < before["end"])
            & (periods["start"] != before["start"])
            & ((periods["line"] > 0) | (before["line"] > 0))
        ).to_numpy()
        later, earlier = periods[clash], before[clash]
        # The file's row to name: the later period's, or the earlier one's when that is stored.
        named = np.where(later["line"] > 0, later["line"], earlier["line"]).astype(np.int64)
        found = Errors()
        found.count(len(named))
        for row in np.argsort(named, kind="stable")[:ERRORS_SHOWN]:
            one, two = later.iloc[row], earlier.iloc[row]
            mine, other = (one, two) if one["line"] else (two, one)
            found.keep(int(named[row]), _overlap(mine, other, int(one["direction"])))
        return found

    def _stored_periods(self, new: pd.DataFrame) -> pd.DataFrame:
        """Stored read periods of the new ones' meters that reach into their span (line 0)."""
        index = {self.meters[i].pk: i for i in np.unique(new["meter"])}
        rows = Reading.objects.filter(
            meter__in=list(index),
            start__lt=instant(new["end"].max()),
            end__gt=instant(new["start"].min()),
        ).values_list("meter_id", "direction", "start", "end")
        return pd.DataFrame(
            [(0, index[meter], direction, micros(s), micros(e)) for meter, direction, s, e in rows],
            columns=["line", "meter", "direction", "start", "end"],
        ).astype(new.dtypes.to_dict())

    def lock(self, ranges: list[MeterRange]) -> None:
        """Locks the file's meters until the write commits."""

    def write(self, batch: Batch, period: np.ndarray) -> None:
        """Stages ``batch``, numbering its rows on from those already staged; ``period``: the
        rows of billing-read meters."""
        raise NotImplementedError

    def store(self, ranges: list[MeterRange]) -> list[MeterRange]:
        """Writes the staged rows into usage_reading; returns the ranges that changed."""
        raise NotImplementedError

    def drop(self) -> None:
        self.cursor.execute("DROP TABLE IF EXISTS usage_reading_stage")
        self.cursor.close()


def _overlap(mine: pd.Series, other: pd.Series, direction: int) -> str:
    """Why read period ``mine`` (a row of the file) cannot be stored next to ``other``."""
    span = f"{instant(other['start']).isoformat()} to {instant(other['end']).isoformat()}"
    channel = "RECEIVED " if direction == Direction.RECEIVED else ""
    return (
        f"{channel}read period {instant(mine['start']).isoformat()} to "
        f"{instant(mine['end']).isoformat()} overlaps "
        + (f"line {int(other['line'])}'s ({span})" if other["line"] else f"the stored one {span}")
    )


# PostgreSQL's binary COPY: a signature, then per row a field count and (length, value) pairs,
# big-endian (length -1: NULL, no value); numeric(18, 6) as 5 base-10000 digits (weight 2:
# 3 whole, 2 fractional).
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_TRAILER = b"\xff\xff"
_NUMERIC = (">i2", (9,))
_NULL = -1
_POSTGRES_EPOCH = micros(datetime.fromisoformat("2000-01-01T00:00:00+00:00"))
_NEGATIVE = 0x4000
#: Bytes of a spool file sent per COPY message.
_SEND_BYTES = 1 << 20


def _copy_row(fields: Sequence[tuple[str, object, bool]]) -> np.dtype:
    """A binary COPY row of ``fields`` (name, type, given: False for NULL, no value)."""
    items: list[tuple[str, object]] = [("fields", ">i2")]
    for name, kind, given in fields:
        items += [(f"{name}_size", ">i4")] + ([(name, kind)] if given else [])
    return np.dtype(items)


@functools.cache
def _blank(kind: np.dtype) -> np.ndarray:
    """One row of ``kind`` holding its field count and each field's length (-1 for NULL)."""
    blank = np.zeros(1, dtype=kind)
    sizes = [name for name in kind.names if name.endswith("_size")]
    blank["fields"] = len(sizes)
    for size in sizes:
        name = size.removesuffix("_size")
        blank[size] = kind.fields[name][0].itemsize if name in kind.fields else _NULL
    return blank


def _rows(kind: np.dtype, count: int) -> np.ndarray:
    """``count`` rows of ``kind`` with their field counts and lengths, values to fill in."""
    return np.repeat(_blank(kind), count)


@functools.cache
def _reading_row(*, end: bool, cost: bool, estimated: bool) -> np.dtype:
    """A binary COPY row of ``_READING_COLUMNS`` of one layout: "end" and cost given or NULL,
    and the quality's text."""
    quality = Quality.ESTIMATED if estimated else Quality.ACTUAL
    return _copy_row(
        (
            ("meter_id", "V16", True),
            ("direction", ">i2", True),
            ("start", ">i8", True),
            ("end", ">i8", end),
            ("quantity", _NUMERIC, True),
            ("cost", _NUMERIC, cost),
            ("quality", f"S{len(quality)}", True),
        )
    )


# The table ``duplicates`` searches, as binary COPY rows.
_KEY = _copy_row(
    (
        ("seq", ">i8", True),
        ("line", ">i8", True),
        ("meter_id", "V16", True),
        ("direction", ">i2", True),
        ("start", ">i8", True),
    )
)
# Where each spooled reading came from (native, unpacked until a repeated key needs it).
_ORIGIN = np.dtype([("line", "<i8"), ("meter", "<i4"), ("direction", "<i2"), ("start", "<i8")])


def _numeric(millionths: np.ndarray) -> np.ndarray:
    """numeric(18, 6) values in binary COPY form, one row of 9 int16 per value."""
    whole, fraction = np.divmod(np.abs(millionths), MICRO)
    fraction *= 100
    out = np.empty((len(millionths), 9), dtype=np.int64)
    out[:, :4] = (5, 2, 0, 6)  # digits, weight, sign, display scale
    out[:, 2] = np.where(millionths < 0, _NEGATIVE, 0)
    out[:, 4] = whole // 10**8
    out[:, 5] = whole // 10**4 % 10**4
    out[:, 6] = whole % 10**4
    out[:, 7] = fraction // 10**4
    out[:, 8] = fraction % 10**4
    return out


def _reading_rows(
    batch: Batch, ids: np.ndarray, period: np.ndarray
) -> Iterator[tuple[Batch, np.ndarray]]:
    """The batch's readings as binary COPY rows of ``_READING_COLUMNS``, one array per layout
    (with or without "end" and cost, ACTUAL or ESTIMATED), each in the batch's order, with
    the readings it holds."""
    layout = period * 4 + batch.has_cost * 2 + batch.estimated
    present = np.flatnonzero(np.bincount(layout, minlength=8))
    for code in present:
        rows = batch if len(present) == 1 else batch.take(layout == code)
        kind = _reading_row(end=bool(code & 4), cost=bool(code & 2), estimated=bool(code & 1))
        out = _rows(kind, len(rows))
        out["meter_id"] = ids[rows.meter]
        out["direction"] = rows.direction
        out["start"] = rows.start - _POSTGRES_EPOCH
        out["quantity"] = _numeric(rows.quantity)
        out["quality"] = Quality.ESTIMATED if code & 1 else Quality.ACTUAL
        if "end" in kind.fields:
            out["end"] = rows.end - _POSTGRES_EPOCH
        if "cost" in kind.fields:
            out["cost"] = _numeric(rows.cost)
        yield rows, out


def _key_ranks(ids: np.ndarray) -> np.ndarray:
    """Each meter's place in PostgreSQL's order of their ids (a uuid compares bytewise)."""
    halves = ids.view(">u8").reshape(-1, 2)
    ranks = np.empty(len(ids), dtype=np.int64)
    ranks[np.lexsort((halves[:, 1], halves[:, 0]))] = np.arange(len(ids))
    return ranks


class PostgresStage(Stage):
    """The good rows spooled to temporary files (memory stays flat): the readings in binary
    COPY form, and where each came from. ``store`` copies the readings straight into
    usage_reading when none of the file's meters has readings in its range (a new import: no
    staging table, no anti-join, COPY's batched inserts); otherwise into a staging table, then
    inserts or upserts from there. Where the rows came from is read only to name the lines of a
    repeated (meter, direction, start).

    The readings are copied in primary-key order (meter id, direction, start): each batch is
    sorted and spooled as one segment per meter, and the segments are sent by meter id. A
    file's meters come in its own order and their random ids put each meter's rows in the
    middle of the key index; in key order each meter's rows extend it, and the COPY takes
    about a third less time (``benchmarks/README.md``, "Readings copied in key order")."""

    def __init__(self, meters: Sequence[Meter]) -> None:
        super().__init__(meters)
        self.readings = tempfile.TemporaryFile()  # noqa: SIM115 (closed by drop)
        self.origins = tempfile.TemporaryFile()  # noqa: SIM115 (closed by drop)
        # The spooled readings' runs of one meter: (its id, spool order, offset, bytes).
        self._segments: list[tuple[bytes, int, int, int]] = []

    def _ids(self) -> np.ndarray:
        return np.frombuffer(b"".join(meter.pk.bytes for meter in self.meters), dtype="V16")

    def write(self, batch: Batch, period: np.ndarray) -> None:
        ids = self._ids()
        order = np.lexsort((batch.start, batch.direction, _key_ranks(ids)[batch.meter]))
        for rows, packed in _reading_rows(batch.take(order), ids, period[order]):
            offset, size = self.readings.tell(), packed.itemsize
            self.readings.write(packed.data)
            runs = [0, *(np.flatnonzero(np.diff(rows.meter)) + 1).tolist(), len(rows)]
            for first, end in pairwise(runs):
                meter_id = self.meters[rows.meter[first]].pk.bytes
                at = offset + first * size
                self._segments.append((meter_id, len(self._segments), at, (end - first) * size))
        origins = np.empty(len(batch), dtype=_ORIGIN)
        for name in _ORIGIN.names:
            origins[name] = getattr(batch, name)
        self.origins.write(origins.data)

    def _copy(self, sql: str, chunks: Iterable[bytes | memoryview]) -> None:
        with connection.wrap_database_errors, self.cursor.copy(sql) as copy:
            copy.write(_SIGNATURE)
            for chunk in chunks:
                copy.write(chunk)
            copy.write(_TRAILER)

    def _readings(self) -> Iterator[bytes]:
        """The spooled readings in key order, in messages of about ``_SEND_BYTES``."""
        message = bytearray()
        for _, _, offset, size in sorted(self._segments):
            self.readings.seek(offset)
            message += self.readings.read(size)
            if len(message) >= _SEND_BYTES:
                yield bytes(message)
                message.clear()
        if message:
            yield bytes(message)

    def _keys(self) -> Iterator[memoryview]:
        ids = self._ids()
        self.origins.seek(0)
        seq = 0
        while len(origins := np.fromfile(self.origins, dtype=_ORIGIN, count=BATCH_ROWS)):
            keys = _rows(_KEY, len(origins))
            keys["seq"] = np.arange(seq, seq + len(origins))
            keys["line"] = origins["line"]
            keys["meter_id"] = ids[origins["meter"]]
            keys["direction"] = origins["direction"]
            keys["start"] = origins["start"] - _POSTGRES_EPOCH
            seq += len(origins)
            yield keys.data

    def duplicates(self) -> Errors:
        self.cursor.execute("DROP TABLE IF EXISTS pg_temp.usage_reading_stage")
        self.cursor.execute(
            "CREATE TEMP TABLE usage_reading_stage (seq bigint NOT NULL, line bigint NOT NULL,"
            " meter_id uuid NOT NULL, direction smallint NOT NULL, start timestamptz NOT NULL)"
        )
        self._copy("COPY usage_reading_stage FROM STDIN (FORMAT binary)", self._keys())
        return super().duplicates()

    def lock(self, ranges: list[MeterRange]) -> None:
        # One lock order for every import: two imports sharing meters queue, never deadlock.
        self.cursor.execute(
            "SELECT id FROM customers_meter WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            [[r.meter.pk for r in ranges]],
        )

    def store(self, ranges: list[MeterRange]) -> list[MeterRange]:
        cursor = self.cursor
        cursor.execute(
            "SELECT r.meter_id FROM unnest(%s::uuid[], %s::timestamptz[], %s::timestamptz[])"
            " AS r (meter_id, first, last) WHERE EXISTS (SELECT FROM usage_reading AS reading"
            " WHERE reading.meter_id = r.meter_id AND reading.start BETWEEN r.first AND r.last)",
            [[r.meter.pk for r in ranges], [r.first for r in ranges], [r.last for r in ranges]],
        )
        existing = [meter_id for (meter_id,) in cursor.fetchall()]
        if not existing:
            sql = f"COPY usage_reading {_READING_COLUMNS} FROM STDIN (FORMAT binary)"
            self._copy(sql, self._readings())
            return ranges
        cursor.execute("CREATE TEMP TABLE usage_reading_stage (LIKE usage_reading) ON COMMIT DROP")
        sql = f"COPY usage_reading_stage {_READING_COLUMNS} FROM STDIN (FORMAT binary)"
        self._copy(sql, self._readings())
        if len(existing) < len(ranges):
            cursor.execute(_INSERT_SQL, [existing])
        changed = [r for r in ranges if r.meter.pk not in existing]
        cursor.execute(_UPSERT_SQL, [existing])
        meters = {r.meter.pk: r.meter for r in ranges}
        return changed + [
            MeterRange(meters[m], first, last, end, rows)
            for m, first, last, end, rows in cursor.fetchall()
        ]

    def drop(self) -> None:
        self.readings.close()
        self.origins.close()
        super().drop()


class SqliteStage(Stage):
    """SQLite: exact decimals kept as text."""

    def __init__(self, meters: Sequence[Meter]) -> None:
        super().__init__(meters)
        self.cursor.execute("DROP TABLE IF EXISTS temp.usage_reading_stage")
        self.cursor.execute(
            "CREATE TEMP TABLE usage_reading_stage (seq integer NOT NULL PRIMARY KEY,"
            " line integer NOT NULL, meter_id text NOT NULL, direction integer NOT NULL,"
            " start text NOT NULL, end_at text NOT NULL, period integer NOT NULL,"
            " quantity text NOT NULL, cost text NOT NULL, has_cost integer NOT NULL,"
            " estimated integer NOT NULL)"
        )

    def write(self, batch: Batch, period: np.ndarray) -> None:
        def decimal(millionths: int) -> str:
            return str(Decimal(int(millionths)).scaleb(-6))

        def moment(micros: int) -> str:
            return instant(micros).strftime("%Y-%m-%d %H:%M:%S.%f")

        placeholders = ", ".join(["%s"] * len(_COLUMNS.split(",")))
        self.cursor.executemany(
            f"INSERT INTO usage_reading_stage ({_COLUMNS}) VALUES ({placeholders})",  # noqa: S608
            [
                (
                    self.staged + n,
                    int(batch.line[n]),
                    self.meters[batch.meter[n]].pk.hex,
                    int(batch.direction[n]),
                    moment(batch.start[n]),
                    moment(batch.end[n]),
                    bool(period[n]),
                    decimal(batch.quantity[n]),
                    decimal(batch.cost[n]),
                    bool(batch.has_cost[n]),
                    bool(batch.estimated[n]),
                )
                for n in range(len(batch))
            ],
        )

    def store(self, ranges: list[MeterRange]) -> list[MeterRange]:
        if self.duplicates().total:  # SQLite's upsert would take the last of them silently
            raise IntegrityError("the file repeats a (meter, direction, start)")
        last = -1
        while True:
            self.cursor.execute(
                f"SELECT {_COLUMNS} FROM usage_reading_stage WHERE seq > %s ORDER BY seq LIMIT %s",  # noqa: S608
                [last, BATCH_ROWS],
            )
            rows = self.cursor.fetchall()
            if not rows:
                return ranges
            Reading.objects.bulk_create(
                [
                    Reading(
                        meter_id=uuid.UUID(meter),
                        direction=direction,
                        start=_utc(start),
                        end=_utc(end) if period else None,
                        quantity=Decimal(quantity),
                        cost=Decimal(cost) if has_cost else None,
                        quality=Quality.ESTIMATED if estimated else Quality.ACTUAL,
                    )
                    for (
                        _,
                        _,
                        meter,
                        direction,
                        start,
                        end,
                        period,
                        quantity,
                        cost,
                        has_cost,
                        estimated,
                    ) in rows
                ],
                batch_size=500,
                update_conflicts=True,
                unique_fields=["meter", "direction", "start"],
                update_fields=["end", "quantity", "cost", "quality"],
            )
            last = rows[-1][0]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")
