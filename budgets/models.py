"""Budgets and the idempotency records that make ``POST /Budgets`` safe to retry."""

from __future__ import annotations

import uuid

from django.db import models

from customers.models import Account, Customer, Meter
from metadata.catalog import BudgetPeriod

#: More than this per customer is a 409 (contract section 6).
MAX_BUDGETS_PER_CUSTOMER = 20


class BudgetKind(models.TextChoices):
    COST = "COST", "Cost"
    ENERGY = "ENERGY", "Energy"


BUDGET_PERIOD_CHOICES = [(period.name, period.value) for period in BudgetPeriod]


class Budget(models.Model):
    """A limit on one account's cost (every meter) or one meter's energy, per period.

    The constraints hold whatever writes the row (API, admin, shell): a positive limit, and a
    meter exactly when the budget is about energy. That the account and meter belong to the
    customer, and the meter to the account, spans tables and is checked by the API's validation.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="budgets")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="budgets")
    meter = models.ForeignKey(
        Meter,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="budgets",
        help_text="The metered energy an ENERGY budget limits; empty for COST budgets.",
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=6, choices=BudgetKind.choices)
    period = models.CharField(max_length=14, choices=BUDGET_PERIOD_CHOICES)
    limit = models.DecimalField(
        max_digits=16,
        decimal_places=4,
        help_text="Money in the customer's billing currency (COST) or the meter's unit (ENERGY).",
    )
    alert_thresholds = models.JSONField(
        default=list, help_text="Percentages of the limit that raise an alert, ascending."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(limit__gt=0), name="budget_limit_positive"),
            models.CheckConstraint(
                condition=models.Q(kind=BudgetKind.COST, meter__isnull=True)
                | models.Q(kind=BudgetKind.ENERGY, meter__isnull=False),
                name="budget_meter_iff_energy",
            ),
            models.CheckConstraint(
                condition=models.Q(period__in=[name for name, _ in BUDGET_PERIOD_CHOICES]),
                name="budget_period_known",
            ),
            models.CheckConstraint(condition=~models.Q(name=""), name="budget_name_not_blank"),
        ]
        indexes = [
            models.Index(fields=["customer", "created_at", "id"], name="budget_customer_created")
        ]

    def __str__(self) -> str:
        return self.name


class IdempotencyStatus(models.TextChoices):
    IN_FLIGHT = "IN_FLIGHT", "In flight"
    COMPLETED = "COMPLETED", "Completed"


class IdempotencyRecord(models.Model):
    """One ``Idempotency-Key`` of one customer: claimed before the request runs, then the
    response it produced, replayed to retries for 24 hours.

    Kept in the database (not process memory) so every gunicorn worker sees it; the unique
    constraint is what lets exactly one of two concurrent requests with a key claim it.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the method, path and canonical JSON body."
    )
    status = models.CharField(max_length=9, choices=IdempotencyStatus.choices)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(
        db_index=True, help_text="When the key was claimed; it expires 24 hours later."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "key"], name="idempotency_key_once")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"


class BudgetState(models.TextChoices):
    """Where a budget stands in its current period (contract section 6)."""

    ON_TRACK = "ON_TRACK", "On track"
    AT_RISK = "AT_RISK", "At risk: projected to reach the limit"
    OVER = "OVER", "Over: the limit is reached"
