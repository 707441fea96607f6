"""A smoke run of the import benchmark at a tiny size, so its code never rots (no thresholds:
the figures are only printed; here they only have to exist)."""

from __future__ import annotations

import pytest
from django.db import connection

from usage.models import Reading

from .test_rollup_benchmark import load_benchmark

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the benchmark needs PostgreSQL"
)


@pytest.mark.django_db(transaction=True)
def test_the_import_benchmark_runs_at_a_tiny_size(tmp_path, capsys):
    bench = load_benchmark()
    customer, planned = bench.create_meters(2, seed=3)
    csv_path = tmp_path / "bench.csv"
    readings = bench.write_csv(csv_path, planned, 3, seed=3)
    report = bench.Report()

    seconds, queued = bench.bench_import(report, csv_path, readings, customer.utility_id, 2)
    report.print()

    assert seconds > 0
    assert len(queued.calls) == 2  # one catch-up per meter, recorded, not run
    assert Reading.objects.count() == readings
    printed = capsys.readouterr().out
    for figure in ("keyed COPY's speed", "staged upsert's speed", "peak RSS of a process"):
        assert figure in printed
