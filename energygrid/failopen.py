"""Redis as a helper the API can do without: a client whose failures are logged at most once a
backoff, and an unreachable Redis avoided for that backoff, so an outage costs neither a 500
nor a connect attempt per request (the throttles, ``energygrid.api.throttling``; the HOUR
items, ``usage.hour_items``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

#: After a Redis error, Redis is left alone (its callers go on without it) for this long.
REDIS_BACKOFF_SECONDS = 5.0

T = TypeVar("T")


class FailOpenRedis:
    """A redis-py client of one URL (it re-creates its pool after a fork) and when it last
    failed. ``what`` names what stops working in the warning, logged to ``logger``."""

    def __init__(self, url: str, *, what: str, logger: logging.Logger) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._what = what
        self._logger = logger
        self._lock = threading.Lock()
        self._skip_until = 0.0
        self._quiet_until = 0.0

    def run(self, operation: Callable[[redis.Redis], T]) -> T | None:
        """``operation(client)``, or ``None`` when Redis fails or is being left alone. Only an
        unreachable Redis is left alone: one that refuses a command (out of memory, a
        read-only replica) still answers the next."""
        if time.monotonic() < self._skip_until:
            return None
        try:
            return operation(self.client)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            self._failed(error, unreachable=True)
        except redis.RedisError as error:
            self._failed(error, unreachable=False)
        return None

    def _failed(self, error: Exception, *, unreachable: bool) -> None:
        """Leaves an unreachable Redis alone for the backoff, and warns at most once in it."""
        now = time.monotonic()
        with self._lock:
            if unreachable:
                self._skip_until = now + REDIS_BACKOFF_SECONDS
            if now < self._quiet_until:
                return
            self._quiet_until = now + REDIS_BACKOFF_SECONDS
        if unreachable:
            self._logger.warning(
                "%s is off for %.0f s: Redis is unreachable (%s)",
                self._what,
                REDIS_BACKOFF_SECONDS,
                type(error).__name__,
            )
        else:
            self._logger.warning(
                "%s skipped a request: Redis refused a command (%s)",
                self._what,
                type(error).__name__,
            )
