"""The staging table holding one file's validated rows until they are all known good, and the
upsert from it into ``usage_reading``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection

from customers.models import Meter
from usage.imports.validation import BATCH_ROWS, ERRORS_SHOWN, Errors, StagedReading
from usage.models import Reading

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


class Stage:
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

    def duplicates(self) -> Errors:
        """Rows repeating an earlier row's (meter, start): the first few, and how many."""
        self.cursor.execute(_DUPLICATES_SQL, [ERRORS_SHOWN])
        found = Errors()
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


class PostgresStage(Stage):
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


class SqliteStage(Stage):
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
