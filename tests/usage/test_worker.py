"""Rollups computed by a real Celery worker (PostgreSQL + Redis) equal a full rebuild."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from energygrid.celery import app as celery_app
from insights.models import Insight
from insights.services import insights_generate
from insights.tasks import insights_nightly
from tests.insights.test_pipeline import daily_home
from usage.calendar import zone
from usage.models import Rollup, RollupDirtyRange
from usage.rollups import ROLLUP_LOCK_CLASS

REPO = Path(__file__).parents[2]
FIGURES = (
    "meter__meter_number",
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


def worker_database_url() -> str:
    """The URL of the database this test run uses (the test database, not the configured one)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


#: Every queue tasks are routed to (settings.CELERY_TASK_ROUTES).
QUEUES = ("ingest", "insights", "default")


def start_worker(log: Path, *, pool: str) -> subprocess.Popen:
    """``celery -A energygrid worker`` in a subprocess, on this run's test database and Redis,
    consuming every queue."""
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
    }
    return subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "energygrid",
            "worker",
            f"--queues={','.join(QUEUES)}",
            f"--pool={pool}",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
            "--hostname",
            f"usage-test-{uuid.uuid4().hex[:8]}@%h",
        ],
        cwd=REPO,
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


@pytest.fixture
def worker_factory(transactional_db, tmp_path) -> Iterator:
    """Starts real workers (``worker_factory(pool=...)``), all stopped at the end; queues are
    emptied first so no task of an earlier test runs here."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: a real worker consumes from a Redis broker")
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: a worker process cannot share an in-memory SQLite database")
    with celery_app.connection_for_write() as broker:
        for queue in QUEUES:
            broker.default_channel.queue_purge(queue)
    started: list[subprocess.Popen] = []

    def start(*, pool: str = "prefork") -> subprocess.Popen:
        started.append(start_worker(tmp_path / "worker.log", pool=pool))
        return started[-1]

    yield start
    for worker in started:
        stop_worker(worker)


@pytest.fixture
def celery_worker_process(worker_factory) -> subprocess.Popen:
    return worker_factory(pool="solo")


def wait_for_catch_up(worker: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while RollupDirtyRange.objects.exists():
        if worker.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the worker did not catch up; its log:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


def csv_rows(number: str, first: datetime, count: int, step: timedelta, quantity, quality=""):
    return "".join(
        f"{number},{(first + i * step).isoformat()},{quantity(i)},{quality},\n"
        for i in range(count)
    )


@pytest.mark.worker
def test_a_real_worker_catches_rollups_up_to_a_full_rebuild(
    celery_worker_process, new_meter, tou_tariff, tmp_path
):
    new_meter(meter_number="W-NY", timezone="America/New_York", tariff=tou_tariff)
    new_meter(
        meter_number="W-IN", timezone="Asia/Kolkata", interval_seconds=3600, billing_cycle_day=31
    )
    quarter, hour = timedelta(minutes=15), timedelta(hours=1)
    header = "meterNumber,start,quantity,quality,cost\n"
    first = tmp_path / "first.csv"
    first.write_text(
        header
        # Four New York days across the 2026 spring-forward, and three Kolkata days.
        + csv_rows(
            "W-NY",
            datetime(2026, 3, 6, 5, tzinfo=UTC),
            4 * 96,
            quarter,
            lambda i: f"0.{i % 97:03d}",
        )
        + csv_rows(
            "W-IN", datetime(2026, 2, 27, 18, 30, tzinfo=UTC), 72, hour, lambda i: f"{i % 5}.5"
        )
    )
    correction = tmp_path / "correction.csv"
    correction.write_text(
        header
        + csv_rows(
            "W-NY", datetime(2026, 3, 8, 5, tzinfo=UTC), 40, quarter, lambda i: "1.25", "ESTIMATED"
        )
        + csv_rows("W-NY", datetime(2026, 4, 1, 4, tzinfo=UTC), 8, quarter, lambda i: "2")
    )

    call_command("import_readings", str(first), stdout=io.StringIO(), verbosity=0)
    call_command("import_readings", str(correction), stdout=io.StringIO(), verbosity=0)
    wait_for_catch_up(celery_worker_process, tmp_path / "worker.log")

    by_worker = list(Rollup.objects.order_by(*FIGURES[:3]).values_list(*FIGURES))
    assert by_worker
    day = Rollup.objects.get(
        meter__meter_number="W-NY", granularity="DAY", start=datetime(2026, 3, 8, 5, tzinfo=UTC)
    )
    assert day.end - day.start == timedelta(hours=23)
    assert (day.actual_count, day.estimated_count, day.expected_count) == (52, 40, 92)
    assert day.start.astimezone(zone("America/New_York")).isoformat() == "2026-03-08T00:00:00-05:00"

    Rollup.objects.all().delete()
    call_command("rebuild_rollups", stdout=io.StringIO(), verbosity=0)

    assert list(Rollup.objects.order_by(*FIGURES[:3]).values_list(*FIGURES)) == by_worker


# --- faults: a worker's pool process killed mid-task -----------------------------------------


def pool_processes(worker: subprocess.Popen) -> list[int]:
    """The pids of the worker's pool processes (its children)."""
    tasks = Path(f"/proc/{worker.pid}/task")
    return [int(pid) for task in tasks.iterdir() for pid in (task / "children").read_text().split()]


def wait_until(condition, what: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen; worker log:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


@contextmanager
def blocking_session() -> Iterator[psycopg.Connection]:
    """A session of our own on the test database, to hold locks a worker's task will wait on."""
    with psycopg.connect(worker_database_url(), autocommit=True) as session:
        yield session


def waiting(session: psycopg.Connection, condition: str, *params) -> bool:
    query = f"SELECT count(*) FROM pg_locks WHERE NOT granted AND {condition}"  # noqa: S608
    return session.execute(query, params).fetchone()[0] > 0


@pytest.mark.worker
def test_a_pool_process_killed_mid_catch_up_loses_nothing(
    worker_factory, new_meter, tou_tariff, tmp_path
):
    """SIGKILL of the pool process while ``rollups_catch_up`` is inside its transaction (held
    there on the meter's rollup lock): the task is requeued (acks_late + reject_on_worker_lost),
    and with a fresh worker the rollups equal a clean rebuild; no sweep involved."""
    meter = new_meter(meter_number="W-KILL", timezone="America/New_York", tariff=tou_tariff)
    readings = tmp_path / "readings.csv"
    readings.write_text(
        "meterNumber,start,quantity,quality,cost\n"
        + csv_rows(
            "W-KILL",
            datetime(2026, 3, 6, 5, tzinfo=UTC),
            4 * 96,
            timedelta(minutes=15),
            lambda i: f"0.{i % 89:03d}",
        )
    )
    log = tmp_path / "worker.log"
    worker = worker_factory()
    with blocking_session() as session:
        session.execute(
            "SELECT pg_advisory_lock(%s, hashtext(%s))", [ROLLUP_LOCK_CLASS, str(meter.pk)]
        )
        call_command("import_readings", str(readings), stdout=io.StringIO(), verbosity=0)
        wait_until(
            lambda: waiting(session, "locktype = 'advisory' AND classid = %s", ROLLUP_LOCK_CLASS),
            "the catch-up waiting on the meter's lock",
            log,
        )
        for pid in pool_processes(worker):
            os.kill(pid, signal.SIGKILL)
    stop_worker(worker)
    assert RollupDirtyRange.objects.filter(meter=meter).exists()  # nothing caught up yet

    fresh = worker_factory()
    wait_for_catch_up(fresh, log)

    by_worker = list(Rollup.objects.order_by(*FIGURES[:3]).values_list(*FIGURES))
    assert {row[1] for row in by_worker} == {"HOUR", "DAY", "WEEK", "MONTH", "BILLING_PERIOD"}
    Rollup.objects.all().delete()
    call_command("rebuild_rollups", "--force", stdout=io.StringIO(), verbosity=0)
    assert list(Rollup.objects.order_by(*FIGURES[:3]).values_list(*FIGURES)) == by_worker


INSIGHT_FIGURES = ("type", "subject_key", "period_start", "period_end", "severity", "title")


@pytest.mark.worker
def test_a_pool_process_killed_mid_insights_run_loses_nothing(worker_factory, alice, tmp_path):
    """SIGKILL of the pool process while the nightly batch waits to write its insights: the
    batch is requeued, and a fresh worker writes what a clean run writes."""
    daily_home(alice, "A0000001", 15.0)
    insights_generate(customer=alice)
    clean = list(Insight.objects.order_by(*INSIGHT_FIGURES).values_list(*INSIGHT_FIGURES, "data"))
    assert clean
    Insight.objects.all().delete()
    log = tmp_path / "worker.log"
    worker = worker_factory()
    with blocking_session() as session, session.transaction():
        # Reads go on; the batch's first write waits for this lock, mid-run.
        session.execute(f"LOCK TABLE {Insight._meta.db_table} IN SHARE MODE")
        insights_nightly.delay()
        wait_until(
            lambda: waiting(session, "relation = %s::regclass", Insight._meta.db_table),
            "the insights batch waiting to write",
            log,
        )
        for pid in pool_processes(worker):
            os.kill(pid, signal.SIGKILL)
    stop_worker(worker)
    assert not Insight.objects.exists()

    worker_factory()
    wait_until(
        lambda: Insight.objects.count() >= len(clean), "the insights run after the kill", log
    )

    assert (
        list(Insight.objects.order_by(*INSIGHT_FIGURES).values_list(*INSIGHT_FIGURES, "data"))
        == clean
    )
