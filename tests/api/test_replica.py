"""The read-replica alias (``DATABASE_REPLICA_URL``) and its router, exercised in a separate
pytest process started with the alias configured (tests/api/replica_checks.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="mirrors a networked test database"
)


def test_reads_use_the_replica_alias_when_one_is_configured():
    db = connection.settings_dict
    # Its own database name, so its test database never collides with this run's.
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
    url += f"{db['NAME'].removeprefix('test_')}_replica"
    env = {**os.environ, "DATABASE_URL": url, "DATABASE_REPLICA_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--create-db",
         "tests/api/replica_checks.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout, done.stdout
