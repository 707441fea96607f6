"""``energygrid.postgresql``'s binary cursor (the Usage reads' meter lookup and rollup page):
rows in PostgreSQL's binary format, through Django's cursor wrapper like any other query."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from django.db import connection
from django.db.utils import ProgrammingError
from django.test.utils import CaptureQueriesContext
from psycopg import pq

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's backend"),
]

SQL = "SELECT %s::uuid, %s::text, %s::bigint, %s::timestamptz, %s::integer"
PARAMS = [UUID(int=7), "DAY", 2**40, datetime(2026, 3, 8, 7, tzinfo=UTC), None]


def test_rows_come_in_binary_and_equal_a_text_cursors():
    with connection.binary_cursor() as cursor:
        cursor.execute(SQL, PARAMS)
        row = cursor.fetchone()
        formats = {cursor.cursor.pgresult.fformat(i) for i in range(len(PARAMS))}
    with connection.cursor() as cursor:
        cursor.execute(SQL, PARAMS)
        text_row = cursor.fetchone()

    assert formats == {pq.Format.BINARY}
    assert row == text_row == tuple(PARAMS)


def test_its_queries_are_logged_and_its_errors_are_djangos():
    with CaptureQueriesContext(connection) as queries, connection.binary_cursor() as cursor:
        cursor.execute("SELECT %s::bigint", [1])

    assert len(queries) == 1
    with pytest.raises(ProgrammingError), connection.binary_cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
