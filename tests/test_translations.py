"""Every translation catalog compiles: ``msgfmt --check`` (what ``compilemessages`` runs)
accepts it. A stray python-format flag on a description with "80%" once broke it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CATALOGS = sorted(Path(__file__).parents[1].glob("*/locale/*/LC_MESSAGES/django.po"))


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext (msgfmt) not installed")
@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: "/".join(path.parts[-5:-2]))
def test_the_catalog_compiles(path: Path, tmp_path: Path):
    result = subprocess.run(  # noqa: S603 - a fixed tool on our own files
        ["msgfmt", "--check-format", "-o", str(tmp_path / "django.mo"), str(path)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_every_app_catalog_is_checked():
    assert {path.parts[-5] for path in CATALOGS} >= {"insights", "metadata"}
