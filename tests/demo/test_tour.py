"""``scripts/tour`` (the README's walk-through, block by block) against a live demo server:
the embedded default (SQLite, tasks in-process) served by ``runserver`` as ``scripts/demo``
serves it, on a port of its own."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.demo.conftest import ROOT, EmbeddedDemo

_PORTS = range(18650, 18700)


def _free_port() -> int:
    for port in _PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    pytest.fail(f"no free port in {_PORTS}")


@pytest.fixture(scope="module")
def demo_server(
    embedded_demo: EmbeddedDemo, tmp_path_factory
) -> Iterator[tuple[int, dict[str, str], Path]]:
    port = _free_port()
    log = tmp_path_factory.mktemp("demo-server") / "runserver.log"
    server = subprocess.Popen(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", "runserver", "--noreload", "--insecure", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=embedded_demo.env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    try:
        for _ in range(300):  # bounded: at most ~60 s for the server to answer
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        break
            except OSError:
                assert server.poll() is None, log.read_text()
                time.sleep(0.2)
        else:
            pytest.fail("the demo server never answered /healthz")
        yield port, embedded_demo.env, log
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_tour(
    port: int, env: dict[str, str], readme: Path | None = None
) -> subprocess.CompletedProcess[str]:
    tour_env = {
        **env,
        "PORT": str(port),
        # The test's interpreter is the walk-through's `python` (as an activated venv would be).
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
    }
    return subprocess.run(  # noqa: S603 - our own script
        ["bash", str(ROOT / "scripts" / "tour")],  # noqa: S607 - bash from PATH
        cwd=ROOT,
        env=tour_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_readme_walk_through_passes_against_a_live_demo(demo_server):
    port, env, log = demo_server

    done = run_tour(port, env)

    assert done.returncode == 0, done.stdout + done.stderr + log.read_text()
    out = done.stdout
    for step in [
        "Log in",
        "Accounts and meters",
        "Usage at three granularities",
        "A solar home's roof",
        "Insights",
        "A budget",
        "If-Match",
        "Refresh",
        "tour passed",
    ]:
        assert step in out, step
    assert '"granularity":"FIFTEEN_MINUTE"' in out and '"granularity":"MONTH"' in out
    assert '"direction":"RECEIVED"' in out and '"direction":"NET"' in out
    assert "start,end,quantity,unitOfMeasure,cost,currency,quality" in out
    assert '"status":"READ","feedback":"HELPFUL"' in out
    assert "stale If-Match: 412" in out and "deleted: 204" in out and "logged out: 204" in out


class _NotFound(BaseHTTPRequestHandler):
    """A server where every path is gone: each request gets a 404 problem."""

    def _answer(self) -> None:
        body = b'{"type": "https://api.energygrid.example/problems/not-found", "status": 404}'
        self.send_response(404)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, *args) -> None:
        return None


def test_the_tour_stops_at_an_unexpected_status(embedded_demo):
    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done = run_tour(server.server_address[1], embedded_demo.env)
    finally:
        server.shutdown()
        thread.join()

    assert done.returncode != 0
    assert "curl: (22) The requested URL returned error: 404" in done.stderr
    assert "== 2. Log in" in done.stdout
    assert "== 3." not in done.stdout and "tour passed" not in done.stdout


def test_the_partner_guide_s_typed_client_works_against_a_live_demo(demo_server, tmp_path):
    """docs/partner-developers.md: a client generated from the served schema by
    openapi-python-client, used by the guide's own Python block, reads a week of usage."""
    port, env, log = demo_server
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/usage/v1/schema?format=json") as r:
        (tmp_path / "energygrid.json").write_bytes(r.read())
    generator = Path(sys.executable).parent / "openapi-python-client"
    subprocess.run(  # noqa: S603 - the generator the guide names, with the guide's flags
        [
            *(str(generator), "generate", "--path", "energygrid.json", "--meta", "none"),
            *("--output-path", "energygrid_client"),
        ],
        cwd=tmp_path,
        env={**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"},
        capture_output=True,
        check=True,
        timeout=300,
    )
    guide = (ROOT / "docs" / "partner-developers.md").read_text()
    example = re.search(r"```python\n(.*?)```", guide, re.S).group(1)

    done = subprocess.run(  # noqa: S603 - the guide's example
        [sys.executable, "-c", example],
        cwd=ROOT,
        env={
            **env,
            "PORT": str(port),
            "PYTHONPATH": str(tmp_path),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr + log.read_text()
    rows = done.stdout.splitlines()
    assert 1 <= len(rows) <= 7
    for row in rows:
        # demo-0001 is a solar home: net usage and cost drop below zero on sunny days.
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\d 00:00:00-0[45]:00 -?[\d.]+ kWh -?\d+\.\d\d USD", row
        ), row
