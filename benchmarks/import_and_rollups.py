"""Benchmark: readings import, rollup rebuild and the usage read, each against a baseline
measured in the same run on the same data (see benchmarks/README.md).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/eg_bench DJANGO_SECRET_KEY=bench \\
        .venv/bin/python benchmarks/import_and_rollups.py [--meters 90] [--days 365]

1. Generates a CSV of 15-minute readings with ``usage.synthetic`` (numpy, deterministic for
   ``--seed``), streamed to a temporary file.
2. Import, ``--import-rounds`` rounds, ours and the baseline of each pair alternating which
   goes first: ``usage.imports.readings_import`` (the service behind ``import_readings``) of
   new readings vs ``psql \\copy`` (``COPY ... FROM STDIN (FORMAT csv)``) of the same file
   into a bare table keyed (meter, start); the same import again (every row exists) vs
   ``\\copy`` to staging + ``INSERT ... ON CONFLICT DO UPDATE``. The catch-up tasks the import
   queues are recorded (queued, not run, as with a broker), so the import figure is the import
   alone. Then the peak RSS of a fresh process importing 1 M rows and the whole file.
3. Rollups: the captured catch-up tasks; then ``rebuild_rollups --force`` from empty vs a
   hand-written SQL cascade over the same readings (HOUR from readings, DAY from HOUR, WEEK and
   MONTH from DAY, local time) into a bare table, alternated ``--rollup-rounds`` times; then a
   rebuild with nothing changed and the catch-up of one new day for one meter, each as a share
   of the full rebuild. Checks that our DAY, WEEK and MONTH rows equal the cascade's.
4. Read: GET /usage/v1/Usage/{meterId}?granularity=DAY for the whole range through Django's
   test Client (in-process) vs a bare DRF APIView returning the same body.

PostgreSQL only. It sets no thresholds: it prints ratios (the import and rollup parts also
run at a tiny size in tests/usage/test_import_benchmark.py and test_rollup_benchmark.py, smoke
runs so the code never rots).
Every run first deletes the rows of its own utility (slug ``bench``) left by a previous run.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import logging
import os
import statistics
import sys
import tempfile
import time
import types
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import common  # noqa: E402 - after the repository is on the path
from benchmarks.common import (  # noqa: E402
    bench_utility,
    electric_meter,
    execute,
    flat_tariff,
)

UTILITY_SLUG = "bench"
METER_PREFIX = "BENCH-"
BARE_READING_TABLE = "bench_bare_reading"
BARE_ROLLUP_TABLE = "bench_bare_rollup"
FLAT_PRICE = "0.150000"
GRANULARITIES = ("HOUR", "DAY", "WEEK", "MONTH", "BILLING_PERIOD")


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meters", type=int, default=90, help="meters (default 90)")
    parser.add_argument(
        "--days", type=int, default=365, help="local days of 15-minute data per meter (365)"
    )
    parser.add_argument("--seed", type=int, default=7, help="generator seed (7)")
    parser.add_argument(
        "--requests", type=int, default=200, help="requests per read round (200); 0 skips reads"
    )
    parser.add_argument("--rounds", type=int, default=5, help="read rounds, median kept (5)")
    parser.add_argument(
        "--rollup-rounds", type=int, default=3, help="alternated rollup rounds, median kept (3)"
    )
    parser.add_argument(
        "--skip-catch-up",
        action="store_true",
        help="do not run the import's queued catch-up tasks (rebuild only)",
    )
    parser.add_argument(
        "--import-rounds", type=int, default=2, help="import rounds, median kept (2)"
    )
    parser.add_argument("--keep-csv", action="store_true", help="keep the generated CSV file")
    parser.add_argument("--csv-dir", help="where the CSV is written (default: the temp dir)")
    parser.add_argument(
        "--cleanup", action="store_true", help="delete the benchmark's rows at the end"
    )
    args = parser.parse_args()
    if args.meters < 1 or args.days < 3:
        parser.error("need --meters >= 1 and --days >= 3")
    return args


# --- output -----------------------------------------------------------------------------------

_T0 = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s] {message}", flush=True)


@contextlib.contextmanager
def stopwatch() -> Iterator[list[float]]:
    """Yields a one-element list that holds the elapsed seconds once the block ends."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


@dataclass
class Row:
    section: str
    what: str
    seconds: float | None
    rate: str
    ratio: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, section: str, what: str, seconds: float | None, rate: str, ratio: str = ""):
        self.rows.append(Row(section, what, seconds, rate, ratio))

    def print(self) -> None:
        headers = ("", "measured", "time", "throughput", "ratio")
        cells = [
            (r.section, r.what, "" if r.seconds is None else f"{r.seconds:.2f} s", r.rate, r.ratio)
            for r in self.rows
        ]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
        line = "  ".join("-" * w for w in widths)
        print()
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
        print(line)
        section = None
        for cell in cells:
            if section is not None and cell[0] != section:
                print(line)
            section = cell[0]
            print("  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip())
        print(line)
        for note in self.notes:
            print(note)


def per_second(count: float, seconds: float, unit: str) -> str:
    return f"{count / seconds:,.0f} {unit}/s" if seconds > 0 else "-"


def slower(ours: float, baseline: float, what: str) -> str:
    return f"{ours / baseline:.1f}x {what}" if baseline > 0 else "-"


# --- setup ------------------------------------------------------------------------------------


def django_setup() -> None:
    common.django_setup()
    # One INFO line per eagerly run catch-up task would bury the progress lines.
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)


def scalar(sql: str, params: Any = None) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def clean_previous_run() -> None:
    """Deletes what an earlier run of this script left (its utility's rows), then vacuums."""
    from customers.models import Account, Customer, Meter, Tariff, Utility
    from usage.models import Reading, RenderedDay, Rollup, RollupDirtyRange

    utility = Utility.objects.filter(slug=UTILITY_SLUG).first()
    execute(f"DROP TABLE IF EXISTS {BARE_READING_TABLE}, {BARE_ROLLUP_TABLE}")
    if utility is None:
        return
    say("deleting the previous run's rows (utility 'bench')")
    meters = "SELECT id FROM customers_meter WHERE utility_id = %s"
    for model in (Rollup, RenderedDay, RollupDirtyRange, Reading):
        deleted = execute(
            f"DELETE FROM {model._meta.db_table} WHERE meter_id IN ({meters})",  # noqa: S608
            [utility.pk],
        )
        say(f"  {model._meta.db_table}: {deleted:,} rows deleted")
    Meter.objects.filter(utility=utility).delete()
    Account.objects.filter(utility=utility).delete()
    Customer.objects.filter(utility=utility).delete()
    Tariff.objects.filter(utility=utility).delete()
    utility.delete()
    say("  VACUUM ANALYZE usage_reading, usage_rollup")
    execute(f"VACUUM ANALYZE {Reading._meta.db_table}, {Rollup._meta.db_table}")


@dataclass(frozen=True)
class BenchMeter:
    number: str
    region: str
    timezone: str
    seed: int


def create_meters(count: int, seed: int) -> tuple[Any, list[BenchMeter]]:
    """One utility, one customer, ``count`` accounts of one 15-minute electric meter each;
    meters spread over the synthetic weather regions (and so over their time zones)."""
    from customers.models import Account, Customer, Meter
    from usage.synthetic import WEATHER_REGIONS

    utility = bench_utility(
        UTILITY_SLUG, "Benchmark Power", currency="USD", timezone="America/New_York"
    )
    tariff = flat_tariff(utility, FLAT_PRICE)
    customer = Customer.objects.create(
        utility=utility,
        subject="bench",
        display_name="Benchmark",
        billing_currency="USD",
        timezone="America/New_York",
    )
    regions = list(WEATHER_REGIONS)
    planned = []
    for i in range(count):
        region = regions[i % len(regions)]
        planned.append(
            BenchMeter(
                f"{METER_PREFIX}{i:05d}",
                region,
                WEATHER_REGIONS[region].timezone,
                seed * 100_003 + i,
            )
        )
    accounts = Account.objects.bulk_create(
        Account(
            utility=utility,
            customer=customer,
            account_number=f"BENCH-A-{i:05d}",
            status="ACTIVE",
            billing_cycle_day=1 + i % 28,
        )
        for i in range(count)
    )
    Meter.objects.bulk_create(
        electric_meter(account, m.number, m.timezone, tariff)
        for account, m in zip(accounts, planned, strict=True)
    )
    return customer, planned


def first_day(days: int) -> date:
    """The first local date: the series ends two days before today, safely in the past."""
    return date.today() - timedelta(days=days + 2)


def write_csv(path: Path, meters: list[BenchMeter], days: int, seed: int) -> int:
    """Streams every meter's synthetic readings to ``path`` (meterNumber,start,quantity,quality);
    one meter in memory at a time. Returns the number of readings."""
    import numpy as np

    from usage.synthetic import electric_intervals, random_profile, weather_series

    start = first_day(days)
    total = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("meterNumber,start,quantity,quality\n")
        for i, meter in enumerate(meters, start=1):
            rng = np.random.default_rng(meter.seed)
            series = electric_intervals(
                profile=random_profile(rng),
                start_utc=datetime.combine(start, wall_time(), ZoneInfo(meter.timezone)),
                days=days,
                tz=meter.timezone,
                temperatures=weather_series(region=meter.region, start=start, days=days, seed=seed),
                seed=meter.seed,
            )
            starts = np.datetime_as_string(
                series.starts.astype("datetime64[s]"), unit="s", timezone="UTC"
            )
            quantities = np.char.mod(f"%.{series.decimals}f", series.quantities)
            qualities = np.where(series.estimated, "ESTIMATED", "ACTUAL")
            prefix = meter.number + ","
            columns = (starts.tolist(), quantities.tolist(), qualities.tolist())
            out.writelines(f"{prefix}{s},{q},{k}\n" for s, q, k in zip(*columns, strict=True))
            total += series.starts.size
            if i % 10 == 0 or i == len(meters):
                say(f"  generated {i}/{len(meters)} meters, {total:,} readings")
    return total


# --- import -----------------------------------------------------------------------------------


class PhaseTimer:
    """Accumulates the time spent inside wrapped functions, by label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, owner: Any, name: str, label: str) -> Any:
        original = getattr(owner, name)
        seconds = self.seconds

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - start

        return mock.patch.object(owner, name, timed)


class QueuedTasks:
    """Stands in for the catch-up task during the import: records what would be queued."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def delay_on_commit(self, *args: Any) -> None:
        self.calls.append(args)


def run_import(csv_path: Path) -> tuple[Any, float, dict[str, float], QueuedTasks]:
    """Our import of the file on a fresh connection; the catch-up tasks it queues are recorded
    (what a configured broker does: queued, not run); phases timed (indicative)."""
    from django.db import connection

    from usage.imports import service, staging

    phases = PhaseTimer()
    queued = QueuedTasks()
    patches = [
        mock.patch.object(service, "rollups_catch_up", queued),
        phases.wrap(staging.PostgresStage, "write", "pack rows, spool to temp files"),
        phases.wrap(service, "keep_valid", "range, direction, end and grid checks"),
        phases.wrap(service, "reading_partitions_ensure", "partitions (own transaction)"),
        phases.wrap(staging.PostgresStage, "lock", "lock meters"),
        phases.wrap(staging.Stage, "overlaps", "read-period overlaps"),
        phases.wrap(staging.PostgresStage, "store", "COPY into the readings / upsert"),
        phases.wrap(service, "_extend_meter_bounds", "meter bounds"),
        phases.wrap(service, "_queue_rollups", "dirty ranges + queue"),
    ]
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        connection.close()  # a fresh connection, like a fresh `manage.py import_readings`
        with stopwatch() as elapsed:
            result = service.readings_import(
                path=csv_path,
                file_format="csv",
                utility_slug=UTILITY_SLUG,
                progress=sys.stderr.isatty(),
            )
    seconds = dict(phases.seconds)
    seconds["parse + checks (pyarrow), commit, rest"] = elapsed[0] - sum(seconds.values())
    return result, elapsed[0], seconds, queued


def run_keyed_copy(csv_path: Path) -> float:
    """``psql \\copy`` of the file into a bare table keyed like ours (meter, start): the floor
    for loading it with a uniqueness check."""
    from django.db import connection, transaction

    execute(f"DROP TABLE IF EXISTS {BARE_READING_TABLE}")
    execute(
        f"CREATE TABLE {BARE_READING_TABLE} (meter_number text, start timestamptz,"
        " quantity numeric(18, 6), quality varchar(9), PRIMARY KEY (meter_number, start))"
    )
    connection.close()
    with (
        stopwatch() as elapsed,  # outermost: the time includes the commit
        transaction.atomic(),
        connection.cursor() as cursor,
        csv_path.open("rb") as source,
        cursor.copy(
            f"COPY {BARE_READING_TABLE} (meter_number, start, quantity, quality)"
            " FROM STDIN WITH (FORMAT csv, HEADER true)"
        ) as copy,
    ):
        while chunk := source.read(1 << 20):
            copy.write(chunk)
    return elapsed[0]


_STAGED_UPSERT_SQL = """
INSERT INTO usage_reading AS reading (meter_id, start, quantity, quality)
SELECT meter.id, stage.start, stage.quantity, stage.quality
FROM bench_stage AS stage JOIN customers_meter AS meter
  ON meter.meter_number = stage.meter_number AND meter.utility_id = %s
ON CONFLICT (meter_id, direction, start) DO UPDATE SET
    quantity = EXCLUDED.quantity, cost = EXCLUDED.cost, quality = EXCLUDED.quality
"""


def run_staged_upsert(csv_path: Path, utility_id: Any) -> float:
    """The hand-written re-import: ``\\copy`` into a temporary staging table, then one
    ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` into the readings."""
    from django.db import connection, transaction

    connection.close()
    with stopwatch() as elapsed, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_stage (meter_number text, start timestamptz,"
            " quantity numeric(18, 6), quality varchar(9)) ON COMMIT DROP"
        )
        with (
            csv_path.open("rb") as source,
            cursor.copy("COPY bench_stage FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        cursor.execute(_STAGED_UPSERT_SQL, [utility_id])
    return elapsed[0]


def delete_readings(utility_id: Any) -> None:
    """Removes the bench meters' readings (and their bounds), then VACUUM: not timed."""
    from customers.models import Meter
    from usage.models import RollupDirtyRange

    execute(
        "DELETE FROM usage_reading WHERE meter_id IN"
        " (SELECT id FROM customers_meter WHERE utility_id = %s)",
        [utility_id],
    )
    RollupDirtyRange.objects.filter(meter__utility_id=utility_id).delete()
    Meter.objects.filter(utility_id=utility_id).update(first_reading_at=None, last_reading_at=None)
    execute("VACUUM ANALYZE usage_reading")


_RSS_CHILD = """
import resource, sys
from pathlib import Path
from unittest import mock
sys.path.insert(0, sys.argv[1])
import django
django.setup()
from usage.imports import service
with mock.patch.object(service, "rollups_catch_up", mock.Mock()):
    service.readings_import(path=Path(sys.argv[2]), utility_slug=sys.argv[3])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def import_peak_rss(csv_path: Path) -> int:
    """Peak resident memory (KiB) of a fresh process importing ``csv_path``."""
    import subprocess

    from django.db import connection

    settings = connection.settings_dict
    url = (
        f"postgres://{settings['USER'] or 'postgres'}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    child = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", _RSS_CHILD, str(ROOT), str(csv_path), UTILITY_SLUG],
        env={
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "energygrid.settings",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout.split()[-1])


def head_csv(csv_path: Path, rows: int) -> Path:
    """The header and the first ``rows`` readings of ``csv_path``, as a new file."""
    head = csv_path.with_name(f"{csv_path.stem}-head-{rows}.csv")
    with csv_path.open("rb") as source, head.open("wb") as out:
        for _ in range(rows + 1):
            line = source.readline()
            if not line:
                break
            out.write(line)
    return head


# --- rollups ----------------------------------------------------------------------------------

_BARE_ROLLUP_DDL = """
CREATE TABLE {table} (
    meter_id uuid, granularity text, start timestamp, quantity numeric, cost numeric,
    actual_count bigint, estimated_count bigint, peak_quantity numeric
)
"""

# Every bench reading with its meter's local time and price. The flat tariff has one rate
# covering every hour, so joining it on tariff_id prices every reading (a time-of-use tariff
# would need the weekday/hour match usage.pricing does).
_PRICED = """
    SELECT reading.meter_id, reading.quantity, reading.quality,
           COALESCE(reading.cost, reading.quantity * rate.price) AS cost,
           reading.start AT TIME ZONE meter.timezone AS local_start
    FROM usage_reading AS reading
    JOIN customers_meter AS meter ON meter.id = reading.meter_id
    LEFT JOIN customers_tariffrate AS rate ON rate.tariff_id = meter.tariff_id
    WHERE meter.utility_id = %(utility)s
"""

# The hand-written cascade, in local time: HOUR from the readings, DAY from HOUR, WEEK (ISO)
# and MONTH from DAY; each row with quantity, cost, actual and estimated counts and peak.
CASCADE_SQL = (
    f"""
INSERT INTO {BARE_ROLLUP_TABLE}
SELECT meter_id, 'HOUR', date_trunc('hour', local_start) AS hour, sum(quantity), sum(cost),
       count(*) FILTER (WHERE quality = 'ACTUAL'), count(*) FILTER (WHERE quality = 'ESTIMATED'),
       max(quantity)
FROM ({_PRICED}) AS priced
GROUP BY meter_id, hour
""",  # noqa: S608 (constant SQL)
    *(
        f"""
INSERT INTO {BARE_ROLLUP_TABLE}
SELECT meter_id, '{level}', date_trunc('{unit}', start) AS bucket, sum(quantity), sum(cost),
       sum(actual_count), sum(estimated_count), max(peak_quantity)
FROM {BARE_ROLLUP_TABLE}
WHERE granularity = '{finer}'
GROUP BY meter_id, bucket
"""  # noqa: S608 (constant SQL)
        for level, unit, finer in (
            ("DAY", "day", "HOUR"),
            ("WEEK", "week", "DAY"),
            ("MONTH", "month", "DAY"),
        )
    ),
)
#: The levels the cascade and ours bucket alike (the hand-written HOUR merges the hour a DST
#: fall-back repeats; ours keeps it as two buckets).
COMPARED = ("DAY", "WEEK", "MONTH")

# Our rollups of one granularity against the cascade's: rows in either, rows that differ.
COMPARE_SQL = f"""
SELECT count(*),
       count(*) FILTER (WHERE ours.meter_id IS NULL OR bare.meter_id IS NULL
           OR (ours.quantity, ours.cost, ours.actual_count, ours.estimated_count,
               ours.peak_quantity)
              IS DISTINCT FROM
              (bare.quantity, bare.cost, bare.actual_count, bare.estimated_count,
               bare.peak_quantity))
FROM (
    SELECT rollup.meter_id, rollup.start AT TIME ZONE meter.timezone AS start, rollup.quantity,
           rollup.cost, rollup.actual_count, rollup.estimated_count, rollup.peak_quantity
    FROM usage_rollup AS rollup JOIN customers_meter AS meter ON meter.id = rollup.meter_id
    WHERE rollup.granularity = %(granularity)s AND meter.utility_id = %(utility)s
) AS ours
FULL JOIN (
    SELECT * FROM {BARE_ROLLUP_TABLE} WHERE granularity = %(granularity)s
) AS bare ON bare.meter_id = ours.meter_id AND bare.start = ours.start
"""  # noqa: S608 (constant SQL)


def rollup_counts(utility_id: Any) -> dict[str, int]:
    from django.db.models import Count

    from usage.models import Rollup

    rows = (
        Rollup.objects.filter(meter__utility_id=utility_id)
        .values_list("granularity")
        .annotate(n=Count("start"))
        .order_by()
    )
    return dict(rows)


def delete_rollups(utility_id: Any) -> None:
    """The utility's rollups and their stored DAY items, so a rebuild starts from none."""
    from usage.models import RenderedDay, Rollup

    for model in (Rollup, RenderedDay):
        execute(
            f"DELETE FROM {model._meta.db_table} WHERE meter_id IN"  # noqa: S608
            " (SELECT id FROM customers_meter WHERE utility_id = %s)",
            [utility_id],
        )
        execute(f"VACUUM ANALYZE {model._meta.db_table}")


def run_cascade(utility_id: Any) -> float:
    """The hand-written cascade from an empty bare table, in one transaction; seconds."""
    from django.db import transaction

    execute(f"TRUNCATE {BARE_ROLLUP_TABLE}")
    with stopwatch() as elapsed, transaction.atomic():
        for statement in CASCADE_SQL:
            execute(statement, {"utility": utility_id})
    return elapsed[0]


def run_rebuild(*, force: bool) -> float:
    from django.core.management import call_command

    with stopwatch() as elapsed:
        call_command(
            "rebuild_rollups", utility=UTILITY_SLUG, force=force, verbosity=0, stdout=io.StringIO()
        )
    return elapsed[0]


def run_one_day_catch_up(meter_number: str) -> float:
    """Removes the meter's last local day of readings (rollups caught up, not timed), writes
    it again as a new day through ``readings_upsert``, and times the catch-up task it queues."""
    from django.db.models import Max
    from django.test import override_settings

    from customers.models import Meter
    from usage.calendar import local_date_start, zone
    from usage.imports import readings_upsert
    from usage.models import Reading
    from usage.rollups import rollups_rebuild
    from usage.tasks import rollups_catch_up

    meter = Meter.objects.select_related("account").get(
        utility__slug=UTILITY_SLUG, meter_number=meter_number
    )
    tz = zone(meter.timezone)
    last = Reading.objects.filter(meter=meter).aggregate(last=Max("start"))["last"]
    day_start = local_date_start(tz, last.astimezone(tz).date())
    day = list(
        Reading.objects.filter(meter=meter, start__gte=day_start)
        .order_by("start")
        .values_list("start", "quantity", "cost", "quality")
    )
    Reading.objects.filter(meter=meter, start__gte=day_start).delete()
    rollups_rebuild(meter=meter, since=day_start)
    queued = QueuedTasks()
    with mock.patch.object(rollups_catch_up, "delay_on_commit", queued.delay_on_commit):
        readings_upsert(meter=meter, readings=day)
    with override_settings(ROLLUP_FOLLOW_UP_TASKS=[]), stopwatch() as elapsed:
        for call in queued.calls:
            rollups_catch_up.apply(args=call, throw=True)
    return elapsed[0]


@dataclass
class RollupFigures:
    """Seconds per alternated round, and what the rows look like at the end."""

    cascade: list[float] = field(default_factory=list)
    rebuild: list[float] = field(default_factory=list)
    unchanged: list[float] = field(default_factory=list)
    one_day: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    cascade_counts: dict[str, int] = field(default_factory=dict)
    differing: dict[str, tuple[int, int]] = field(default_factory=dict)


def measure_rollups(utility_id: Any, meter_number: str, rounds: int) -> RollupFigures:
    """The cascade and ``rebuild_rollups --force`` (both from empty), alternated ``rounds``
    times; then a rebuild with nothing changed and the catch-up of one new day for one meter,
    ``rounds`` times each."""
    from django.db import connection

    figures = RollupFigures()
    execute("ANALYZE usage_reading")
    execute(f"DROP TABLE IF EXISTS {BARE_ROLLUP_TABLE}")
    execute(_BARE_ROLLUP_DDL.format(table=BARE_ROLLUP_TABLE))
    for round_number in range(1, rounds + 1):
        say(f"round {round_number}/{rounds}: the hand-written cascade")
        figures.cascade.append(run_cascade(utility_id))
        say(f"  {figures.cascade[-1]:.2f} s; ours: rebuild_rollups --force from empty")
        delete_rollups(utility_id)
        figures.rebuild.append(run_rebuild(force=True))
        say(f"  {figures.rebuild[-1]:.2f} s")
    for _ in range(rounds):
        figures.unchanged.append(run_rebuild(force=False))
        figures.one_day.append(run_one_day_catch_up(meter_number))
    say(
        f"nothing changed: {min(figures.unchanged):.3f} s; one new day:"
        f" {min(figures.one_day):.3f} s"
    )
    figures.counts = rollup_counts(utility_id)
    with connection.cursor() as cursor:
        for granularity in COMPARED:
            cursor.execute(COMPARE_SQL, {"granularity": granularity, "utility": utility_id})
            figures.differing[granularity] = cursor.fetchone()
        cursor.execute(
            f"SELECT granularity, count(*) FROM {BARE_ROLLUP_TABLE} GROUP BY granularity"  # noqa: S608
        )
        figures.cascade_counts = dict(cursor.fetchall())
    return figures


# --- read -------------------------------------------------------------------------------------


def read_benchmark(
    customer: Any, meter_number: str, days: int, requests: int, rounds: int
) -> dict[str, float]:
    """Requests/s of our DAY series for the whole range vs bare DRF views of the same body
    (median of ``rounds`` rounds of ``requests`` requests each, after a warm-up)."""
    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client, override_settings
    from django.urls import path
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from customers.models import Meter
    from customers.services import session_issue

    meter = Meter.objects.get(utility__slug=UTILITY_SLUG, meter_number=meter_number)
    start = first_day(days)
    url = (
        f"/usage/v1/Usage/{meter.pk}?granularity=DAY&start={start.isoformat()}"
        f"&end={(start + timedelta(days=days)).isoformat()}&pageSize={min(days + 1, 1000)}"
    )
    token = session_issue(customer=customer).access_token
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    body: dict[str, Any] = {}

    class BareView(APIView):
        """No authentication, permission or throttle: DRF's floor for this body."""

        authentication_classes: list[Any] = []
        permission_classes = [AllowAny]
        throttle_classes: list[Any] = []

        def get(self, request):
            return Response(body)

    class BareAuthView(APIView):
        """The project's default authentication, permission and throttle; same body."""

        def get(self, request):
            return Response(body)

    import energygrid.urls

    urls = types.ModuleType("benchmarks_urlconf")
    urls.urlpatterns = [
        path("bench/bare", BareView.as_view()),
        path("bench/bare-auth", BareAuthView.as_view()),
        *energygrid.urls.urlpatterns,
    ]
    sys.modules[urls.__name__] = urls
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {
        **rest["DEFAULT_THROTTLE_RATES"],
        "customer": "100000000/min",
    }
    with override_settings(
        ROOT_URLCONF=urls.__name__,
        ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"],
        REST_FRAMEWORK=rest,
    ):
        first = client.get(url)
        if first.status_code != 200:
            raise SystemExit(f"GET {url} answered {first.status_code}: {first.content[:300]!r}")
        body.update(first.json())
        items = len(body["items"]) if "items" in body else None
        say(f"  our response: {items} DAY items, {len(first.content):,} bytes")
        for bare in ("/bench/bare", "/bench/bare-auth"):
            answer = client.get(bare)
            if answer.status_code != 200 or answer.content != first.content:
                raise SystemExit(f"{bare} does not return the same body ({answer.status_code})")

        def rate(target: str) -> float:
            cache.clear()  # throttle history starts empty for every round
            with stopwatch() as elapsed:
                for _ in range(requests):
                    client.get(target)
            return requests / elapsed[0]

        targets = {"ours": url, "bare": "/bench/bare", "bare-auth": "/bench/bare-auth"}
        for target in targets.values():  # warm-up
            for _ in range(20):
                client.get(target)
        results: dict[str, list[float]] = defaultdict(list)
        for round_number in range(1, rounds + 1):
            for name, target in targets.items():
                results[name].append(rate(target))
            say(
                f"  read round {round_number}: "
                + ", ".join(f"{name} {values[-1]:,.0f} req/s" for name, values in results.items())
            )
        last = client.get(url)
        if last.status_code != 200 or last.content != first.content:
            raise SystemExit("our endpoint's answer changed during the benchmark")
    measured = {name: statistics.median(values) for name, values in results.items()}
    measured["items"] = float(items or 0)
    measured["bytes"] = float(len(first.content))
    return measured


# --- the three benchmarks ---------------------------------------------------------------------


def bench_import(
    report: Report, csv_path: Path, readings: int, utility_id: Any, rounds: int
) -> tuple[float, QueuedTasks]:
    """Rounds of (fresh import vs keyed COPY, re-import vs staged upsert), the two of each pair
    alternating which goes first; then peak RSS of the import at 1 M and all rows."""
    ours: dict[str, list[float]] = defaultdict(list)
    base: dict[str, list[float]] = defaultdict(list)
    phases: dict[str, float] = {}
    queued = QueuedTasks()
    for round_number in range(1, rounds + 1):
        if round_number > 1:
            say("  deleting the imported readings (not timed)")
            delete_readings(utility_id)
        order = ("base", "ours") if round_number % 2 else ("ours", "base")
        for who in order:
            if who == "base":
                base["import"].append(run_keyed_copy(csv_path))
                continue
            result, seconds, phases, queued = run_import(csv_path)
            if result.rows != readings or result.changed != readings:
                raise SystemExit(f"imported {result.rows}, changed {result.changed}: not all")
            ours["import"].append(seconds)
        for who in order:
            if who == "base":
                base["reimport"].append(run_staged_upsert(csv_path, utility_id))
                continue
            result, seconds, _, _ = run_import(csv_path)
            if result.rows != readings or result.changed != 0:
                raise SystemExit(f"re-import changed {result.changed} rows, expected none")
            ours["reimport"].append(seconds)
        say(
            f"  round {round_number}: import {ours['import'][-1]:.1f} s vs keyed COPY"
            f" {base['import'][-1]:.1f} s; re-import {ours['reimport'][-1]:.1f} s vs staged"
            f" upsert {base['reimport'][-1]:.1f} s"
        )
    copied = scalar(f"SELECT count(*) FROM {BARE_READING_TABLE}")  # noqa: S608
    if copied != readings:
        raise SystemExit(f"COPY loaded {copied} rows, expected {readings}")
    seconds = statistics.median(ours["import"])
    for key, what, baseline in (
        ("import", "readings_import, new readings (CSV -> spool -> COPY)", "keyed COPY"),
        ("reimport", "readings_import again, same file (upsert, 0 changed)", "staged upsert"),
    ):
        mine, theirs = statistics.median(ours[key]), statistics.median(base[key])
        report.add(
            "import",
            what,
            mine,
            per_second(readings, mine, "rows"),
            f"{theirs / mine:.2f}x {baseline}'s speed",
        )
    report.add(
        "import",
        "baseline: psql \\copy (COPY FROM STDIN csv) into a table keyed (meter, start)",
        statistics.median(base["import"]),
        per_second(readings, statistics.median(base["import"]), "rows"),
        "1.0x",
    )
    report.add(
        "import",
        "baseline: \\copy to staging + INSERT ... ON CONFLICT DO UPDATE",
        statistics.median(base["reimport"]),
        per_second(readings, statistics.median(base["reimport"]), "rows"),
        "1.0x",
    )
    for label, spent in sorted(phases.items(), key=lambda item: -item[1]):
        report.add("import", f"  phase: {label}", spent, f"{spent / seconds:.0%} of import")
    sizes = sorted({min(readings, 1_000_000), readings})
    for rows in sizes:
        path = csv_path if rows == readings else head_csv(csv_path, rows)
        try:
            rss = import_peak_rss(path)
        finally:
            if path != csv_path:
                path.unlink()
        say(f"  peak RSS importing {rows:,} rows: {rss / 1024:,.0f} MiB")
        report.add("import", f"peak RSS of a process importing {rows:,} rows", None, "", "")
        report.rows[-1].rate = f"{rss / 1024:,.0f} MiB"
    return seconds, queued


def bench_rollups(
    report: Report, args: argparse.Namespace, utility_id: Any, readings: int, queued: QueuedTasks
) -> float | None:
    """Returns how long the import's catch-up tasks took (None when skipped)."""
    from django.test import override_settings

    from usage.tasks import rollups_catch_up

    catch_up: float | None = None
    if not args.skip_catch_up:
        say(f"ours: the {len(queued.calls)} rollups_catch_up tasks the import queued, eagerly")
        # The follow-up tasks a catch-up queues (budget alerts...) are other tasks on other
        # workers in production: they are not part of the rollup figure.
        with override_settings(ROLLUP_FOLLOW_UP_TASKS=[]), stopwatch() as elapsed:
            for call in queued.calls:
                rollups_catch_up.apply(args=call, throw=True)
        catch_up = elapsed[0]
        say(f"  {catch_up:.1f} s")
    figures = measure_rollups(utility_id, f"{METER_PREFIX}{0:05d}", args.rollup_rounds)
    cascade, rebuild = statistics.median(figures.cascade), statistics.median(figures.rebuild)
    if catch_up is not None:
        report.add(
            "rollups",
            f"catch-up tasks queued by the import ({len(queued.calls)})",
            catch_up,
            per_second(readings, catch_up, "readings"),
            slower(catch_up, cascade, "cascade"),
        )
    ours_rows = sum(figures.counts.values())
    report.add(
        "rollups",
        f"rebuild_rollups --force from empty, 5 granularities ({ours_rows:,} rows)",
        rebuild,
        per_second(readings, rebuild, "readings"),
        slower(rebuild, cascade, "cascade"),
    )
    report.add(
        "rollups",
        "baseline: SQL cascade HOUR<-readings, DAY<-HOUR, WEEK+MONTH<-DAY",
        cascade,
        per_second(readings, cascade, "readings"),
        "1.0x",
    )
    unchanged, one_day = statistics.median(figures.unchanged), statistics.median(figures.one_day)
    report.add(
        "rollups",
        "rebuild_rollups again, nothing changed",
        unchanged,
        "",
        f"{unchanged / rebuild:.1%} of the rebuild",
    )
    report.add(
        "rollups",
        "catch-up of one new day for one meter",
        one_day,
        "",
        f"{one_day / rebuild:.2%} of the rebuild",
    )

    def listed(rows: dict[str, int]) -> str:
        return ", ".join(f"{g} {rows.get(g, 0):,}" for g in GRANULARITIES)

    report.notes.append(
        f"rollups: {len(figures.rebuild)} alternated rounds, medians shown;"
        f" cascade {', '.join(f'{t:.2f}' for t in figures.cascade)} s,"
        f" rebuild {', '.join(f'{t:.2f}' for t in figures.rebuild)} s"
    )
    report.notes.append(f"rollup rows, ours: {listed(figures.counts)}")
    report.notes.append(f"rollup rows, cascade: {listed(figures.cascade_counts)}")
    report.notes.append(
        "check, ours vs the cascade: "
        + ", ".join(f"{g} {bad} of {total} differ" for g, (total, bad) in figures.differing.items())
    )
    return catch_up


def bench_read(report: Report, args: argparse.Namespace, customer: Any, meter_number: str) -> None:
    say(
        f"read: GET /Usage/{{meterId}}?granularity=DAY for {args.days} days,"
        f" {args.rounds} rounds x {args.requests} requests per endpoint"
    )
    read = read_benchmark(customer, meter_number, args.days, args.requests, args.rounds)
    report.add(
        "read",
        f"GET /Usage/{{meterId}}?granularity=DAY ({read['items']:.0f} items)",
        None,
        f"{read['ours']:,.0f} req/s",
        slower(read["bare"], read["ours"], "bare's time"),
    )
    report.add(
        "read",
        f"baseline: bare APIView, same body ({read['bytes']:,.0f} B), no auth",
        None,
        f"{read['bare']:,.0f} req/s",
        "1.0x",
    )
    report.add(
        "read",
        "bare APIView + our JWT auth/permission/throttle",
        None,
        f"{read['bare-auth']:,.0f} req/s",
        slower(read["bare"], read["bare-auth"], "bare's time"),
    )


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    args = _parse_args()
    django_setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        print(
            f"benchmarks need PostgreSQL, not {connection.vendor}: set DATABASE_URL=postgres://...",
            file=sys.stderr,
        )
        return 2
    common.ensure_database(say)
    server = scalar("SHOW server_version")
    say(f"PostgreSQL {server}, database {connection.settings_dict['NAME']}, {os.cpu_count()} CPUs")
    say("migrate")
    call_command("migrate", verbosity=0, interactive=False)
    clean_previous_run()
    say(f"creating {args.meters} meters")
    customer, meters = create_meters(args.meters, args.seed)

    report = Report()
    csv_dir = Path(args.csv_dir) if args.csv_dir else Path(tempfile.gettempdir())
    handle, name = tempfile.mkstemp(prefix="eg-bench-", suffix=".csv", dir=csv_dir)
    os.close(handle)
    csv_path = Path(name)
    try:
        say(f"generating readings ({args.meters} meters x {args.days} days) into {csv_path}")
        with stopwatch() as generated:
            readings = write_csv(csv_path, meters, args.days, args.seed)
        size = csv_path.stat().st_size
        say(f"  {readings:,} readings, {size / 1e6:,.1f} MB in {generated[0]:.1f} s")
        say(f"import: {args.import_rounds} rounds, ours and the baselines alternating")
        import_seconds, queued = bench_import(
            report, csv_path, readings, customer.utility_id, args.import_rounds
        )
        catch_up = bench_rollups(report, args, customer.utility_id, readings, queued)
        if catch_up is not None:
            both = import_seconds + catch_up
            report.rows.insert(
                2,
                Row(
                    "import",
                    "import + its catch-up tasks (import with rollups)",
                    both,
                    per_second(readings, both, "rows"),
                ),
            )
        if args.requests > 0:
            bench_read(report, args, customer, meters[0].number)
    finally:
        if args.keep_csv:
            say(f"CSV kept: {csv_path}")
        else:
            csv_path.unlink(missing_ok=True)
        execute(f"DROP TABLE IF EXISTS {BARE_READING_TABLE}, {BARE_ROLLUP_TABLE}")
    if args.cleanup:
        clean_previous_run()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    report.notes[:0] = [
        f"data: {args.meters} meters x {args.days} days of 15-minute readings ="
        f" {readings:,} readings (CSV {size / 1e6:,.1f} MB); PostgreSQL {server};"
        f" {os.cpu_count()} CPUs, load average at the end {load}",
        "ratio: our time / the baseline's time, both measured in this run on the same rows",
    ]
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
