"""Throttles: per client IP on login, per customer on everything else (contract section 9).

The client IP is DRF's ``get_ident``: ``REMOTE_ADDR`` unless ``NUM_PROXIES`` says how many
trusted proxies append to ``X-Forwarded-For``, so a client cannot pick its own identity.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class SettingsRateThrottle(SimpleRateThrottle):
    """Reads its rate from the current settings on every request.

    DRF's own class copies ``DEFAULT_THROTTLE_RATES`` once at import, so a changed setting
    (``override_settings`` in tests, or a rate tuned in a shell) would silently be ignored.
    """

    def get_rate(self) -> str | None:
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            raise ImproperlyConfigured(f"No throttle rate set for scope {self.scope!r}") from None


class LoginRateThrottle(SettingsRateThrottle):
    """Counts every login/refresh attempt, good or bad, per client IP."""

    scope = "login"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class CustomerRateThrottle(SettingsRateThrottle):
    """Per customer once authenticated; anonymous reads (metadata) count per client IP."""

    scope = "customer"

    def get_cache_key(self, request, view) -> str:
        customer_id = getattr(request.user, "pk", None)
        ident = f"customer:{customer_id}" if customer_id else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
