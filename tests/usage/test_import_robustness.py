"""import_readings under concurrency, against bombs, and with memory flat in the file's size."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from customers.models import Meter
from usage.models import Reading

from .test_import_espi import espi_feed, import_espi, interval_reading

ROOT = Path(__file__).resolve().parents[2]
HEADER = "meterNumber,start,quantity\n"
DAY = datetime(2025, 1, 1, tzinfo=UTC)


def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks, partitions and other connections: PostgreSQL only")


def other_connection() -> psycopg.Connection:
    """A second session on the test database (autocommit)."""
    params = connection.get_connection_params()
    return psycopg.connect(
        dbname=params["dbname"],
        user=params.get("user") or "postgres",
        host=params.get("host") or "127.0.0.1",
        port=params.get("port") or 5432,
        autocommit=True,
    )


def readings_csv(path: Path, meters: list[str], days: int, value: str) -> Path:
    with path.open("w") as out:
        out.write(HEADER)
        for number in meters:
            for n in range(days * 96):
                start = DAY + timedelta(minutes=15 * n)
                out.write(f"{number},{start:%Y-%m-%dT%H:%M:%SZ},{value}\n")
    return path


def wait_for_a_lock_wait(observer: psycopg.Connection) -> None:
    """Returns once a session of the test database waits for a lock (the import, for the
    meter); fails after 30 s."""
    for _ in range(600):
        waiting = observer.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock'"
        ).fetchone()[0]
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError("the import never reached the meter lock")


def import_in_thread(path: Path, outcome: dict[str, BaseException | None], gate) -> None:
    try:
        gate.wait()
        call_command("import_readings", str(path), stdout=io.StringIO(), verbosity=0)
        outcome[path.name] = None
    except BaseException as error:
        outcome[path.name] = error
    finally:
        connections.close_all()


@contextmanager
def importing_behind_a_meter_lock(
    meter: Meter, path: Path, outcome: dict[str, BaseException | None], *, end: str
) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    """Imports ``path`` in a thread while another session holds ``meter``'s row lock. Yields
    (holder, observer) once the import waits for it; then the holder ends its transaction with
    ``end`` (COMMIT or ROLLBACK) and the import finishes."""
    with other_connection() as holder, other_connection() as observer:
        holder.execute("BEGIN")
        holder.execute("SELECT FROM customers_meter WHERE id = %s FOR UPDATE", [meter.pk])
        importer = threading.Thread(
            target=import_in_thread, args=(path, outcome, threading.Barrier(1))
        )
        importer.start()
        try:
            wait_for_a_lock_wait(observer)
            yield holder, observer
        finally:
            holder.execute(end)
            importer.join()


@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_of_overlapping_files_do_not_deadlock(alice, new_meter, tmp_path):
    postgres_only()
    new_meter(meter_number="E-ALICE-2")
    both = ["E-ALICE-1", "E-ALICE-2"]
    # Both meters already have these readings: both imports take the upsert path.
    call_command(
        "import_readings",
        str(readings_csv(tmp_path / "first.csv", both, 20, "1")),
        stdout=io.StringIO(),
        verbosity=0,
    )
    files = [
        readings_csv(tmp_path / "a.csv", both, 20, "2"),  # meter 1, then meter 2
        readings_csv(tmp_path / "b.csv", both[::-1], 20, "3"),  # meter 2, then meter 1
    ]
    for _ in range(3):
        outcome: dict[str, BaseException | None] = {}
        gate = threading.Barrier(2)
        threads = [
            threading.Thread(target=import_in_thread, args=(path, outcome, gate)) for path in files
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        for error in outcome.values():  # each succeeded, or failed with a one-line reason
            assert error is None or (isinstance(error, CommandError) and "\n" not in str(error))
        assert any(error is None for error in outcome.values())
        # Every reading is one file's value: no half-written file.
        values = set(Reading.objects.values_list("meter__meter_number", "quantity").distinct())
        assert len(values) == 2
        assert {quantity for _, quantity in values} <= {Decimal(2), Decimal(3)}
    assert Reading.objects.count() == 2 * 20 * 96


@pytest.mark.django_db(transaction=True)
def test_a_new_months_partition_is_committed_before_the_write_takes_its_locks(alice, tmp_path):
    postgres_only()
    meter = Meter.objects.get(meter_number="E-ALICE-1")
    path = tmp_path / "new-month.csv"
    path.write_text(HEADER + "E-ALICE-1,1997-06-01T00:00:00Z,1\n")
    outcome: dict[str, BaseException | None] = {}
    with importing_behind_a_meter_lock(meter, path, outcome, end="ROLLBACK") as (_, observer):
        partition = observer.execute("SELECT to_regclass('usage_reading_1997_06')").fetchone()
        table_locks = observer.execute(
            "SELECT count(*) FROM pg_locks AS lock"
            " JOIN pg_class ON pg_class.oid = lock.relation"
            " WHERE pg_class.relname = 'usage_reading' AND lock.mode = 'AccessExclusiveLock'"
        ).fetchone()[0]

    assert partition[0] is not None  # created and committed on its own
    assert table_locks == 0  # nobody holds the readings table while the import waits
    assert outcome[path.name] is None
    assert Reading.objects.get().start == datetime(1997, 6, 1, tzinfo=UTC)


@pytest.mark.django_db
def test_a_huge_line_is_refused_before_it_is_read_whole(alice, tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text(HEADER + "E-ALICE-1,2025-01-01T00:00:00Z,1\n" + "9" * 3_000_000)

    with pytest.raises(CommandError, match=r"line 3: the line is longer than 65,536 bytes"):
        call_command("import_readings", str(path), stdout=io.StringIO(), verbosity=0)
    assert not Reading.objects.exists()


@pytest.mark.django_db
def test_a_huge_field_is_a_bad_row_quoted_short(alice, tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(HEADER + "E-ALICE-1,2025-01-01T00:00:00Z," + "1" * 60_000 + "\n")

    with pytest.raises(CommandError) as caught:
        call_command("import_readings", str(path), stdout=io.StringIO(), verbosity=0)
    assert "line 2: quantity" in str(caught.value)
    assert len(str(caught.value)) < 300


@pytest.fixture
def gas_meter(new_meter) -> Meter:
    return new_meter(
        service_type="GAS",
        unit_of_measure="therm",
        interval_seconds=86400,
        timezone="America/New_York",
        meter_number="G-1",
    )


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(2, 10)).replace(
        "&lol1;", "&lol;"
    )
    + "]><feed>&lol9;</feed>"
)


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        (LAUGHS, "refused XML construct"),
        (
            espi_feed("<x>" * 100_000 + "</x>" * 100_000),
            "elements nested more than 32 deep",
        ),
        (
            espi_feed(interval_reading(datetime(2024, 1, 10, 5, tzinfo=UTC), "7" * 100_000)),
            "text longer than 65,536 characters",
        ),
        (
            espi_feed(interval_reading(datetime(2024, 1, 10, 5, tzinfo=UTC), "7" * 5_000)),
            "IntervalReading needs an integer value",
        ),
    ],
    ids=["billion-laughs", "deep-nesting", "huge-text", "huge-number"],
)
def test_xml_bombs_are_refused_with_one_line(gas_meter, tmp_path, feed, message):
    path = tmp_path / "bomb.xml"
    path.write_text(feed)

    with pytest.raises(CommandError) as caught:
        import_espi(path, "G-1")

    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not Reading.objects.exists()


def peak_rss_kib(path: Path) -> int:
    """Peak resident memory of a fresh process importing ``path`` into the test database."""
    params = connection.get_connection_params()
    url = (
        f"postgres://{params.get('user') or 'postgres'}@{params.get('host') or '127.0.0.1'}:"
        f"{params.get('port') or 5432}/{params['dbname']}"
    )
    child = subprocess.run(  # noqa: S603 - this interpreter and our own code
        [
            sys.executable,
            "-c",
            "import resource, sys, django; django.setup();"
            "from unittest import mock; from pathlib import Path;"
            "from usage.imports import service;"
            "mock.patch.object(service, 'rollups_catch_up', mock.Mock()).start();"
            "service.readings_import(path=Path(sys.argv[1]));"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)",
            str(path),
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "energygrid.settings"},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return int(child.stdout.split()[-1])


@pytest.mark.django_db(transaction=True)
def test_memory_stays_flat_in_the_files_size(alice, new_meter, tmp_path):
    postgres_only()
    numbers = ["E-ALICE-1"] + [new_meter(meter_number=f"E-M-{n}").meter_number for n in range(7)]
    small = readings_csv(tmp_path / "small.csv", numbers[:1], 100, "1.25")  # 9,600 rows
    large = readings_csv(tmp_path / "large.csv", numbers, 400, "1.25")  # 307,200 rows, 32x

    grown = peak_rss_kib(large) - peak_rss_kib(small)

    assert Reading.objects.count() == 8 * 400 * 96
    assert grown < 64 * 1024, f"peak RSS grew by {grown / 1024:.0f} MiB for 32x the rows"


@pytest.mark.django_db(transaction=True)
def test_read_periods_are_checked_for_overlaps_under_the_meter_lock(new_gas_meter, tmp_path):
    """A read period committed by whoever held the meter while the import waited is seen."""
    postgres_only()
    meter = new_gas_meter()
    path = tmp_path / "periods.csv"
    path.write_text(
        "meterNumber,start,end,quantity\nGAS-1,2025-01-05T05:00:00Z,2025-02-03T05:00:00Z,61\n"
    )
    outcome: dict[str, BaseException | None] = {}
    with importing_behind_a_meter_lock(meter, path, outcome, end="COMMIT") as (holder, _):
        holder.execute(
            'INSERT INTO usage_reading (meter_id, direction, start, "end", quantity, quality)'
            " VALUES (%s, 1, '2025-01-20T05:00Z', '2025-02-20T05:00Z', 30, 'ACTUAL')",
            [meter.pk],
        )

    error = outcome[path.name]
    assert isinstance(error, CommandError), error
    assert (
        "line 2: read period 2025-01-05T05:00:00+00:00 to 2025-02-03T05:00:00+00:00 overlaps "
        "the stored one 2025-01-20T05:00:00+00:00 to 2025-02-20T05:00:00+00:00" in str(error)
    )
    assert list(Reading.objects.values_list("quantity", flat=True)) == [Decimal(30)]
