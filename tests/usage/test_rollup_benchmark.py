"""A smoke run of the rollup benchmark at a tiny size, so its code never rots (no thresholds:
the figures are only printed; here they only have to exist and the check has to hold)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from customers.models import Meter
from usage.calendar import local_date_start, zone
from usage.imports import readings_upsert

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the benchmark needs PostgreSQL"
)


def load_benchmark():
    path = Path(__file__).parents[2] / "benchmarks" / "import_and_rollups.py"
    spec = importlib.util.spec_from_file_location("import_and_rollups", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.mark.django_db(transaction=True)
def test_the_rollup_benchmark_runs_at_a_tiny_size(capsys):
    bench = load_benchmark()
    customer, planned = bench.create_meters(2, seed=3)
    start = bench.first_day(3)
    for number, planned_meter in enumerate(planned):
        meter = Meter.objects.get(meter_number=planned_meter.number)
        first = local_date_start(zone(planned_meter.timezone), start)
        readings_upsert(
            meter=meter,
            readings=[
                (first + i * timedelta(minutes=15), Decimal(number + i % 7), None, "ACTUAL")
                for i in range(3 * 96)
            ],
        )
    report = bench.Report()
    args = argparse.Namespace(skip_catch_up=True, rollup_rounds=1)

    bench.bench_rollups(report, args, customer.utility_id, 2 * 3 * 96, bench.QueuedTasks())
    report.print()

    measured = {row.what: row for row in report.rows}
    assert "rebuild_rollups again, nothing changed" in measured
    assert "catch-up of one new day for one meter" in measured
    assert all(row.seconds is not None and row.seconds > 0 for row in report.rows)
    printed = capsys.readouterr().out
    assert "DAY 0 of 6 differ" in printed and "MONTH" in printed
