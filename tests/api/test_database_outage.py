"""PostgreSQL unreachable (issue 9): a real server whose database connection runs through a
loopback proxy the test cuts. Every endpoint that needs the database answers 503 problem with
Retry-After (not a 500), /readyz says the database is down, static endpoints keep serving, and
the very next request after the database comes back is served, by the same worker process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from customers.services import session_issue
from tests.tcp_proxy import TcpProxy, free_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a networked database"),
]

ROOT = Path(__file__).parents[2]
#: Generous: only bounds a hung start-up, never measures anything.
STARTUP_DEADLINE_SECONDS = 60


def call(base: str, method: str, path: str, token: str | None = None, body=None, cookie=None):
    """(status, headers, raw body) of one HTTP request to the live server."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    database = connection.settings_dict
    relay = TcpProxy((database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)))
    relay.open()
    yield relay
    relay.cut()


@pytest.fixture
def server(proxy: TcpProxy, tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen]]:
    """gunicorn (one sync worker, persistent database connections) on the test database, via
    the proxy; yields its base URL, its log file and the process."""
    database = connection.settings_dict
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@127.0.0.1:{proxy.port}/{database['NAME']}",
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "gunicorn", "energygrid.wsgi", "-w", "1",
             "-b", f"127.0.0.1:{port}", "--timeout", "60"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while True:
        try:
            if call(base, "GET", "/healthz")[0] == 200:
                break
        except OSError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    yield base, log, process
    process.terminate()
    process.wait(timeout=30)


def admin_session() -> str:
    """The Cookie header of a logged-in superuser's admin session (stored in the database)."""
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="unused"))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def endpoints(refresh_token: str) -> list[tuple[str, str, dict | None]]:
    """Every API route that reads or writes the database, with ids that need not exist (and a
    well-signed refresh token, which only the database can tell is still alive)."""
    some = uuid.uuid4()
    range_ = "start=2026-03-01&end=2026-03-02"
    return [
        ("POST", "/usage/v1/Customer/login", {"identityToken": "x.y.z"}),
        ("POST", "/usage/v1/Customer/refresh", {"refreshToken": refresh_token}),
        ("POST", "/usage/v1/Customer/logout", {"refreshToken": refresh_token}),
        ("GET", "/usage/v1/Customer/profile", None),
        ("GET", "/usage/v1/Accounts", None),
        ("GET", f"/usage/v1/Accounts/{some}", None),
        ("GET", "/usage/v1/Meters", None),
        ("GET", f"/usage/v1/Meters/{some}", None),
        ("GET", f"/usage/v1/Usage/{some}?granularity=DAY&{range_}", None),
        ("GET", f"/usage/v1/Usage/{some}/summary?{range_}", None),
        ("GET", f"/usage/v1/Usage/{some}/export?format=csv&{range_}", None),
        ("GET", "/usage/v1/Budgets", None),
        # A body valid on its face: an invalid one is a 400 before any query (the token's
        # customer is a cached principal), so only this one shows the outage.
        (
            "POST",
            "/usage/v1/Budgets",
            {
                "name": "x",
                "kind": "COST",
                "period": "MONTHLY",
                "accountId": str(some),
                "limit": "9",
            },
        ),
        ("GET", f"/usage/v1/Budgets/{some}", None),
        ("PATCH", f"/usage/v1/Budgets/{some}", {"name": "y"}),
        ("DELETE", f"/usage/v1/Budgets/{some}", None),
        ("GET", "/usage/v1/Insights", None),
        ("GET", f"/usage/v1/Insights/{some}", None),
        ("PATCH", f"/usage/v1/Insights/{some}", {"status": "READ"}),
    ]


def test_unreachable_database_is_503_everywhere_and_recovers_without_restart(alice, proxy, server):
    base, log, process = server
    session = session_issue(customer=alice)
    token = session.access_token
    assert call(base, "GET", "/usage/v1/Customer/profile", token)[0] == 200
    admin = admin_session()
    assert call(base, "GET", "/admin/", cookie=admin)[0] == 200

    proxy.cut()

    for method, path, body in endpoints(session.refresh_token):
        status, headers, raw = call(base, method, path, token, body)
        assert status == 503, (method, path, raw)
        assert headers["Content-Type"] == "application/problem+json"
        assert headers["Retry-After"] == "5"
        problem = json.loads(raw)
        assert problem["type"].endswith("/service-unavailable")
        assert problem["instance"] == path.split("?")[0]
    # Outside DRF too: the admin (whose session lives in the database) gives the same 503.
    status, headers, raw = call(base, "GET", "/admin/", cookie=admin)
    assert (status, headers["Content-Type"], headers["Retry-After"]) == (
        503,
        "application/problem+json",
        "5",
    )
    status, headers, raw = call(base, "GET", "/readyz")
    assert status == 503
    assert "database" in json.loads(raw)["detail"]
    assert headers["Retry-After"]
    # Every API request says so, even one that needs no database; liveness and the static
    # documentation keep serving.
    status, headers, raw = call(base, "GET", "/usage/v1/Metadata/granularity-types")
    assert (status, headers["Retry-After"]) == (503, "5")
    assert json.loads(raw)["type"].endswith("/service-unavailable")
    assert call(base, "GET", "/healthz")[0] == 200
    assert call(base, "GET", "/usage/v1/schema?format=json")[0] == 200

    proxy.open()

    status, _, raw = call(base, "GET", "/usage/v1/Customer/profile", token)
    assert status == 200, raw
    assert json.loads(raw)["id"] == str(alice.id)
    assert call(base, "GET", "/readyz")[0] == 200
    assert call(base, "GET", "/usage/v1/Metadata/granularity-types")[0] == 200
    assert call(base, "GET", "/admin/", cookie=admin)[0] == 200
    assert process.poll() is None
    text = log.read_text()
    assert text.count("Booting worker") == 1, text
    assert "Unhandled exception" not in text
    assert "Internal Server Error" not in text
