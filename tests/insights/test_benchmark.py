"""A smoke run of ``benchmarks/insights.py`` at a tiny size, so the benchmark never rots: it
loads its customers, runs real worker processes against the test database and reports its
figures (no thresholds on them: timings are the benchmark's business, not the suite's)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from django.db import connection

from customers.models import Customer
from insights.models import Insight

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "insights.py"


@pytest.mark.django_db(transaction=True)
def test_the_insights_benchmark_runs_at_a_tiny_size(monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("insights_benchmark", SCRIPT)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    settings = connection.settings_dict
    # The worker processes read the test database, where this test committed the data.
    monkeypatch.setenv(
        "DATABASE_URL",
        f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}",
    )

    figures = benchmark.main(["--customers", "2", "--days", "60", "--rounds", "1"])

    assert Customer.objects.filter(utility__slug=benchmark.UTILITY_SLUG).count() == 2
    assert figures["insights"] == Insight.objects.count() > 0
    assert figures["cpu_s_per_customer"] > 0
    assert figures["customers_per_s_1_worker"] > 0 and figures["customers_per_s_2_workers"] > 0
    assert "2 workers vs 1" in capsys.readouterr().out
