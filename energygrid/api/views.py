"""Liveness and readiness probes."""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from energygrid.api.problems import ServiceUnavailable
from energygrid.celery import app as celery_app

logger = logging.getLogger(__name__)

_STATUS = inline_serializer("HealthStatus", {"status": serializers.CharField()})
_READY = inline_serializer(
    "ReadinessStatus",
    {
        "status": serializers.CharField(),
        "database": serializers.CharField(),
        "cache": serializers.CharField(),
        "broker": serializers.CharField(),
    },
)


class HealthView(APIView):
    """The process is alive and serving requests."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(responses=_STATUS, tags=["Health"], summary="Liveness probe")
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was stored")
    cache.delete(key)


def _check_broker() -> None:
    """Connects to the configured broker once, without retrying: a probe must answer fast.

    Decided by the broker URL, not by eager mode: tests and shells switch tasks to eager while
    a real broker is still configured. ``memory://`` is the embedded in-process default.
    """
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return
    with celery_app.connection_for_write(url) as conn:
        conn.ensure_connection(max_retries=0, timeout=2)


class ReadinessView(APIView):
    """Database, cache and broker are reachable; otherwise 503 naming what is down."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    checks = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}

    @extend_schema(
        responses={
            200: _READY,
            503: OpenApiResponse(
                description="Not ready (`service-unavailable`): the detail names what is down."
            ),
        },
        tags=["Health"],
        summary="Readiness probe",
    )
    def get(self, request: Request) -> Response:
        down = []
        for name, check in self.checks.items():
            try:
                check()
            except Exception:
                logger.warning("readiness check failed: %s", name, exc_info=True)
                down.append(name)
        if down:
            raise ServiceUnavailable(f"Unavailable: {', '.join(down)}.")
        return Response({"status": "ok", **{name: "ok" for name in self.checks}})
