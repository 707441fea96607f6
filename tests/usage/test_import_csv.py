"""import_readings with CSV: validation with line numbers, all-or-nothing, upsert, rollups."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from customers.models import Meter
from tests.conftest import make_customer
from usage.imports import ReadingsRejected, readings_upsert, staging
from usage.models import Reading, Rollup, RollupDirtyRange

HEADER = "meterNumber,start,quantity,quality,cost\n"


def run_import(path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("import_readings", str(path), *args, stdout=out, verbosity=0)
    return out.getvalue()


@pytest.fixture
def csv_file(tmp_path):
    def write(body: str, name: str = "readings.csv") -> Path:
        path = tmp_path / name
        path.write_text(body, encoding="utf-8")
        return path

    return write


def test_imports_rows_and_keeps_the_meter_bounds(
    alice, csv_file, django_capture_on_commit_callbacks
):
    path = csv_file(
        HEADER + "E-ALICE-1,2026-03-07T00:00:00-05:00,0.412,ACTUAL,\n"
        "E-ALICE-1,2026-03-07T05:15:00Z,1.5,ESTIMATED,0.30\n"
        "E-ALICE-1,2026-03-07T11:00:00+05:30,0.25,,\n"
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        output = run_import(path)

    assert "3 readings for 1 meter(s)" in output
    rows = list(
        Reading.objects.order_by("start").values_list("start", "quantity", "cost", "quality")
    )
    assert rows == [
        (datetime(2026, 3, 7, 5, 0, tzinfo=UTC), Decimal("0.412"), None, "ACTUAL"),
        (datetime(2026, 3, 7, 5, 15, tzinfo=UTC), Decimal("1.5"), Decimal("0.30"), "ESTIMATED"),
        (datetime(2026, 3, 7, 5, 15 + 15, tzinfo=UTC), Decimal("0.25"), None, "ACTUAL"),
    ]
    meter = Meter.objects.get(meter_number="E-ALICE-1")
    assert meter.first_reading_at == datetime(2026, 3, 7, 5, 0, tzinfo=UTC)
    assert meter.last_reading_at == datetime(2026, 3, 7, 5, 45, tzinfo=UTC)  # end of the last
    # One catch-up queued after commit; it ran (eagerly) and cleared its dirty range.
    assert len(callbacks) == 1
    assert not RollupDirtyRange.objects.exists()
    day = Rollup.objects.get(meter=meter, granularity="DAY")
    assert day.quantity == Decimal("2.162")
    assert day.cost == Decimal("0.30") + (Decimal("0.412") + Decimal("0.25")) * Decimal("0.15")
    assert (day.actual_count, day.estimated_count, day.expected_count) == (2, 1, 96)


def test_queues_exactly_the_changed_meter_and_range(
    alice, csv_file, django_capture_on_commit_callbacks
):
    path = csv_file(
        HEADER + "E-ALICE-1,2026-01-10T12:00:00Z,1,,\nE-ALICE-1,2026-01-12T08:45:00Z,2,,\n"
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_import(path)

    dirty = RollupDirtyRange.objects.get()
    assert (dirty.start, dirty.end) == (
        datetime(2026, 1, 10, 12, 0, tzinfo=UTC),
        datetime(2026, 1, 12, 9, 0, tzinfo=UTC),
    )
    assert len(callbacks) == 1


def test_reimport_changes_nothing(alice, csv_file, django_capture_on_commit_callbacks):
    path = csv_file(
        HEADER
        + "".join(
            f"E-ALICE-1,2026-02-01T{hour:02d}:{minute:02d}:00Z,{hour}.{minute:03d},,\n"
            for hour in range(24)
            for minute in (0, 15, 30, 45)
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        run_import(path)
    readings = list(Reading.objects.order_by("start").values())
    rollups = list(Rollup.objects.order_by("granularity", "start").values())

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        output = run_import(path)

    assert list(Reading.objects.order_by("start").values()) == readings
    assert list(Rollup.objects.order_by("granularity", "start").values()) == rollups
    if connection.vendor == "postgresql":  # only rows whose values changed count (and queue)
        assert "96 readings for 1 meter(s), 0 new or changed" in output
        assert callbacks == []


def test_a_file_of_new_and_stored_meters_inserts_the_new_and_upserts_the_stored(
    alice, new_meter, csv_file
):
    """A meter with readings in the file's range takes the upsert; the other meter's rows go in
    as they are (on PostgreSQL a new import's rows are copied straight into the table)."""
    new_meter(meter_number="E-NEW-1")
    run_import(csv_file(HEADER + "E-ALICE-1,2026-03-07T00:00:00Z,1,,\n", "stored.csv"))
    path = csv_file(
        HEADER + "E-ALICE-1,2026-03-07T00:00:00Z,2,ESTIMATED,0.5\n"
        "E-ALICE-1,2026-03-07T00:15:00Z,3,,\n"
        "E-NEW-1,2026-03-07T00:00:00Z,4,ESTIMATED,\n"
        "E-NEW-1,2026-03-07T00:15:00Z,5,,0.25\n",
        "mixed.csv",
    )

    output = run_import(path)

    assert "4 readings for 2 meter(s), 4 new or changed" in output
    rows = Reading.objects.order_by("meter__meter_number", "start")
    assert list(rows.values_list("meter__meter_number", "quantity", "cost", "quality", "end")) == [
        ("E-ALICE-1", Decimal(2), Decimal("0.5"), "ESTIMATED", None),
        ("E-ALICE-1", Decimal(3), None, "ACTUAL", None),
        ("E-NEW-1", Decimal(4), None, "ESTIMATED", None),
        ("E-NEW-1", Decimal(5), Decimal("0.25"), "ACTUAL", None),
    ]


def test_interleaved_meters_and_mixed_rows_are_stored_as_given(alice, new_meter, csv_file):
    """On PostgreSQL the readings are copied in key order, not the file's (one run per meter
    and row layout): rows of three meters, interleaved and out of time order, with and
    without cost and of both qualities, are stored as the file gave them."""
    for number in ("E-B-1", "E-C-1"):
        new_meter(meter_number=number)
    rows = [
        (number, f"2026-03-07T00:{minute:02d}:00Z", str(index + 1), quality, cost)
        for index, (minute, (number, quality, cost)) in enumerate(
            (minute, meter)
            for minute in (45, 0, 30, 15)
            for meter in (
                ("E-C-1", "ESTIMATED", ""),
                ("E-ALICE-1", "", "0.5"),
                ("E-B-1", "ACTUAL" if minute % 30 else "ESTIMATED", "0.25" if minute else ""),
            )
        )
    ]
    run_import(csv_file(HEADER + "".join(",".join(row) + "\n" for row in rows)))

    stored = Reading.objects.values_list(
        "meter__meter_number", "start", "quantity", "quality", "cost"
    )
    assert set(stored) == {
        (
            number,
            datetime.fromisoformat(start),
            Decimal(quantity),
            quality or "ACTUAL",
            Decimal(cost) if cost else None,
        )
        for number, start, quantity, quality, cost in rows
    }


def test_meters_are_ranked_as_postgresql_orders_their_ids(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's order of uuids")
    ids = [uuid.UUID(int=value) for value in (0, 1, 2**63, 2**64, 2**127 + 5, 2**128 - 1)]
    ids += [uuid.uuid4() for _ in range(200)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM unnest(%s::uuid[]) AS id ORDER BY id", [ids])
        ordered = [row[0] for row in cursor.fetchall()]

    ranks = staging._key_ranks(np.frombuffer(b"".join(i.bytes for i in ids), dtype="V16"))

    assert [ids[index] for index in np.argsort(ranks)] == ordered


def test_a_correction_replaces_the_estimate_and_rollups_follow(
    alice, csv_file, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run_import(csv_file(HEADER + "E-ALICE-1,2026-02-01T00:00:00Z,5,ESTIMATED,\n", "a.csv"))
        run_import(csv_file(HEADER + "E-ALICE-1,2026-02-01T00:00:00Z,3.5,ACTUAL,\n", "b.csv"))

    reading = Reading.objects.get()
    assert (reading.quantity, reading.quality) == (Decimal("3.5"), "ACTUAL")
    hour = Rollup.objects.get(granularity="HOUR")
    assert (hour.quantity, hour.actual_count, hour.estimated_count) == (Decimal("3.5"), 1, 0)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("E-ALICE-1,2026-03-07T00:00:00,1,,", "not an RFC 3339 date-time with an offset"),
        ("E-ALICE-1,2026-03-07,1,,", "not an RFC 3339 date-time with an offset"),
        ("E-ALICE-1,2026-03-07T00:07:00-05:00,1,,", "not on meter E-ALICE-1's 900-second grid"),
        ("E-ALICE-1,2026-03-07T00:00:00Z,-0.5,,", "quantity -0.5 is negative"),
        ("E-ALICE-1,2026-03-07T00:00:00Z,1e3,,", "quantity '1e3' is not a decimal number"),
        ("E-ALICE-1,2026-03-07T00:00:00Z,NaN,,", "quantity 'NaN' is not a decimal number"),
        ("E-ALICE-1,2026-03-07T00:00:00Z,0.1234567,,", "more than 6 decimals"),
        (
            "E-ALICE-1,2026-03-07T00:00:00Z,1,GUESSED,",
            "quality 'GUESSED' is not ACTUAL or ESTIMATED",
        ),
        ("E-ALICE-1,2026-03-07T00:00:00Z,1,,abc", "cost 'abc' is not a decimal number"),
        ("E-NOPE,2026-03-07T00:00:00Z,1,,", "unknown meter number 'E-NOPE'"),
        ("E-ALICE-1,2026-03-07T00:00:00Z,1", "expected 5 fields, found 3"),
        ("E-ALICE-1,2099-03-07T00:00:00Z,1,,", "out of range"),
        ("E-ALICE-1,2026-03-07T00:00:00Z,2,,", "same meter, direction and start as line 2"),
    ],
)
def test_one_bad_row_rejects_the_whole_file_naming_its_line(alice, csv_file, row, message):
    path = csv_file(
        HEADER
        + "E-ALICE-1,2026-03-07T00:00:00Z,1,,\n"
        + "E-ALICE-1,2026-03-07T00:15:00Z,1,,\n"
        + row
        + "\n"
        + "E-ALICE-1,2026-03-07T00:30:00Z,1,,\n"
    )
    with pytest.raises(CommandError) as caught:
        run_import(path)

    error = str(caught.value)
    assert "\n" not in error
    assert re.search(f"line 4: [^;]*{re.escape(message)}", error), error
    assert "nothing imported (1 error)" in error
    assert not Reading.objects.exists()
    assert not RollupDirtyRange.objects.exists()
    assert Meter.objects.get(meter_number="E-ALICE-1").first_reading_at is None


def test_the_message_shows_the_first_errors_and_counts_the_rest(alice, csv_file):
    bad = "".join(f"E-ALICE-1,2026-03-07T00:0{i}:00Z,1,,\n" for i in range(1, 9))
    with pytest.raises(CommandError) as caught:
        run_import(csv_file(HEADER + bad))

    error = str(caught.value)
    assert "(8 errors)" in error
    assert "line 2:" in error and "line 6:" in error and "line 7:" not in error
    assert error.endswith("; and 3 more")


def test_duplicates_are_reported_in_line_order_with_row_errors(alice, csv_file):
    path = csv_file(
        HEADER
        + "E-ALICE-1,2026-03-07T00:00:00Z,1,,\n"  # line 2
        + "E-ALICE-1,2026-03-07T00:00:00Z,1,,\n"  # line 3: duplicate of 2
        + "E-ALICE-1,bad,1,,\n"  # line 4
    )
    with pytest.raises(CommandError) as caught:
        run_import(path)

    assert "line 3: same meter, direction and start as line 2; line 4: start 'bad'" in str(
        caught.value
    )


def test_repeated_rows_of_a_new_import_are_named_by_line(alice, csv_file, monkeypatch):
    """On PostgreSQL the repeat breaks the primary key during the write; the lines are then
    found from where each spooled row came from, read back a few rows at a time here."""
    monkeypatch.setattr(staging, "BATCH_ROWS", 2)
    starts = [f"2026-03-07T00:{minute:02d}:00Z" for minute in (0, 15, 30, 45)]
    path = csv_file(
        HEADER
        + "".join(f"E-ALICE-1,{start},1,,\n" for start in starts)  # lines 2-5
        + f"E-ALICE-1,{starts[3]},2,,\n"  # line 6: repeats line 5
        + f"E-ALICE-1,{starts[0]},2,,\n"  # line 7: repeats line 2
    )
    with pytest.raises(CommandError) as caught:
        run_import(path)

    assert (
        "(2 errors): line 6: same meter, direction and start as line 5; line 7: same meter,"
        " direction and start as line 2"
    ) in str(caught.value)
    assert not Reading.objects.exists()


@pytest.mark.parametrize(
    "header",
    ["", "meter,start,quantity\n", "meterNumber,start\n", "meterNumber,start,quantity,start\n"],
)
def test_a_bad_header_is_line_1(alice, csv_file, header):
    with pytest.raises(CommandError, match=r"line 1: "):
        run_import(csv_file(header + "E-ALICE-1,2026-03-07T00:00:00Z,1\n"))


def test_quality_and_cost_columns_are_optional(alice, csv_file):
    run_import(csv_file("start,quantity,meterNumber\n2026-03-07T00:00:00Z,1.25,E-ALICE-1\n"))

    assert Reading.objects.values_list("quantity", "cost", "quality").get() == (
        Decimal("1.25"),
        None,
        "ACTUAL",
    )


def test_meter_numbers_are_scoped_by_utility(alice, bob, csv_file):
    make_customer(bob.utility, "carol", meter_number="E-ALICE-1")  # same number at Globex
    path = csv_file(HEADER + "E-ALICE-1,2026-03-07T00:00:00Z,1,,\n")

    with pytest.raises(CommandError, match="exists at several utilities: pass --utility"):
        run_import(path)
    run_import(path, "--utility", "globex")

    assert Reading.objects.get().meter.utility.slug == "globex"


def test_meter_option_restricts_a_csv_to_that_meter(alice, bob, csv_file):
    path = csv_file(HEADER + "E-BOB-1,2026-03-07T00:00:00Z,1,,\n")

    with pytest.raises(CommandError, match="is not the meter --meter names"):
        run_import(path, "--meter", "E-ALICE-1")


def test_unreadable_and_unknown_arguments_exit_with_one_line(alice, tmp_path, csv_file):
    with pytest.raises(CommandError, match="cannot read"):
        run_import(tmp_path / "missing.csv")
    with pytest.raises(CommandError, match="unknown utility 'nope'"):
        run_import(csv_file(HEADER), "--utility", "nope")
    with pytest.raises(CommandError, match="no readings in the file"):
        run_import(csv_file(HEADER))
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(
        HEADER.encode() + "E-ALICE-1,2026-03-07T00:00:00Z,1,,caf\xe9\n".encode("latin-1")
    )
    with pytest.raises(CommandError, match="not UTF-8"):
        run_import(latin1)


def test_generated_readings_go_through_the_same_checks(alice):
    meter = Meter.objects.select_related("account__customer").get(meter_number="E-ALICE-1")
    good = (datetime(2026, 3, 7, 0, 0, tzinfo=UTC), Decimal(1), None, "ACTUAL")
    misaligned = (datetime(2026, 3, 7, 0, 5, tzinfo=UTC), Decimal(1), None, "ACTUAL")

    with pytest.raises(ReadingsRejected, match="line 2: start 2026-03-07T00:05:00"):
        readings_upsert(meter=meter, readings=[good, misaligned])
    result = readings_upsert(meter=meter, readings=[good])

    assert (result.rows, Reading.objects.count()) == (1, 1)


def test_blank_lines_are_skipped_but_counted_and_quotes_are_csv(alice, csv_file):
    """Line numbers stay physical lines whichever parse path a chunk takes."""
    path = csv_file(
        HEADER
        + "E-ALICE-1,2026-03-07T00:00:00Z,1,,\n"  # line 2
        + "\n"  # line 3: empty
        + '"E-ALICE-1","2026-03-07T00:15:00Z","2.5","ESTIMATED",""\n'  # line 4: quoted
        + "   \n"  # line 5: only spaces
        + ",,,,\n"  # line 6: only separators
        + "E-ALICE-1,2026-03-07T00:30:00Z,-1,,\n"  # line 7: bad
    )
    with pytest.raises(CommandError, match=r"\(1 error\): line 7: quantity -1 is negative$"):
        run_import(path)

    path.write_text(path.read_text().replace(",-1,", ",3,"))
    run_import(path)

    assert list(Reading.objects.order_by("start").values_list("quantity", "quality")) == [
        (Decimal(1), "ACTUAL"),
        (Decimal("2.5"), "ESTIMATED"),
        (Decimal(3), "ACTUAL"),
    ]


def test_lines_after_a_malformed_row_keep_their_numbers(alice, csv_file):
    path = csv_file(
        HEADER
        + "E-ALICE-1,2026-03-07T00:00:00Z,1,,,extra\n"  # line 2: six fields
        + '"E-ALICE-1,2026-03-07T00:15:00Z,1,,\n'  # line 3: unterminated quote
        + "E-ALICE-1,2026-03-07T00:30:00Z,1.0000001,,\n"  # line 4
    )
    with pytest.raises(CommandError) as caught:
        run_import(path)

    error = str(caught.value)
    assert "(3 errors)" in error
    assert "line 2: expected 5 fields, found 6" in error
    assert "line 3: " in error
    assert "line 4: quantity 1.0000001 has more than 6 decimals or is too large" in error


def test_deleting_a_meter_deletes_its_readings(alice, csv_file):
    """The readings table has no database FK to meters: Django's CASCADE does the work."""
    run_import(csv_file(HEADER + "E-ALICE-1,2026-03-07T00:00:00Z,1,,\n"))

    Meter.objects.get(meter_number="E-ALICE-1").delete()

    assert not Reading.objects.exists()
