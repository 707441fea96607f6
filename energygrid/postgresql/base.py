"""Django's PostgreSQL backend, its per-request health check done without a query.

With ``CONN_HEALTH_CHECKS`` Django checks a persistent connection before the first query of
each request by running ``SELECT 1``: a round trip on every API request, 7 % of a worker's
time on the Usage read under load (py-spy, ``benchmarks/README.md``). A connection the server
or the network has closed is known without asking: libpq has marked it bad, or its socket,
which an idle connection's never is, is readable (a terminated backend writes its FATAL error
then closes; a cut connection reads end-of-file). Such a connection is closed, and the request
connects afresh, as after Django's own check. A peer that vanished without a word is not
detected by either check: its first query fails, which the API answers with a 503.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if self.pool or not self.health_check_enabled or self.health_check_done:
            return super().close_if_health_check_failed()
        if self.connection is not None and not connection_quiet(self.connection):
            self.close()
        self.health_check_done = True


def connection_quiet(connection) -> bool:
    """Whether a psycopg connection between requests is open and nothing arrived on it."""
    if connection.closed or connection.pgconn.status != pq.ConnStatus.OK:
        return False
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN)
    return not poller.poll(0)
