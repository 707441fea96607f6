"""The read benchmark (``benchmarks/reads.py``) run end to end at a tiny size, so it never rots:
real data, gunicorn, wrk, the bare baseline, the growth step, HOUR pages without their cache.
No figure is checked (no wall-clock thresholds in tests): only that every step ran and every
response was a 2xx."""

from __future__ import annotations

import shutil

import pytest
from django.db import connection

from benchmarks import reads
from tests.tcp_proxy import free_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the benchmark needs PostgreSQL"),
]


def test_read_benchmark_runs_at_a_tiny_size():
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (Debian: apt-get install -y wrk)")
    tiny = "--customers 2 --days 3 --ranges 2 --duration 1 --rounds 1 --growth 2 --connections 1"
    args = reads._parse_args([*tiny.split(), "--port", str(free_port())])
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"

    lines = reads.run(args, url)

    text = "\n".join(lines)
    figures = ("DAY over a year", "HOUR over a month", "DAY mixed", "HOUR mixed", "growth")
    for figure in (*figures, "USAGE_HOUR_ITEMS_SECONDS=0"):
        assert figure in text, text
    assert "ratio ours/bare" in text
    assert lines[-1] == "non-2xx responses and socket errors: 0", text
