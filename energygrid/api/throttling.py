"""Throttles: per client IP on login, per customer on everything else (contract section 9)."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle


class LoginRateThrottle(SimpleRateThrottle):
    """Counts every login/refresh attempt, good or bad, per client IP."""

    scope = "login"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class CustomerRateThrottle(SimpleRateThrottle):
    """Per customer once authenticated; anonymous reads (metadata) count per client IP."""

    scope = "customer"

    def get_cache_key(self, request, view) -> str:
        customer_id = getattr(request.user, "pk", None)
        ident = f"customer:{customer_id}" if customer_id else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
