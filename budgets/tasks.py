"""Celery tasks of the budgets app: thin wrappers that take ids and call a service."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from budgets.idempotency import idempotency_purge_expired
from budgets.selectors import budgets_to_check
from budgets.services import budget_alerts_check as alerts_check


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def budget_alerts_check(
    meter_id: str | None = None, customer_id: str | None = None, budget_id: str | None = None
) -> None:
    """Raises the BUDGET_ALERT insights for thresholds crossed this period: every active
    budget, or only those ``meter_id``'s usage counts towards, or ``customer_id``'s, or one."""
    alerts_check(
        budgets=budgets_to_check(meter_id=meter_id, customer_id=customer_id, budget_id=budget_id)
    )


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def idempotency_records_purge() -> None:
    """Forgets Idempotency-Key records past their 24 hours."""
    idempotency_purge_expired()
