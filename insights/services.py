"""Writes for insights: the one upsert every generator (and the budget alerts) goes through."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from customers.models import Account, Customer, Meter
from insights.models import Insight, Severity

#: Columns a regeneration rewrites; status and feedback are the customer's and are kept.
_REGENERATED_FIELDS = [
    "account",
    "meter",
    "period_end",
    "severity",
    "title",
    "summary",
    "data",
    "generated_at",
    "model_version",
    "updated_at",
]


@dataclass(frozen=True)
class InsightDraft:
    """An insight as a generator produced it, before it is stored."""

    customer: Customer
    type: str
    subject_key: str
    period_start: datetime
    period_end: datetime
    title: str
    summary: str
    model_version: str
    severity: str = Severity.INFO
    account: Account | None = None
    meter: Meter | None = None
    data: dict[str, Any] = field(default_factory=dict)


def insights_upsert(*, drafts: list[InsightDraft]) -> int:
    """Stores ``drafts``, updating in place any insight with the same customer, type, subject
    and period (one ``INSERT ... ON CONFLICT DO UPDATE``); returns how many were written."""
    now = timezone.now()
    rows = [
        Insight(
            customer=draft.customer,
            type=draft.type,
            subject_key=draft.subject_key,
            account=draft.account,
            meter=draft.meter,
            period_start=draft.period_start,
            period_end=draft.period_end,
            severity=draft.severity,
            title=draft.title,
            summary=draft.summary,
            data=draft.data,
            generated_at=now,
            model_version=draft.model_version,
            updated_at=now,
        )
        for draft in drafts
    ]
    Insight.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["customer", "type", "subject_key", "period_start"],
        update_fields=_REGENERATED_FIELDS,
    )
    return len(rows)
