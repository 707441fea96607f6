"""Celery tasks of the usage app: thin wrappers that take ids and call a service."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone
from django.utils.module_loading import import_string

from customers.models import Meter
from usage.partitions import reading_partitions_ahead
from usage.rollups import rollups_catch_up_pending, rollups_rebuild, rollups_refresh


def rollups_follow_up(*, meter_ids: list[str]) -> None:
    """Queues what depends on fresh rollups (budget alerts, insights) for each meter.

    The tasks are named in settings, so usage does not import the apps built on top of it.
    Importing each task (rather than sending it by name) registers it in this process, so in
    eager mode (no broker: the embedded demo) it runs here too instead of being posted to a
    broker nothing consumes.
    """
    for task_path in settings.ROLLUP_FOLLOW_UP_TASKS:
        task = import_string(task_path)
        for meter_id in meter_ids:
            task.delay(meter_id=meter_id)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def rollups_catch_up(meter_id: str, start: str, end: str) -> None:
    """Recomputes the rollups of ``meter_id`` touching ``[start, end)`` (ISO 8601 instants)."""
    meter = Meter.objects.select_related("account").filter(pk=meter_id).first()
    if meter is None:  # deleted since the readings landed: nothing to roll up
        return
    rollups_refresh(
        meter=meter, start=datetime.fromisoformat(start), end=datetime.fromisoformat(end)
    )
    rollups_follow_up(meter_ids=[meter_id])


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def rollups_sweep() -> None:
    """Catches up dirty ranges whose task was lost or failed for good, then fires the same
    follow-ups the catch-up task would have."""
    refreshed = rollups_catch_up_pending()
    rollups_follow_up(meter_ids=[str(meter.pk) for meter in refreshed])


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def reading_partitions_ensure_ahead() -> None:
    """Creates the readings partitions for the coming months before data arrives for them."""
    reading_partitions_ahead(now=timezone.now())


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def rollups_rebuild_for_meter(meter_id: str) -> None:
    """Recomputes every rollup of one meter (queued by staff from the admin)."""
    meter = Meter.objects.select_related("account").filter(pk=meter_id).first()
    if meter is not None:
        rollups_rebuild(meter=meter)
