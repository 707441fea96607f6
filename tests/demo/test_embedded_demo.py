"""The embedded demo's own output, seeded as ``./scripts/demo`` seeds it (to a pipe)."""

from __future__ import annotations

import os
import subprocess

from tests.demo.conftest import ROOT


def test_seeding_to_a_pipe_prints_one_line_as_each_stage_starts(embedded_demo):
    lines = embedded_demo.seed_stdout.splitlines()

    stages = [line for line in lines if line.startswith("Seeding ")]
    assert stages == [
        "Seeding customers: 3 customers",
        f"Seeding readings: {stages[1].split(': ')[1]}",
        "Seeding insights: 3 customers",
    ]
    assert stages[1].endswith(" meters")
    assert lines.index(stages[1]) < lines.index(stages[2])


def test_the_embedded_default_seeds_without_broker_warnings(embedded_demo):
    assert "kombu" not in embedded_demo.seed_stderr
    assert "No hostname was supplied" not in embedded_demo.seed_stderr
    assert "WARNING" not in embedded_demo.seed_stderr


def test_scripts_demo_hint_prints_the_login_for_a_second_terminal_and_nothing_else():
    printed = subprocess.run(  # noqa: S603 - our own script
        ["bash", str(ROOT / "scripts" / "demo"), "--hint"],  # noqa: S607 - bash from PATH
        env={**os.environ, "PORT": "18642"},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout

    assert "http://127.0.0.1:18642" in printed
    assert "PORT=18642\n" in printed and "PORT=18642 ./scripts/tour" in printed
    assert "issue_identity_token --utility demo --subject demo-0001" in printed
    assert "demo-0001, a solar home" in printed
    assert "Starting development server" not in printed


def test_the_customer_the_hint_logs_in_as_is_the_solar_home_seeding_names(embedded_demo):
    assert "demo-0001 is a solar home" in embedded_demo.seed_stdout
