"""The staging table holding one file's good rows until the whole file is known good, and the
write from it into ``usage_reading``.

PostgreSQL: each Batch is packed by numpy into PostgreSQL's binary COPY format (fixed-width
rows, no per-row Python) and copied into a session-temporary table. The write then locks the
file's meters in id order, inserts the rows of meters that have no readings in the file's
range with a plain ``INSERT ... SELECT`` and upserts the others (``ON CONFLICT``, in key order,
counting only rows whose values changed). A file repeating a (meter, start) fails the unique
key there; only then is the staging table searched for the repeated lines.

SQLite (the demo): the same table filled by ``executemany`` and Django's
``bulk_create(update_conflicts=True)``; every staged row counts as changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

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
from usage.models import Quality, Reading

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

_COLUMNS = "seq, line, meter_id, start, quantity, cost, has_cost, estimated"

# Staged rows as readings, for the meters in (or not in) a list.
_READINGS = f"""
    SELECT meter_id, start, quantity, CASE WHEN has_cost THEN cost END,
           CASE WHEN estimated THEN '{Quality.ESTIMATED}' ELSE '{Quality.ACTUAL}' END
    FROM usage_reading_stage
"""  # noqa: S608 (constant SQL)
_INSERT_SQL = f"""
    INSERT INTO usage_reading (meter_id, start, quantity, cost, quality)
    {_READINGS} WHERE meter_id <> ALL(%s)
"""
# In key order, so two upserts of the same rows lock them in the same order.
_UPSERT_SQL = f"""
    WITH changed AS (
        INSERT INTO usage_reading AS reading (meter_id, start, quantity, cost, quality)
        {_READINGS} WHERE meter_id = ANY(%s)
        ORDER BY meter_id, start
        ON CONFLICT (meter_id, direction, start) DO UPDATE SET
            quantity = EXCLUDED.quantity, cost = EXCLUDED.cost, quality = EXCLUDED.quality
        WHERE (reading.quantity, reading.cost, reading.quality)
              IS DISTINCT FROM (EXCLUDED.quantity, EXCLUDED.cost, EXCLUDED.quality)
        RETURNING reading.meter_id, reading.start
    )
    SELECT meter_id, min(start), max(start), count(*) FROM changed GROUP BY meter_id
"""  # noqa: S608 (constant SQL)


@dataclass(frozen=True, slots=True)
class MeterRange:
    """What the file (or the write) holds for one meter: first and last start, rows."""

    meter: Meter
    first: datetime
    last: datetime
    rows: int


class Stage:
    """A temporary table of the good rows; ``seq`` numbers them in file order (several ESPI
    readings can share a line)."""

    def __init__(self, meters: Sequence[Meter]) -> None:
        self.meters = meters
        self.cursor = connection.cursor()
        self.staged = 0
        self._ranges: list[pd.DataFrame] = []

    def add(self, batch: Batch) -> None:
        if not len(batch):
            return
        self.write(batch)
        self.staged += len(batch)
        frame = pd.DataFrame({"meter": batch.meter, "start": batch.start})
        self._ranges.append(frame.groupby("meter")["start"].agg(["min", "max", "count"]))

    def ranges(self) -> list[MeterRange]:
        """Per meter of the file, the range of its staged rows."""
        if not self._ranges:
            return []
        frame = (
            pd.concat(self._ranges)
            .groupby(level=0)
            .agg({"min": "min", "max": "max", "count": "sum"})
        )
        columns = (frame.index, frame["min"], frame["max"], frame["count"])
        return [
            MeterRange(self.meters[index], instant(first), instant(last), int(rows))
            for index, first, last, rows in zip(*columns, strict=True)
        ]

    def duplicates(self) -> Errors:
        """Rows repeating an earlier row's (meter, start): the first few, and how many."""
        self.cursor.execute(_DUPLICATES_SQL, [ERRORS_SHOWN])
        found = Errors()
        for line, first_line, total in self.cursor.fetchall():
            found.keep(line, f"same meter and start as line {first_line}")
            found.total = total
        return found

    def write(self, batch: Batch) -> None:
        """Stages ``batch``, numbering its rows on from those already staged."""
        raise NotImplementedError

    def store(self, ranges: list[MeterRange]) -> list[MeterRange]:
        """Writes the staged rows into usage_reading; returns the ranges that changed."""
        raise NotImplementedError

    def drop(self) -> None:
        self.cursor.execute("DROP TABLE IF EXISTS usage_reading_stage")
        self.cursor.close()


# PostgreSQL's binary COPY: a signature, then per row a field count and (length, value) pairs,
# big-endian; numeric(18, 6) as 5 base-10000 digits (weight 2: 3 whole, 2 fractional).
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_TRAILER = b"\xff\xff"
_NUMERIC = (">i2", (9,))
_FIELDS = (
    ("seq", ">i8"),
    ("line", ">i8"),
    ("meter_id", "V16"),
    ("start", ">i8"),
    ("quantity", _NUMERIC),
    ("cost", _NUMERIC),
    ("has_cost", "u1"),
    ("estimated", "u1"),
)
_ROW = np.dtype(
    [("fields", ">i2")]
    + [item for name, kind in _FIELDS for item in ((f"{name}_size", ">i4"), (name, kind))]
)
_POSTGRES_EPOCH = micros(datetime.fromisoformat("2000-01-01T00:00:00+00:00"))
_NEGATIVE = 0x4000


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


class PostgresStage(Stage):
    def __init__(self, meters: Sequence[Meter]) -> None:
        super().__init__(meters)
        self.cursor.execute("DROP TABLE IF EXISTS pg_temp.usage_reading_stage")
        self.cursor.execute(
            "CREATE TEMP TABLE usage_reading_stage (seq bigint NOT NULL, line bigint NOT NULL,"
            " meter_id uuid NOT NULL, start timestamptz NOT NULL, quantity numeric(18, 6) NOT NULL,"
            " cost numeric(18, 6) NOT NULL, has_cost boolean NOT NULL, estimated boolean NOT NULL)"
        )

    def write(self, batch: Batch) -> None:
        ids = np.frombuffer(b"".join(meter.pk.bytes for meter in self.meters), dtype="V16")
        rows = np.empty(len(batch), dtype=_ROW)
        rows["fields"] = len(_FIELDS)
        for name, kind in _FIELDS:
            rows[f"{name}_size"] = np.dtype(kind).itemsize
        rows["seq"] = np.arange(self.staged, self.staged + len(batch))
        rows["line"] = batch.line
        rows["meter_id"] = ids[batch.meter]
        rows["start"] = batch.start - _POSTGRES_EPOCH
        rows["quantity"] = _numeric(batch.quantity)
        rows["cost"] = _numeric(batch.cost)
        rows["has_cost"] = batch.has_cost
        rows["estimated"] = batch.estimated
        sql = f"COPY usage_reading_stage ({_COLUMNS}) FROM STDIN (FORMAT binary)"
        with self.cursor.copy(sql) as copy:
            copy.write(_SIGNATURE)
            copy.write(rows.data)
            copy.write(_TRAILER)

    def store(self, ranges: list[MeterRange]) -> list[MeterRange]:
        cursor = self.cursor
        # One lock order for every import: two imports sharing meters queue, never deadlock.
        cursor.execute(
            "SELECT id FROM customers_meter WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            [[r.meter.pk for r in ranges]],
        )
        cursor.execute(
            "SELECT r.meter_id FROM unnest(%s::uuid[], %s::timestamptz[], %s::timestamptz[])"
            " AS r (meter_id, first, last) WHERE EXISTS (SELECT FROM usage_reading AS reading"
            " WHERE reading.meter_id = r.meter_id AND reading.start BETWEEN r.first AND r.last)",
            [[r.meter.pk for r in ranges], [r.first for r in ranges], [r.last for r in ranges]],
        )
        existing = [meter_id for (meter_id,) in cursor.fetchall()]
        if len(existing) < len(ranges):
            cursor.execute(_INSERT_SQL, [existing])
        changed = [r for r in ranges if r.meter.pk not in existing]
        if existing:
            cursor.execute(_UPSERT_SQL, [existing])
            meters = {r.meter.pk: r.meter for r in ranges}
            changed += [MeterRange(meters[m], lo, hi, n) for m, lo, hi, n in cursor.fetchall()]
        return changed


class SqliteStage(Stage):
    """SQLite: exact decimals kept as text."""

    def __init__(self, meters: Sequence[Meter]) -> None:
        super().__init__(meters)
        self.cursor.execute("DROP TABLE IF EXISTS temp.usage_reading_stage")
        self.cursor.execute(
            "CREATE TEMP TABLE usage_reading_stage (seq integer NOT NULL PRIMARY KEY,"
            " line integer NOT NULL, meter_id text NOT NULL, start text NOT NULL,"
            " quantity text NOT NULL, cost text NOT NULL, has_cost integer NOT NULL,"
            " estimated integer NOT NULL)"
        )

    def write(self, batch: Batch) -> None:
        def decimal(millionths: int) -> str:
            return str(Decimal(int(millionths)).scaleb(-6))

        self.cursor.executemany(
            f"INSERT INTO usage_reading_stage ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
            [
                (
                    self.staged + n,
                    int(batch.line[n]),
                    self.meters[batch.meter[n]].pk.hex,
                    instant(batch.start[n]).strftime("%Y-%m-%d %H:%M:%S.%f"),
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
            raise IntegrityError("the file repeats a (meter, start)")
        last = -1
        while True:
            self.cursor.execute(
                "SELECT seq, meter_id, start, quantity, cost, has_cost, estimated"
                " FROM usage_reading_stage WHERE seq > %s ORDER BY seq LIMIT %s",
                [last, BATCH_ROWS],
            )
            rows = self.cursor.fetchall()
            if not rows:
                return ranges
            Reading.objects.bulk_create(
                [
                    Reading(
                        meter_id=uuid.UUID(meter),
                        start=datetime.fromisoformat(start + "+00:00"),
                        quantity=Decimal(quantity),
                        cost=Decimal(cost) if has_cost else None,
                        quality=Quality.ESTIMATED if estimated else Quality.ACTUAL,
                    )
                    for _, meter, start, quantity, cost, has_cost, estimated in rows
                ],
                batch_size=500,
                update_conflicts=True,
                unique_fields=["meter", "direction", "start"],
                update_fields=["quantity", "cost", "quality"],
            )
            last = rows[-1][0]
