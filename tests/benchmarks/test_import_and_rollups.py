"""The benchmark script runs end to end at a tiny size, so it never rots (no thresholds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from usage.models import Reading

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_the_benchmark_runs_at_a_tiny_size():
    if connection.vendor != "postgresql":
        pytest.skip("the benchmark needs PostgreSQL")
    params = connection.get_connection_params()
    url = (
        f"postgres://{params.get('user') or 'postgres'}@{params.get('host') or '127.0.0.1'}:"
        f"{params.get('port') or 5432}/{params['dbname']}"
    )
    run = subprocess.run(
        [
            sys.executable,
            "benchmarks/import_and_rollups.py",
            "--meters",
            "2",
            "--days",
            "3",
            "--requests",
            "0",
            "--import-rounds",
            "2",
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SECRET_KEY": "bench"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    for figure in ("keyed COPY's speed", "staged upsert's speed", "peak RSS of a process"):
        assert figure in run.stdout
    assert Reading.objects.filter(meter__utility__slug="bench").exists()
