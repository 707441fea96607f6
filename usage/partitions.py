"""Monthly partitions of ``usage_reading`` (PostgreSQL only; elsewhere it is a plain table).

The table is range-partitioned by ``start``, one partition per UTC month, plus a DEFAULT
partition so an insert never fails for want of one. The SQL function
``usage_reading_ensure_partitions`` (migration 0001) creates the partitions for a range and
moves any rows the DEFAULT partition already holds for those months into them. Imports call it
for their own range; a daily beat task keeps the next few months ready so that live data never
lands in DEFAULT.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection


def reading_partitions_ensure(*, start: datetime, end: datetime) -> int:
    """Creates the monthly partitions covering ``[start, end]``; returns how many were new."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT usage_reading_ensure_partitions(%s, %s)", [start, end])
        return cursor.fetchone()[0]


def reading_partitions_ahead(*, now: datetime, months: int = 3) -> int:
    """Partitions from this month to ``months`` months ahead, so live data never hits DEFAULT."""
    return reading_partitions_ensure(start=now, end=now + timedelta(days=31 * months))
