"""Rollups computed by a real Celery worker (PostgreSQL + Redis) equal a full rebuild."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from usage.calendar import zone
from usage.models import Rollup, RollupDirtyRange

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


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path) -> Iterator[subprocess.Popen]:
    """``celery -A energygrid worker`` in a subprocess, on this run's test database and Redis."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: a real worker consumes from a Redis broker")
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: a worker process cannot share an in-memory SQLite database")
    log = (tmp_path / "worker.log").open("w")
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
    }
    worker = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "energygrid",
            "worker",
            "--queues=ingest,insights,default",
            "--pool=solo",
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
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield worker
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
    log.close()


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
