"""Redis as a helper the API can do without: a client whose failures are logged once and then
avoided for a backoff, so an outage costs neither a 500 nor a connect attempt per request
(the throttles, ``energygrid.api.throttling``; the HOUR items, ``usage.hour_items``)."""

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

    def run(self, operation: Callable[[redis.Redis], T]) -> T | None:
        """``operation(client)``, or ``None`` when Redis fails or is being left alone."""
        if time.monotonic() < self._skip_until:
            return None
        try:
            return operation(self.client)
        except redis.RedisError as error:
            self._back_off(error)
            return None

    def _back_off(self, error: Exception) -> None:
        with self._lock:
            if time.monotonic() < self._skip_until:
                return
            self._skip_until = time.monotonic() + REDIS_BACKOFF_SECONDS
        self._logger.warning(
            "%s is off for %.0f s: Redis is unreachable (%s)",
            self._what,
            REDIS_BACKOFF_SECONDS,
            type(error).__name__,
        )
