"""Celery tasks of the partners app: thin wrappers that take ids and call a service."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from partners import webhooks


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def webhooks_deliver(partner_id: str, ordering_key: str) -> None:
    """Delivers one partner's queue of events (one meter or account) in order."""
    webhooks.webhooks_deliver(partner_id=partner_id, ordering_key=ordering_key)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def webhooks_sweep() -> None:
    """Sends every queue whose head is due (retries, and events whose task was lost)."""
    for partner_id, ordering_key in webhooks.webhook_queues_due(now=timezone.now()):
        webhooks_deliver.delay(partner_id=str(partner_id), ordering_key=ordering_key)
