"""Delivery of webhook events per Standard Webhooks (contract section 11.2).

The ``standardwebhooks`` library signs. One queue per (partner, ordering key) is delivered
strictly in order: only its oldest pending event is attempted, so a receiver that fails holds
that meter's later events back until it answers (or the event is given up). A claim is a
conditional update that pushes the event's ``next_attempt_at`` past the request timeout, so
two workers never attempt the same event at once and a crashed worker's claim lapses.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db.models import Min
from django.utils import timezone
from standardwebhooks import Webhook

from partners.models import WebhookAttempt, WebhookEvent, WebhookEventStatus

USER_AGENT = "EnergyGrid-Webhooks/1.0"


def webhook_body(event: WebhookEvent) -> str:
    return json.dumps(
        {"type": event.type, "timestamp": event.created_at.isoformat(), "data": event.data},
        separators=(",", ":"),
    )


def webhook_headers(event: WebhookEvent, body: str, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt: the id is the event's, the timestamp and
    signature the attempt's."""
    signature = Webhook(event.partner.webhook_secret).sign(event.header_id, now, body)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": event.header_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def _post(event: WebhookEvent, now: datetime) -> tuple[int | None, str]:
    body = webhook_body(event)
    try:
        response = requests.post(
            event.partner.webhook_url,
            data=body.encode(),
            headers=webhook_headers(event, body, now),
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.Timeout:
        return None, "no answer within the timeout"
    except requests.RequestException as exc:
        return None, f"could not connect ({type(exc).__name__})"
    response.close()
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}"


def webhook_attempt(*, event: WebhookEvent, now: datetime) -> bool:
    """POSTs ``event`` once and records the attempt; schedules its retry, or gives up after
    the last of ``WEBHOOK_RETRY_DELAYS``. Returns whether the receiver took it (2xx)."""
    started = time.monotonic()
    status_code, error = _post(event, now)
    WebhookAttempt.objects.create(
        event=event,
        attempted_at=now,
        status_code=status_code,
        error=error,
        duration_ms=round((time.monotonic() - started) * 1000),
    )
    event.attempts += 1
    delays = settings.WEBHOOK_RETRY_DELAYS
    if not error:
        event.status, event.delivered_at = WebhookEventStatus.DELIVERED, timezone.now()
    elif event.attempts > len(delays):
        event.status = WebhookEventStatus.FAILED
    else:
        event.next_attempt_at = now + timedelta(seconds=delays[event.attempts - 1])
    event.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at"])
    return not error


def _deliverable(event: WebhookEvent) -> bool:
    authorization = event.authorization
    return bool(
        authorization.revoked_at is None
        and authorization.customer.active
        and event.partner.webhook_url
        and event.partner.webhook_secret
    )


def webhooks_deliver(
    *, partner_id: uuid.UUID | str, ordering_key: str, now: datetime | None = None
) -> int:
    """Delivers one queue in order while its head is due and is taken; returns how many
    were delivered. Events of a revoked grant are cancelled, never sent."""
    delivered = 0
    while True:
        moment = now or timezone.now()
        head = (
            WebhookEvent.objects.select_related("partner", "authorization__customer")
            .filter(
                partner_id=partner_id, ordering_key=ordering_key, status=WebhookEventStatus.PENDING
            )
            .order_by("id")
            .first()
        )
        if head is None or head.next_attempt_at > moment:
            return delivered
        lease = moment + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 3)
        claimed = WebhookEvent.objects.filter(
            pk=head.pk, status=WebhookEventStatus.PENDING, next_attempt_at=head.next_attempt_at
        ).update(next_attempt_at=lease)
        if not claimed:  # another worker has it
            return delivered
        if not _deliverable(head):
            WebhookEvent.objects.filter(pk=head.pk).update(status=WebhookEventStatus.CANCELLED)
            continue
        if not webhook_attempt(event=head, now=moment):
            return delivered
        delivered += 1


def webhook_queues_due(*, now: datetime) -> list[tuple[uuid.UUID, str]]:
    """The (partner, ordering key) queues whose oldest pending event is due by ``now``."""
    heads = (
        WebhookEvent.objects.filter(status=WebhookEventStatus.PENDING)
        .values("partner_id", "ordering_key")
        .annotate(head=Min("id"))
    )
    due = WebhookEvent.objects.filter(
        pk__in=[row["head"] for row in heads], next_attempt_at__lte=now
    ).values_list("partner_id", "ordering_key")
    return list(due)
