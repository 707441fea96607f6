"""Bearer authentication with our access tokens, whose principal is a Customer."""

from __future__ import annotations

import threading
import time

from cachetools import LRUCache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings

from customers.models import Customer
from customers.selectors import customer_principal
from energygrid.api.throttling import BadTokenRateThrottle

#: Access tokens this process has verified, by their bytes (a client repeats its token for
#: the quarter hour it lives).
_VERIFIED_MAX = 10_000
_verified: LRUCache = LRUCache(maxsize=_VERIFIED_MAX)
_verified_lock = threading.Lock()


def _clock() -> float:
    """Now, in seconds since the epoch (what a remembered token's ``exp`` is compared with)."""
    return time.time()


class CustomerJWTAuthentication(JWTAuthentication):
    """simplejwt's bearer check, resolving the token to an *active* Customer.

    The customer comes from a short per-process cache (``customer_principal``), so a request
    costs no query once its customer was seen: deactivation cuts off access tokens within
    ``AUTH_CUSTOMER_CACHE_SECONDS``. A token's signature and claims are checked once per
    process: the same bytes are then trusted until the token's own ``exp`` (profiled: PyJWT's
    decode was a fifth of a cached Usage page's time). Every refused bearer token counts
    against the per-IP ``bad_token`` throttle; past it, the answer is 429 rather than 401.
    """

    www_authenticate_realm = "energygrid"

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            BadTokenRateThrottle.count_refusal(request)
            raise

    def get_validated_token(self, raw_token: bytes):
        key = bytes(raw_token)
        with _verified_lock:
            token = _verified.get(key)
        if token is not None and _clock() < token.payload["exp"]:
            return token
        token = super().get_validated_token(raw_token)
        with _verified_lock:
            _verified[key] = token
        return token

    def get_user(self, validated_token) -> Customer:
        customer_id = validated_token.get(api_settings.USER_ID_CLAIM)
        customer = customer_principal(customer_id=customer_id) if customer_id else None
        if customer is None:
            raise InvalidToken("Token is invalid")
        return customer


class CustomerJWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "customers.authentication.CustomerJWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "accessToken from POST /usage/v1/Customer/login or /refresh.",
        }
