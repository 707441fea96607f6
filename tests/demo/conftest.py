"""The embedded demo as ``./scripts/demo`` runs it: SQLite, no Redis, output to a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class EmbeddedDemo:
    env: dict[str, str]
    seed_stdout: str
    seed_stderr: str


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def embedded_demo(tmp_path_factory) -> EmbeddedDemo:
    """A migrated SQLite demo seeded with a few customers and weeks of data (no REDIS_URL:
    tasks run in-process), its environment, and what ``seed_demo`` printed to a pipe."""
    folder = tmp_path_factory.mktemp("embedded-demo")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG"}
    }
    env.update(
        DATABASE_URL=f"sqlite:///{folder / 'demo.sqlite3'}",
        DJANGO_SECRET_KEY="embedded-demo-test-key",
        LOG_LEVEL="WARNING",
    )
    manage(env, "migrate", "--no-input", "-v", "0")
    seeded = manage(env, "seed_demo", "--customers", "3", "--days", "40")
    return EmbeddedDemo(env=env, seed_stdout=seeded.stdout, seed_stderr=seeded.stderr)
