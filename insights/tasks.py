"""Celery tasks of the insights app: thin wrappers that take ids and call the pipeline."""

from __future__ import annotations

import logging

from celery import group, shared_task
from django.core.cache import cache
from django.db import OperationalError

from customers.models import Customer, Meter
from insights.services import insights_generate

logger = logging.getLogger(__name__)

#: Customers per nightly task: big enough to amortise a task, small enough to spread.
NIGHTLY_BATCH = 200
#: After rollups catch up, a customer's insights are refreshed once within this many seconds,
#: however many catch-ups landed meanwhile.
REFRESH_DELAY_SECONDS = 300


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def insights_generate_for_customer(customer_id: str) -> None:
    """Runs every insight model for one customer (gone or deactivated: nothing to do)."""
    customer = Customer.objects.filter(pk=customer_id, active=True).first()
    if customer is not None:
        insights_generate(customer=customer)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def insights_generate_batch(customer_ids: list[str]) -> None:
    """One nightly chunk. A customer whose models fail is logged and skipped, so one odd
    meter cannot cost a chunk of other customers their insights; a database outage retries."""
    for customer in Customer.objects.filter(pk__in=customer_ids, active=True):
        try:
            insights_generate(customer=customer)
        except OperationalError:
            raise
        except Exception:
            logger.exception("insights failed for customer %s", customer.pk)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def insights_nightly() -> None:
    """Fans the night's run out over workers, :data:`NIGHTLY_BATCH` customers per task (a
    database outage retries; the batches are idempotent, so a repeated fan-out is harmless)."""
    ids = [
        str(pk)
        for pk in Customer.objects.filter(active=True).order_by("pk").values_list("pk", flat=True)
    ]
    group(
        insights_generate_batch.s(ids[i : i + NIGHTLY_BATCH])
        for i in range(0, len(ids), NIGHTLY_BATCH)
    ).apply_async()


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def insights_refresh_for_meter(meter_id: str) -> None:
    """After a meter's rollups caught up (settings.ROLLUP_FOLLOW_UP_TASKS): refresh its
    customer's insights soon."""
    customer_id = (
        Meter.objects.filter(pk=meter_id).values_list("account__customer_id", flat=True).first()
    )
    if customer_id is not None:
        insights_refresh_soon(customer_id=str(customer_id))


def insights_refresh_soon(*, customer_id: str) -> None:
    """Queues one refresh of the customer's insights in :data:`REFRESH_DELAY_SECONDS`; further
    calls until then are absorbed (for the rollup catch-up task to call once it is done)."""
    if cache.add(f"insights:refresh:{customer_id}", 1, timeout=REFRESH_DELAY_SECONDS):
        insights_generate_for_customer.apply_async(
            args=[str(customer_id)], countdown=REFRESH_DELAY_SECONDS
        )
