"""PostgreSQL: readings live in monthly partitions made by migrations, imports and a task."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from usage.models import Reading
from usage.partitions import reading_partitions_ahead, reading_partitions_ensure

from .conftest import ACTUAL, write_readings


@pytest.fixture(autouse=True)
def _postgresql_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("readings are partitioned on PostgreSQL only (a plain table elsewhere)")


def rows_by_partition() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text, count(*) FROM usage_reading GROUP BY 1")
        return dict(cursor.fetchall())


def partitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits"
            " WHERE inhparent = 'usage_reading'::regclass"
        )
        return {name for (name,) in cursor.fetchall()}


def test_the_table_is_range_partitioned_and_keyed_on_meter_direction_start_alone(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'usage_reading'::regclass"
        )
        assert cursor.fetchone() == ("r",)
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'usage_reading'")
        indexes = cursor.fetchone()[0]
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'usage_reading'::regclass AND contype = 'p'"
        )
        key = cursor.fetchone()[0]
    # One index per row to maintain: the natural key (no surrogate id, no other index).
    assert key == "PRIMARY KEY (meter_id, direction, start)"
    assert indexes == 1
    assert "usage_reading_default" in partitions()


def test_an_import_creates_the_months_it_needs(alice, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "meterNumber,start,quantity\n"
        "E-ALICE-1,2019-01-31T23:45:00Z,1\n"
        "E-ALICE-1,2019-03-01T00:00:00Z,2\n"
    )

    call_command("import_readings", str(path), stdout=io.StringIO(), verbosity=0)

    assert {"usage_reading_2019_01", "usage_reading_2019_02", "usage_reading_2019_03"} <= (
        partitions()
    )
    assert rows_by_partition() == {"usage_reading_2019_01": 1, "usage_reading_2019_03": 1}


def test_rows_that_landed_in_default_move_into_their_new_partition(new_meter):
    meter = new_meter()
    write_readings(meter, [(datetime(2018, 5, 3, 12, tzinfo=UTC), Decimal(1), None, ACTUAL)])
    before = list(Reading.objects.values())
    assert rows_by_partition() == {"usage_reading_default": 1}

    assert (
        reading_partitions_ensure(
            start=datetime(2018, 5, 1, tzinfo=UTC), end=datetime(2018, 5, 2, tzinfo=UTC)
        )
        == 1
    )
    assert (
        reading_partitions_ensure(
            start=datetime(2018, 5, 1, tzinfo=UTC), end=datetime(2018, 5, 2, tzinfo=UTC)
        )
        == 0
    )

    assert rows_by_partition() == {"usage_reading_2018_05": 1}
    assert list(Reading.objects.values()) == before


def test_the_beat_task_keeps_the_coming_months_ready(db):
    now = datetime(2031, 11, 15, tzinfo=UTC)

    reading_partitions_ahead(now=now)

    assert {f"usage_reading_{m}" for m in ("2031_11", "2031_12", "2032_01", "2032_02")} <= (
        partitions()
    )
