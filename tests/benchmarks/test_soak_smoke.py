"""The soak script runs end to end (a few seconds of each phase, against real gunicorn,
PostgreSQL and Redis): its checks hold and its report has the figures benchmarks/README.md
quotes. The figures themselves are measured outside the suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the soak needs PostgreSQL")
def test_soak_smoke_run_passes_its_checks(transactional_db):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    run = subprocess.run(  # noqa: S603
        [sys.executable, str(SOAK), "--smoke", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert all(report["checks"].values()), report
    probe, soak = report["phases"]
    assert probe["requests"] > 0 and soak["requests"] > 0
    assert probe["statuses"].keys() <= {"200"}
    assert soak["5xx"] == 0
    assert soak["statuses"]["429"] > 0
