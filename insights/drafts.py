"""An insight as a generator produced it, before it is stored (see ``insights_upsert``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from customers.models import Account, Customer, Meter
from insights.models import Severity


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
