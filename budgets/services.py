"""Writes for budgets: create (at most 20 per customer), update, delete, threshold alerts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from budgets.amounts import amount_string, amount_text
from budgets.models import MAX_BUDGETS_PER_CUSTOMER, Budget, BudgetKind
from budgets.selectors import BudgetStatus, budget_statuses
from customers.models import Account, Customer, Meter
from energygrid.api.problems import Conflict
from insights.models import Severity
from insights.services import InsightDraft, insights_upsert
from metadata.catalog import BudgetPeriod, InsightType
from usage.serializers import quantity_number

#: Recorded on every BUDGET_ALERT insight; bump when the alert rule or its wording changes.
ALERT_MODEL_VERSION = "budget-thresholds-1"
#: Budgets whose status one alerts pass computes at a time (bounds memory and query size).
ALERT_CHUNK = 100


@transaction.atomic
def budget_create(
    *,
    customer: Customer,
    account: Account,
    meter: Meter | None,
    name: str,
    kind: str,
    period: str,
    limit: Decimal,
    alert_thresholds: list[int],
    active: bool,
) -> Budget:
    """A new budget, unless the customer already has the most allowed (409 ``conflict``).

    The customer's row is locked first, so two concurrent creates cannot both count 19 and
    both insert: the second waits and counts 20. ``FOR NO KEY UPDATE`` leaves the row's key
    free, so inserts elsewhere that merely reference the customer are not held up.
    """
    locked = Customer.objects.select_for_update(no_key=True).filter(pk=customer.pk)
    locked.values_list("pk", flat=True).get()
    if Budget.objects.filter(customer=customer).count() >= MAX_BUDGETS_PER_CUSTOMER:
        raise Conflict(
            f"You already have {MAX_BUDGETS_PER_CUSTOMER} budgets, the most one customer may "
            "have; delete one first."
        )
    budget = Budget.objects.create(
        customer=customer,
        account=account,
        meter=meter,
        name=name,
        kind=kind,
        period=period,
        limit=limit,
        alert_thresholds=alert_thresholds,
        active=active,
    )
    _alerts_check_after_commit(budget)
    return budget


def _alerts_check_after_commit(budget: Budget) -> None:
    """Queues the budget's own alert check for when the write commits, so a budget created (or
    changed) already past a threshold alerts at once, not at the next hourly beat. Run inline
    where tasks are eager (the demo); never for an inactive budget."""
    if not budget.active:
        return
    from budgets.tasks import budget_alerts_check  # the tasks module imports this one

    budget_alerts_check.delay_on_commit(budget_id=str(budget.pk))


def budget_update(*, budget: Budget, **changes: Any) -> Budget:
    """Applies validated ``changes``; saves (and so changes the ETag) only if a value differs.

    Call with the budget's row locked (``budget_get(for_update=True)``) so that what the
    changes were validated and ``If-Match``-checked against is what they are written over.
    """
    changed = [field for field, value in changes.items() if getattr(budget, field) != value]
    for field in changed:
        setattr(budget, field, changes[field])
    if changed:
        budget.save(update_fields=[*changed, "updated_at"])
        _alerts_check_after_commit(budget)
    return budget


def budget_delete(*, budget: Budget) -> None:
    """Deletes the budget. Its past BUDGET_ALERT insights stay: they record what happened."""
    budget.delete()


def budget_alerts_check(*, budgets: QuerySet[Budget], now: datetime | None = None) -> int:
    """Upserts one BUDGET_ALERT insight per threshold each budget has crossed this period.

    Idempotent: the insight's subject is ``budget:<id>:<threshold>`` and its period the
    budget's, so the insights' unique constraint keeps exactly one per (budget, threshold,
    period) however often, and however concurrently, this runs; a rerun refreshes the figures
    and keeps the customer's status and feedback. Drafts are written in (budget id,
    threshold) order, so concurrent runs lock rows in the same order and cannot deadlock.
    Returns how many insights were written.
    """
    now = now or timezone.now()
    written = 0
    after = None
    while True:
        chunk = budgets.filter(pk__gt=after) if after is not None else budgets
        batch = list(chunk.order_by("id")[:ALERT_CHUNK])
        if not batch:
            return written
        after = batch[-1].pk
        statuses = budget_statuses(budgets=batch, now=now)
        drafts = [
            _alert(budget, statuses[budget.pk], threshold)
            for budget in batch
            for threshold in budget.alert_thresholds
            if statuses[budget.pk].percent_used >= threshold
        ]
        if drafts:
            written += insights_upsert(drafts=drafts)


def _alert(budget: Budget, status: BudgetStatus, threshold: int) -> InsightDraft:
    used, limit = amount_text(budget, status.used), amount_text(budget, budget.limit)
    period = "monthly" if budget.period == BudgetPeriod.MONTHLY.name else "billing-period"
    return InsightDraft(
        customer=budget.customer,
        type=InsightType.BUDGET_ALERT.name,
        subject_key=f"budget:{budget.pk}:{threshold}",
        account=budget.account,
        meter=budget.meter,
        period_start=status.period.start,
        period_end=status.period.end,
        severity=Severity.ALERT if threshold >= 100 else Severity.WARNING,
        title=f'Budget "{budget.name}": {threshold}% used',
        summary=(
            f"You have used {used} of your {period} budget of {limit} "
            f"({status.percent_used}%), crossing your {threshold}% alert threshold."
        ),
        model_version=ALERT_MODEL_VERSION,
        data=_alert_data(budget, status, threshold),
    )


def _alert_data(budget: Budget, status: BudgetStatus, threshold: int) -> dict[str, Any]:
    """Insight ``data`` as contract section 7 writes figures: money as decimal strings in the
    customer's currency, energy as numbers in the meter's unit."""
    data: dict[str, Any] = {
        "budgetId": str(budget.pk),
        "threshold": threshold,
        "kind": budget.kind,
        "percentUsed": float(status.percent_used),
    }
    if budget.kind == BudgetKind.COST:
        data["used"] = amount_string(budget, status.used)
        data["limit"] = amount_string(budget, budget.limit)
        data["currency"] = budget.customer.billing_currency
    else:
        data["used"] = quantity_number(status.used)
        data["limit"] = quantity_number(budget.limit)
        data["unitOfMeasure"] = budget.meter.unit_of_measure
    return data
