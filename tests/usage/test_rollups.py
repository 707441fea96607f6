"""Rollups: buckets partition the data, totals equal the raw sums, incremental = full rebuild."""

from __future__ import annotations

import io
import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metadata.catalog import Granularity
from usage.calendar import bucket_bounds, zone
from usage.imports import readings_upsert
from usage.models import ROLLUP_FIGURES, Reading, Rollup, RollupDirtyRange, RollupRevision
from usage.rollups import (
    rollup_granularities,
    rollups_catch_up_pending,
    rollups_rebuild,
    rollups_rebuild_many,
    rollups_refresh,
)
from usage.tasks import rollups_catch_up

from .conftest import ACTUAL, ESTIMATED, write_readings

ZONES = [
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Europe/London",
    "America/Santiago",
]
# Around DST transitions of those zones (and an ordinary stretch).
ANCHORS = [
    datetime(2025, 3, 9, 3, tzinfo=UTC),
    datetime(2025, 11, 2, 2, tzinfo=UTC),
    datetime(2025, 4, 5, 12, tzinfo=UTC),
    datetime(2025, 10, 4, 12, tzinfo=UTC),
    datetime(2025, 3, 30, 0, tzinfo=UTC),
    datetime(2025, 9, 6, 0, tzinfo=UTC),
    datetime(2025, 6, 28, 0, tzinfo=UTC),
]
FIGURES = (
    "granularity",
    "start",
    "end",
    "quantity",
    "cost",
    "actual_count",
    "estimated_count",
    "expected_count",
    "peak_quantity",
)


def tou_price(start: datetime, timezone: str) -> Decimal:
    """The TOU fixture's rule, written out: weekdays 16:00-21:00 local at 0.31, else 0.12."""
    local = start.astimezone(zone(timezone))
    return Decimal("0.31") if local.isoweekday() <= 5 and 16 <= local.hour < 21 else Decimal("0.12")


def snapshot(meter) -> list[tuple]:
    return list(
        Rollup.objects.filter(meter=meter).order_by("granularity", "start").values_list(*FIGURES)
    )


@st.composite
def meter_data(draw):
    """A meter (zone, interval, billing cycle day) and a random subset of its slots near a DST
    transition, each with a quantity, maybe its own cost, and a quality."""
    timezone = draw(st.sampled_from(ZONES))
    interval = draw(st.sampled_from([900, 900, 3600]))
    cycle_day = draw(st.integers(1, 31))
    start = draw(st.sampled_from(ANCHORS)) + timedelta(hours=draw(st.integers(-36, 36)))
    days = draw(st.integers(1, 10))
    slots = [
        b
        for b in bucket_bounds(
            timezone=timezone,
            granularity=Granularity.FIFTEEN_MINUTE,
            billing_cycle_day=cycle_day,
            start=start,
            end=start + timedelta(days=days),
        )[:-1]
        if (int(b.timestamp()) + int(b.astimezone(zone(timezone)).utcoffset().total_seconds()))
        % interval
        == 0
    ]
    chosen = draw(
        st.lists(st.sampled_from(slots), min_size=1, max_size=60, unique=True).map(sorted)
    )
    readings = [
        (
            slot,
            draw(st.decimals(0, 99, places=3)),
            draw(st.none() | st.decimals(0, 9, places=2)),
            draw(st.sampled_from([ACTUAL, ACTUAL, ESTIMATED])),
        )
        for slot in chosen
    ]
    return timezone, interval, cycle_day, readings


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=meter_data())
def test_rollups_partition_the_readings_and_equal_their_sums(new_meter, tou_tariff, data):
    timezone, interval, cycle_day, readings = data
    with transaction.atomic():
        meter = new_meter(
            timezone=timezone,
            interval_seconds=interval,
            billing_cycle_day=cycle_day,
            tariff=tou_tariff,
        )
        write_readings(meter, readings)
        rollups_rebuild(meter=meter)

        def cost(start, quantity, own_cost):
            return own_cost if own_cost is not None else quantity * tou_price(start, timezone)

        for granularity in rollup_granularities(meter):
            rows = list(
                Rollup.objects.filter(meter=meter, granularity=granularity.name).order_by("start")
            )
            # The rows are exactly the calendar buckets that hold readings, in order.
            first, last = readings[0][0], readings[-1][0]
            edges = bucket_bounds(
                timezone=timezone,
                granularity=granularity,
                billing_cycle_day=cycle_day,
                start=first,
                end=last + timedelta(seconds=interval),
            )
            buckets = list(itertools.pairwise(edges))
            assert sum((b - a for a, b in buckets), timedelta()) == edges[-1] - edges[0]
            in_bucket = defaultdict(list)
            for reading in readings:
                (bucket,) = [(a, b) for a, b in buckets if a <= reading[0] < b]
                in_bucket[bucket].append(reading)
            assert [(row.start, row.end) for row in rows] == sorted(in_bucket)
            for row in rows:
                mine = in_bucket[(row.start, row.end)]
                assert row.quantity == sum(q for _, q, _, _ in mine)
                assert row.cost == sum(cost(s, q, c) for s, q, c, _ in mine)
                assert row.actual_count == sum(1 for *_, quality in mine if quality == ACTUAL)
                assert row.estimated_count == len(mine) - row.actual_count
                assert row.peak_quantity == max(q for _, q, _, _ in mine)
                real = Decimal(int((row.end - row.start).total_seconds()))
                assert row.expected_count == (real / interval).quantize(Decimal("0.0001"))
            # Bucket totals add up to the raw sums.
            assert sum(row.quantity for row in rows) == sum(q for _, q, _, _ in readings)
            assert sum(row.cost for row in rows) == sum(cost(s, q, c) for s, q, c, _ in readings)
        transaction.set_rollback(True)


def full_days(meter, first_day: datetime, days: int, quantity: str = "0.25") -> list[tuple]:
    slots = int(days * 86400 / meter.interval_seconds)
    step = timedelta(seconds=meter.interval_seconds)
    return [(first_day + i * step, Decimal(quantity), None, ACTUAL) for i in range(slots)]


def local_day_rows(meter, granularity: str = "DAY") -> dict[str, Rollup]:
    tz = zone(meter.timezone)
    return {
        row.start.astimezone(tz).isoformat(): row
        for row in Rollup.objects.filter(meter=meter, granularity=granularity)
    }


def test_new_york_dst_days_are_23_and_25_hours_of_readings(new_meter):
    meter = new_meter(timezone="America/New_York")
    write_readings(meter, full_days(meter, datetime(2026, 3, 7, 5, tzinfo=UTC), 3))
    write_readings(meter, full_days(meter, datetime(2026, 10, 31, 4, tzinfo=UTC), 3))

    rollups_rebuild(meter=meter)

    days = local_day_rows(meter)
    spring = days["2026-03-08T00:00:00-05:00"]
    fall = days["2026-11-01T00:00:00-04:00"]
    assert spring.end - spring.start == timedelta(hours=23)
    assert (spring.actual_count, spring.expected_count, spring.quantity) == (92, 92, Decimal(23))
    assert fall.end - fall.start == timedelta(hours=25)
    assert (fall.actual_count, fall.expected_count, fall.quantity) == (100, 100, Decimal(25))
    hours = local_day_rows(meter, "HOUR")
    assert hours["2026-11-01T01:00:00-04:00"].quantity == Decimal(1)
    assert hours["2026-11-01T01:00:00-05:00"].quantity == Decimal(1)
    assert "2026-03-08T02:00:00-05:00" not in hours  # that local hour never happened


def test_a_missing_hour_shows_in_the_counts_not_the_expected(new_meter):
    meter = new_meter(timezone="Asia/Kolkata", interval_seconds=3600)
    readings = full_days(meter, datetime(2026, 1, 4, 18, 30, tzinfo=UTC), 1)
    write_readings(meter, readings[:5] + readings[6:])

    rollups_rebuild(meter=meter)

    (day,) = local_day_rows(meter).values()
    assert day.start == datetime(2026, 1, 4, 18, 30, tzinfo=UTC)
    assert (day.actual_count, day.expected_count) == (23, 24)
    assert not Rollup.objects.filter(meter=meter, granularity="HOUR", start=readings[5][0])


def test_an_hourly_meter_in_lord_howe_expects_fractional_intervals(new_meter):
    meter = new_meter(timezone="Australia/Lord_Howe", interval_seconds=3600)
    write_readings(meter, [(datetime(2026, 4, 4, 14, tzinfo=UTC), Decimal(1), None, ACTUAL)])

    rollups_rebuild(meter=meter)

    (day,) = local_day_rows(meter).values()
    assert day.expected_count == Decimal("24.5")


def test_daily_meters_have_no_hour_rollups(new_meter):
    meter = new_meter(service_type="GAS", unit_of_measure="therm", interval_seconds=86400)
    write_readings(meter, [(datetime(2026, 1, 5, 5, tzinfo=UTC), Decimal(3), None, ACTUAL)])

    rollups_rebuild(meter=meter)

    assert rollup_granularities(meter) == [
        Granularity.DAY,
        Granularity.WEEK,
        Granularity.MONTH,
        Granularity.BILLING_PERIOD,
    ]
    assert not Rollup.objects.filter(granularity="HOUR").exists()


def test_incremental_catch_up_equals_a_full_rebuild(
    new_meter, tou_tariff, django_capture_on_commit_callbacks
):
    meter = new_meter(timezone="America/New_York", tariff=tou_tariff)
    first = full_days(meter, datetime(2026, 2, 27, 5, tzinfo=UTC), 12)
    with django_capture_on_commit_callbacks(execute=True):
        readings_upsert(meter=meter, readings=first)
        # A correction of one day, estimates for a later stretch, and a new month.
        readings_upsert(
            meter=meter, readings=full_days(meter, datetime(2026, 3, 3, 5, tzinfo=UTC), 1, "0.5")
        )
        readings_upsert(
            meter=meter,
            readings=[
                (s, q, Decimal("0.01"), ESTIMATED)
                for s, q, _, _ in full_days(meter, datetime(2026, 4, 1, 4, tzinfo=UTC), 2)
            ],
        )
    incremental = snapshot(meter)
    assert not RollupDirtyRange.objects.exists()

    Rollup.objects.all().delete()
    rollups_rebuild(meter=meter)

    assert snapshot(meter) == incremental
    month = local_day_rows(meter, "MONTH")["2026-03-01T00:00:00-05:00"]
    # Ten days of March (2026-03-01 to 03-11 05:00Z), one of them corrected to 0.5 a slot.
    assert month.quantity == Decimal("0.25") * (960 - 96) + Decimal("0.5") * 96


def test_refresh_is_idempotent_and_drops_emptied_buckets(new_meter):
    meter = new_meter()
    write_readings(meter, full_days(meter, datetime(2026, 5, 1, 4, tzinfo=UTC), 3))
    rollups_rebuild(meter=meter)
    before = list(Rollup.objects.order_by("granularity", "start").values())

    rollups_rebuild(meter=meter)
    assert list(Rollup.objects.order_by("granularity", "start").values()) == before  # untouched

    Reading.objects.filter(start__gte=datetime(2026, 5, 3, 4, tzinfo=UTC)).delete()
    rollups_refresh(
        meter=meter,
        start=datetime(2026, 5, 3, 4, tzinfo=UTC),
        end=datetime(2026, 5, 4, 4, tzinfo=UTC),
    )
    days = local_day_rows(meter)
    assert sorted(days) == ["2026-05-01T00:00:00-04:00", "2026-05-02T00:00:00-04:00"]
    assert sum(r.quantity for r in Rollup.objects.filter(granularity="MONTH")) == Decimal(48)


def test_a_lost_task_is_caught_up_by_the_sweep(new_meter, django_capture_on_commit_callbacks):
    meter = new_meter()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        readings_upsert(
            meter=meter, readings=full_days(meter, datetime(2026, 5, 1, 4, tzinfo=UTC), 1)
        )
    assert len(callbacks) == 1 and RollupDirtyRange.objects.count() == 1  # the task never ran

    assert [m.pk for m in rollups_catch_up_pending()] == [meter.pk]

    assert not RollupDirtyRange.objects.exists()
    assert local_day_rows(meter)["2026-05-01T00:00:00-04:00"].quantity == Decimal(24)


def test_the_task_takes_ids_and_iso_instants(new_meter):
    meter = new_meter()
    write_readings(meter, full_days(meter, datetime(2026, 5, 1, 4, tzinfo=UTC), 1))

    rollups_catch_up.delay(str(meter.pk), "2026-05-01T04:00:00+00:00", "2026-05-02T04:00:00+00:00")
    rollups_catch_up.delay(
        "00000000-0000-0000-0000-000000000000",
        "2026-05-01T04:00:00+00:00",
        "2026-05-02T04:00:00+00:00",
    )

    assert local_day_rows(meter)["2026-05-01T00:00:00-04:00"].quantity == Decimal(24)


def test_rebuild_rollups_command(new_meter, bob):
    meter = new_meter(meter_number="E-R-1")
    write_readings(meter, full_days(meter, datetime(2026, 4, 20, 4, tzinfo=UTC), 15))
    out = io.StringIO()

    call_command("rebuild_rollups", "--meter", "E-R-1", stdout=out, verbosity=0)
    first = snapshot(meter)
    call_command("rebuild_rollups", stdout=out, verbosity=0)
    assert snapshot(meter) == first  # same result every run
    # --since: the buckets holding that local date on are recomputed. Days are recomputed from
    # the start of the earliest week, month or billing period holding it (here Monday 27
    # April), since those are summed from days; days before that are left alone.
    Rollup.objects.filter(meter=meter, granularity="DAY").update(quantity=0)
    call_command(
        "rebuild_rollups", "--since", "2026-05-03", "--utility", "acme", stdout=out, verbosity=0
    )
    days = local_day_rows(meter)
    assert [days[f"2026-04-{d}T00:00:00-04:00"].quantity for d in (20, 26, 27, 30)] == [
        0,
        0,
        24,
        24,
    ]
    assert [days[f"2026-05-0{d}T00:00:00-04:00"].quantity for d in (1, 4)] == [24, 24]
    months = local_day_rows(meter, "MONTH")
    assert months["2026-05-01T00:00:00-04:00"].quantity == 24 * 4  # from fresh days only
    assert "rebuilt the rollups of 1 meter(s)" in out.getvalue()

    with pytest.raises(CommandError, match="unknown meter number 'nope'"):
        call_command("rebuild_rollups", "--meter", "nope", verbosity=0)
    with pytest.raises(CommandError, match="is not a date"):
        call_command("rebuild_rollups", "--since", "May 3", verbosity=0)


def test_rollups_and_insights_have_queues_of_their_own():
    """A nightly insights run queues behind nothing a rollup waits on, and vice versa."""
    from energygrid.celery import app

    def queue(task_name: str) -> str:
        return app.amqp.router.route({}, task_name)["queue"].name

    assert queue(rollups_catch_up.name) == queue("usage.tasks.rollups_sweep") == "ingest"
    assert queue("insights.tasks.insights_nightly") == "insights"
    assert queue("insights.tasks.insights_generate_batch") == "insights"
    assert queue("budgets.tasks.budget_alerts_check") == "default"


def test_a_rebuild_skips_meters_unchanged_since_their_last_one(new_meter, tou_tariff):
    """Nothing changed: no readings read, nothing written. Changed readings (recorded as a
    dirty range by every import) or a changed basis (here a tariff price) are recomputed."""
    meter = new_meter(tariff=tou_tariff)
    write_readings(meter, full_days(meter, datetime(2026, 5, 1, 4, tzinfo=UTC), 2))
    out = io.StringIO()
    call_command("rebuild_rollups", stdout=out, verbosity=0)
    first = snapshot(meter)
    # A hand edit is not a change of readings: a plain rebuild leaves it, --force repairs it.
    Rollup.objects.filter(meter=meter, granularity="DAY").update(quantity=0)

    call_command("rebuild_rollups", stdout=out, verbosity=0)
    assert "rebuilt the rollups of 0 meter(s)" in out.getvalue()
    assert {row.quantity for row in local_day_rows(meter).values()} == {0}

    call_command("rebuild_rollups", "--force", stdout=out, verbosity=0)
    assert snapshot(meter) == first

    tou_tariff.rates.update(price=Decimal("0.5"))
    call_command("rebuild_rollups", stdout=out, verbosity=0)
    assert {row.cost for row in local_day_rows(meter).values()} == {Decimal(12)}  # 24 kWh x 0.5

    # Its catch-up task is never run (the test transaction never commits): the dirty range is
    # what makes the rebuild recompute.
    readings_upsert(meter=meter, readings=full_days(meter, datetime(2026, 5, 3, 4, tzinfo=UTC), 1))
    call_command("rebuild_rollups", stdout=out, verbosity=0)
    assert len(local_day_rows(meter)) == 3


def test_catching_up_one_day_touches_only_its_buckets(
    new_meter, django_capture_on_commit_callbacks
):
    """One new day: its hours and day, and the week, month and billing period holding it are
    recomputed; other days, even in that week, are trusted as they are (here deliberately
    wrong, to show it): they are fresh, or a dirty range of their own will refresh them."""
    meter = new_meter()
    write_readings(meter, full_days(meter, datetime(2026, 4, 20, 4, tzinfo=UTC), 15))
    rollups_rebuild(meter=meter)
    hours = Rollup.objects.filter(meter=meter, granularity="HOUR")
    hours.filter(start=datetime(2026, 4, 28, 4, tzinfo=UTC)).update(quantity=0)
    Rollup.objects.filter(
        meter=meter, granularity="DAY", start=datetime(2026, 4, 29, 4, tzinfo=UTC)
    ).update(quantity=0)

    with django_capture_on_commit_callbacks(execute=True):
        readings_upsert(
            meter=meter, readings=full_days(meter, datetime(2026, 5, 2, 4, tzinfo=UTC), 1, "0.5")
        )

    assert hours.get(start=datetime(2026, 4, 28, 4, tzinfo=UTC)).quantity == 0
    days = local_day_rows(meter)
    assert days["2026-04-29T00:00:00-04:00"].quantity == 0
    assert days["2026-05-02T00:00:00-04:00"].quantity == 48
    week = local_day_rows(meter, "WEEK")["2026-04-27T00:00:00-04:00"].quantity
    # PostgreSQL sums the week from its days as they are; SQLite (the demo) from the readings.
    assert week == (5 * 24 + 0 + 48 if connection.vendor == "postgresql" else 6 * 24 + 48)
    assert local_day_rows(meter, "MONTH")["2026-05-01T00:00:00-04:00"].quantity == 3 * 24 + 48


def test_a_rebuild_from_empty_inserts_the_rows_an_upsert_over_stale_ones_writes(new_meter):
    """A meter without rollups in the range gets a plain INSERT; one with rows (here all
    wrong) the upsert: both end with the same rows."""
    meter = new_meter()
    write_readings(meter, full_days(meter, datetime(2026, 5, 1, 4, tzinfo=UTC), 3))
    rollups_rebuild(meter=meter)
    fresh = list(Rollup.objects.order_by("granularity", "start").values_list(*ROLLUP_FIGURES))

    Rollup.objects.update(quantity=Decimal(999), peak_quantity=Decimal(0))
    rollups_rebuild(meter=meter)

    assert (
        list(Rollup.objects.order_by("granularity", "start").values_list(*ROLLUP_FIGURES)) == fresh
    )


def test_deleting_a_meter_deletes_its_rollups(new_meter):
    """The rollup table has no database FK to meters: Django's CASCADE does the work."""
    meter = new_meter()
    write_readings(meter, full_days(meter, datetime(2026, 5, 1, 4, tzinfo=UTC), 1))
    rollups_rebuild(meter=meter)
    assert Rollup.objects.filter(meter=meter).exists()

    meter.delete()

    assert not Rollup.objects.exists()


def test_a_batched_rebuild_equals_one_meter_at_a_time(new_meter, tou_tariff, monkeypatch):
    """``rebuild_rollups`` rebuilds meters in batches (one transaction, their locks and
    bookkeeping shared): each meter's rows are those of rebuilding it alone, each revision counts
    one, and only the meters that need it are rebuilt, across batch boundaries."""
    monkeypatch.setattr("usage.rollups.REBUILD_BATCH", 2)
    meters = [
        new_meter(timezone="America/New_York", tariff=tou_tariff),
        new_meter(timezone="Asia/Kolkata", billing_cycle_day=17),
        new_meter(timezone="Australia/Lord_Howe", interval_seconds=3600),
    ]
    for meter in meters:
        write_readings(meter, full_days(meter, datetime(2026, 3, 29, 4, tzinfo=UTC), 9))
    alone = {}
    for meter in meters:
        rollups_rebuild(meter=meter)
        alone[meter.pk] = snapshot(meter)
    Rollup.objects.all().delete()
    revisions = dict(RollupRevision.objects.values_list("meter_id", "revision"))

    assert rollups_rebuild_many([(meter, None) for meter in meters]) == 3

    assert {meter.pk: snapshot(meter) for meter in meters} == alone
    assert dict(RollupRevision.objects.values_list("meter_id", "revision")) == {
        meter_id: revision + 1 for meter_id, revision in revisions.items()
    }
    # Only the meter with changed readings (a dirty range) is rebuilt, from its batch of two.
    readings_upsert(
        meter=meters[1], readings=full_days(meters[1], datetime(2026, 4, 7, 4, tzinfo=UTC), 1)
    )
    rebuilds = [(meter, None) for meter in meters]
    assert rollups_rebuild_many(rebuilds, skip_unchanged=True) == 1
    assert not RollupDirtyRange.objects.exists()
    assert rollups_rebuild_many(rebuilds, skip_unchanged=True) == 0


def test_statements_of_a_few_buckets_each_give_the_same_rows(new_meter, tou_tariff, monkeypatch):
    """A range longer than ``CHUNK_BUCKETS`` is refreshed a chunk of buckets per statement;
    chunks cut anywhere (here every 7 buckets, across a DST change) give the same rows."""
    meter = new_meter(timezone="America/New_York", tariff=tou_tariff, billing_cycle_day=9)
    write_readings(meter, full_days(meter, datetime(2026, 10, 27, 4, tzinfo=UTC), 12))
    rollups_rebuild(meter=meter)
    whole = snapshot(meter)

    monkeypatch.setattr("usage.rollups.CHUNK_BUCKETS", 7)
    Rollup.objects.all().delete()
    rollups_rebuild(meter=meter)  # from empty: INSERT per chunk
    assert snapshot(meter) == whole
    Rollup.objects.update(quantity=Decimal(999))
    rollups_rebuild(meter=meter)  # over stale rows: the upsert per chunk
    assert snapshot(meter) == whole
