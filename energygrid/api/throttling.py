"""Throttles: per client IP on login and on bad bearer tokens, per customer on everything else
(contract section 9).

Each request costs one atomic counter operation: a fixed-window counter per client (``INCR``;
the first hit of a window sets its ``EXPIRE``, so the window opens with the client's first
request) in one Lua script on Redis, or ``add`` + ``incr`` on the local-memory cache when no
``REDIS_URL`` is set (the embedded demo). When Redis cannot be
reached the throttles fail open: the request goes through, a warning is logged, and Redis is
left alone for a backoff (``energygrid.failopen``) so an outage costs no connect attempt per
request.

The client IP is DRF's ``get_ident``: ``REMOTE_ADDR`` unless ``NUM_PROXIES`` says how many
trusted proxies append to ``X-Forwarded-For``, so a client cannot pick its own identity.
"""

from __future__ import annotations

import logging
import time
from functools import cache

from django.conf import settings
from django.core.cache import cache as local_cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from energygrid.failopen import FailOpenRedis

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# KEYS[1]: the client's counter; ARGV[1]: the window in ms. Returns the count after this request
# and the milliseconds left in the window.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
"""


class _RedisCounter:
    """The counter script on one Redis URL, skipped for a backoff after a failure."""

    def __init__(self, url: str) -> None:
        self._redis = FailOpenRedis(url, what="Throttling", logger=logger)
        self._script = self._redis.client.register_script(_HIT)

    def hit(self, key: str, period: int) -> tuple[int, float] | None:
        counted = self._redis.run(lambda _: self._script(keys=[key], args=[period * 1000]))
        if counted is None:
            return None
        count, left_ms = counted
        return int(count), max(int(left_ms), 0) / 1000


@cache
def _redis_counter(url: str) -> _RedisCounter:
    return _RedisCounter(url)


def window_hit(key: str, period: int) -> tuple[int, float] | None:
    """Counts one request against ``key``, whose window opens with its first request and lasts
    ``period`` seconds. Returns the count and the seconds left in the window, or ``None`` when
    the counter store is down (the caller lets the request through)."""
    url = settings.REDIS_URL
    if url:
        return _redis_counter(url).hit(key, period)
    now = time.time()
    local_cache.add(f"{key}:ends", now + period, timeout=period)
    local_cache.add(key, 0, timeout=period)
    return local_cache.incr(key), local_cache.get(f"{key}:ends", now + period) - now


def parse_rate(rate: str) -> tuple[int, int]:
    """``"20/min"`` -> (20, 60): requests per period in seconds."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period[0]]


class WindowRateThrottle(BaseThrottle):
    """At most N requests per fixed window of the rate's period, per ``ident``.

    Reads its rate from the current settings on every request (DRF's own classes copy
    ``DEFAULT_THROTTLE_RATES`` at import, so ``override_settings`` would be ignored).
    """

    scope: str

    def __init__(self) -> None:
        self._wait: float | None = None

    def get_rate(self) -> tuple[int, int]:
        try:
            return parse_rate(api_settings.DEFAULT_THROTTLE_RATES[self.scope])
        except KeyError:
            raise ImproperlyConfigured(f"No throttle rate set for scope {self.scope!r}") from None

    def ident(self, request, view) -> str:
        return f"ip:{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        limit, period = self.get_rate()
        hit = window_hit(f"energygrid:throttle:{self.scope}:{self.ident(request, view)}", period)
        if hit is None or hit[0] <= limit:
            return True
        self._wait = hit[1]
        return False

    def wait(self) -> float | None:
        return self._wait


class LoginRateThrottle(WindowRateThrottle):
    """Counts every login/refresh attempt, good or bad, per client IP."""

    scope = "login"


class BadTokenRateThrottle(WindowRateThrottle):
    """Counts refused bearer tokens per client IP (customers' and partners' alike)."""

    scope = "bad_token"

    @classmethod
    def count_refusal(cls, request) -> None:
        """Counts one refused token; past the rate, raises 429 (instead of the 401)."""
        throttle = cls()
        if not throttle.allow_request(request, None):
            raise Throttled(throttle.wait())


class CustomerRateThrottle(WindowRateThrottle):
    """Per customer once authenticated; anonymous reads (metadata) count per client IP."""

    scope = "customer"

    def ident(self, request, view) -> str:
        customer_id = getattr(request.user, "pk", None)
        return f"customer:{customer_id}" if customer_id else super().ident(request, view)
