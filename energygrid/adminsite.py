"""The admin login's lockout (django-axes) in this service's terms: the client IP the API
throttles use, and an RFC 9457 429 problem with ``Retry-After`` when a login is locked out."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import BaseThrottle

from energygrid.api.problems import problem_body, render_problem


def client_ip(request: HttpRequest) -> str:
    """``REMOTE_ADDR``, or the address ``NUM_PROXIES`` trusted proxies put in X-Forwarded-For."""
    return BaseThrottle().get_ident(request)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    cool_off = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds())
    body = problem_body(
        request,
        status_code=429,
        slug="rate-limited",
        title="Too many requests",
        detail="Too many failed logins for this account from this address; try again later.",
    )
    return render_problem(body, headers={"Retry-After": str(cool_off)})
