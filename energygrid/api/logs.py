"""Structured logs: one JSON object per line, and one access line per request.

The access line names the route *template* (``usage/v1/Usage/{meterId}``), never the query
string, headers or body, so no token, e-mail address or name can reach the logs through it.
"""

from __future__ import annotations

import logging
import re
import time

from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from energygrid.api import metrics

access_logger = logging.getLogger("energygrid.access")

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


class JsonFormatter(_JsonFormatter):
    """``time``, ``level``, ``logger``, ``request_id``, ``message``, then the record's extras.

    ``django.request`` attaches the request object itself: it is left out (its repr holds the
    path and query string).
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s")
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request"])
        super().__init__(*args, **kwargs)


def route_of(request: HttpRequest) -> str:
    """The URL pattern that served ``request``, with ``{name}`` for its parameters."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return _GROUP.sub(r"{\1}", match.route).strip("^$") or "/"


def customer_id_of(request: HttpRequest) -> str | None:
    """The authenticated customer's id (DRF copies its user onto the Django request).

    ``type``, not ``isinstance``: the admin's lazy ``request.user`` must not be evaluated here
    (a session query per request, and outside the views' database-outage handling).
    """
    from customers.models import Customer

    user = getattr(request, "user", None)
    return str(user.pk) if type(user) is Customer else None


class AccessLogMiddleware:
    """Logs one line per request and records its latency for ``/metrics``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        duration = time.perf_counter() - started
        route = route_of(request)
        metrics.request_observe(
            method=request.method or "", route=route, status=response.status_code, seconds=duration
        )
        access_logger.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(duration * 1000, 1),
                "customer_id": customer_id_of(request),
            },
        )
        return response
