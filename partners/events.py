"""Webhook events, recorded in the transaction of what caused them (the outbox).

Called through the hooks other apps name in settings (``ROLLUP_CAUGHT_UP_HOOKS``,
``INSIGHTS_CREATED_HOOKS``), so they never import this app. Each event goes to every partner
with a webhook whose live grant covers the account and the scope the event needs; delivery is
queued only once the transaction commits, and runs in a worker (contract section 11.2).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction

from customers.models import Meter
from energygrid.celery import app as celery_app
from metadata.catalog import InsightType, PartnerScope
from partners.models import Authorization, WebhookEvent
from usage.calendar import zone


def events_record(
    *,
    customer_id: uuid.UUID,
    account_id: uuid.UUID,
    type: str,
    scope: str,
    ordering_key: str,
    data: dict[str, Any],
) -> list[WebhookEvent]:
    """Writes one event per partner whose grant covers ``account_id`` and ``scope``."""
    authorizations = (
        Authorization.objects.filter(
            customer_id=customer_id,
            customer__active=True,
            revoked_at=None,
            accounts=account_id,
        )
        .exclude(partner__webhook_url="")
        .only("id", "partner_id", "scope")
    )
    events = WebhookEvent.objects.bulk_create(
        WebhookEvent(
            partner_id=authorization.partner_id,
            authorization=authorization,
            type=type,
            ordering_key=ordering_key,
            data=data,
        )
        for authorization in authorizations
        if scope in authorization.scopes
    )
    queues = {(event.partner_id, event.ordering_key) for event in events}
    if queues:
        transaction.on_commit(lambda: _enqueue(queues))
    return events


def _enqueue(queues: Iterable[tuple[uuid.UUID, str]]) -> None:
    """Hands the queues to a worker. Without one (tasks run eagerly in-process), nothing is
    sent: a delivery must never run inside, or slow, the work that caused it; the periodic
    sweep or ``deliver_webhooks`` delivers instead."""
    if celery_app.conf.task_always_eager:
        return
    from partners.tasks import webhooks_deliver

    for partner_id, ordering_key in queues:
        webhooks_deliver.delay(partner_id=str(partner_id), ordering_key=ordering_key)


def usage_available(*, meter: Meter, start: datetime, end: datetime) -> None:
    """``usage.available``: the rollups of ``meter`` now cover new readings in [start, end)."""
    tz = zone(meter.timezone)
    events_record(
        customer_id=meter.account.customer_id,
        account_id=meter.account_id,
        type="usage.available",
        scope=PartnerScope.USAGE_READ.value.id,
        ordering_key=f"meter:{meter.pk}",
        data={
            "meterId": str(meter.pk),
            "start": start.astimezone(tz).isoformat(),
            "end": end.astimezone(tz).isoformat(),
        },
    )


def insights_created(*, insights: Iterable[Any]) -> None:
    """``insight.created`` for each new insight, and ``budget.alert`` for a new BUDGET_ALERT."""
    for insight in insights:
        key = f"meter:{insight.meter_id}" if insight.meter_id else f"account:{insight.account_id}"
        common = {
            "customer_id": insight.customer_id,
            "account_id": insight.account_id,
            "ordering_key": key,
        }
        events_record(
            **common,
            type="insight.created",
            scope=PartnerScope.INSIGHTS_READ.value.id,
            data={
                "insightId": str(insight.pk),
                "type": insight.type,
                "meterId": str(insight.meter_id) if insight.meter_id else None,
                "accountId": str(insight.account_id),
            },
        )
        if insight.type == InsightType.BUDGET_ALERT.name:
            events_record(
                **common,
                type="budget.alert",
                scope=PartnerScope.BUDGETS_READ.value.id,
                data={
                    "budgetId": insight.data["budgetId"],
                    "insightId": str(insight.pk),
                    "threshold": insight.data["threshold"],
                },
            )
