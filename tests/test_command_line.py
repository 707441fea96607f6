"""Every ops command refuses bad input from a shell with one line on stderr and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def _test_database_url() -> str:
    """The test database, for a child process: PostgreSQL only (SQLite's is in memory)."""
    settings = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("a child process can only reach the test database on PostgreSQL")
    user = settings["USER"] or "postgres"
    return f"postgres://{user}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "cli-test"),
            "DATABASE_URL": _test_database_url(),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["import_readings"], "the following arguments are required: FILE"),
        (["import_customers"], "the following arguments are required"),
        (["import_readings", "x.csv", "--format", "xml"], "invalid choice: 'xml'"),
        (["seed_demo", "--customers", "many"], "invalid int value: 'many'"),
        (["add_utility", "--slug", "x"], "the following arguments are required"),
        (["issue_identity_token", "--utility", "nope", "--subject", "s"], "nope"),
        (["import_readings", "/does/not/exist.csv"], "cannot read /does/not/exist.csv"),
        (["rebuild_rollups", "--since", "yesterday"], "yesterday"),
        (["import_weather"], "the following arguments are required"),
        (["import_weather", "/does/not/exist.csv"], "/does/not/exist.csv"),
        (["generate_insights", "--customer", "nobody"], "nobody"),
        (["evaluate_insights", "--utility", "nowhere"], "nowhere"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(db, args, reason):
    result = manage(*args)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert reason in lines[0]
