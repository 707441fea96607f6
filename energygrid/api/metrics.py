"""Prometheus metrics: request latency by route, Celery task durations and failures (from
Celery's signals), and, computed at scrape time, rollup lag per meter and queue depth.

Under gunicorn (several processes) set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
shared by the web and worker processes of one host: each process writes its samples there and
``/metrics`` adds them up (prometheus_client's multiprocess mode). Without it, ``/metrics``
shows the serving process only.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator

from celery.signals import task_failure, task_postrun, task_prerun
from django.conf import settings
from django.db.models import Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from kombu.exceptions import ChannelError, KombuError
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

REQUEST_SECONDS = Histogram(
    "energygrid_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status class.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TASK_SECONDS = Histogram(
    "energygrid_task_duration_seconds",
    "Run time of a Celery task, by task name and final state.",
    ["task", "state"],
    buckets=(0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 1200),
)
TASK_FAILURES = Counter(
    "energygrid_task_failures", "Celery tasks that raised, by task name.", ["task"]
)

_task_started: dict[str, float] = {}


def request_observe(*, method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(route=route, method=method, status=f"{status // 100}xx").observe(seconds)


@task_prerun.connect
def _task_started_at(task_id: str, **kwargs) -> None:
    _task_started[task_id] = time.perf_counter()


@task_postrun.connect
def _task_finished(task_id: str, task, state: str | None = None, **kwargs) -> None:
    started = _task_started.pop(task_id, None)
    if started is not None:
        TASK_SECONDS.labels(task=task.name, state=state or "UNKNOWN").observe(
            time.perf_counter() - started
        )


@task_failure.connect
def _task_failed(sender, **kwargs) -> None:
    TASK_FAILURES.labels(task=sender.name).inc()


class OperationsCollector:
    """Read at scrape time from the database and the broker, so every process agrees."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from usage.models import RollupDirtyRange

        lag = GaugeMetricFamily(
            "energygrid_rollup_lag_seconds",
            "Age of the oldest change a meter's rollups have not caught up with "
            "(meters with nothing pending are left out).",
            labels=["meter"],
        )
        now = timezone.now()
        pending = RollupDirtyRange.objects.values("meter_id").annotate(oldest=Min("created_at"))
        for row in pending:
            lag.add_metric([str(row["meter_id"])], (now - row["oldest"]).total_seconds())
        yield lag
        depth = GaugeMetricFamily(
            "energygrid_queue_depth", "Tasks waiting in a Celery queue.", labels=["queue"]
        )
        for queue, count in queue_depths().items():
            depth.add_metric([queue], count)
        yield depth


def queue_names() -> list[str]:
    routes = getattr(settings, "CELERY_TASK_ROUTES", {}) or {}
    names = {settings.CELERY_TASK_DEFAULT_QUEUE, *(route["queue"] for route in routes.values())}
    return sorted(names)


def queue_depths() -> dict[str, int]:
    """Messages waiting per queue; none with the in-process (memory) broker."""
    from energygrid.celery import app

    if settings.CELERY_BROKER_URL.startswith("memory://"):
        return {}
    depths = {}
    try:
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            for name in queue_names():
                try:
                    depths[name] = channel.queue_declare(name, passive=True).message_count
                except ChannelError:  # never declared: no worker ever listened, nothing sent
                    depths[name] = 0
    except (KombuError, OSError, RedisError):
        logger.warning("queue depth unavailable: the broker is unreachable")
    return depths


def exposition() -> bytes:
    """Every metric in Prometheus' text format (all processes' in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    operations = CollectorRegistry()
    operations.register(OperationsCollector())
    return generate_latest(registry) + generate_latest(operations)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``/metrics``, outside the public API. With ``METRICS_TOKEN`` set it takes only
    ``Authorization: Bearer <METRICS_TOKEN>`` (anything else is a 404, as if absent)."""
    from energygrid.api.problems import handler404

    expected = settings.METRICS_TOKEN
    if expected:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {expected}".encode()):
            return handler404(request)
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
