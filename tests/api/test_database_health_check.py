"""The per-request health check of PostgreSQL connections (``energygrid.postgresql``): a
healthy connection is kept without a query, one the server terminated is replaced."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.db import connection, connections

from energygrid.postgresql.base import connection_quiet

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's backend"),
]

#: Only bounds the wait for the server to act on pg_terminate_backend; never measures.
TERMINATION_DEADLINE_SECONDS = 30


@pytest.fixture
def other() -> Iterator:
    """A second connection to the test database, as a worker holds between requests."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def last_statement(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_healthy_connection_is_kept_without_a_query(other):
    pid = backend_pid(other)
    with other.cursor() as cursor:
        cursor.execute("SELECT 'before the check'")
    other.health_check_done = False

    other.close_if_health_check_failed()

    assert other.health_check_done
    assert other.connection is not None
    assert last_statement(pid) == "SELECT 'before the check'"  # Django's check ran SELECT 1
    assert backend_pid(other) == pid


def test_a_connection_the_server_terminated_is_replaced_before_the_first_query(other):
    pid = backend_pid(other)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + TERMINATION_DEADLINE_SECONDS
    while connection_quiet(other.connection):
        assert time.monotonic() < deadline, "the server never closed the connection"
        time.sleep(0.01)
    other.health_check_done = False

    other.close_if_health_check_failed()

    assert backend_pid(other) != pid
