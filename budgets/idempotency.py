"""``Idempotency-Key`` for POST (IETF httpapi idempotency-key draft), stored in the database.

A request with a key first *claims* it by inserting an in-flight record in its own committed
transaction, so a concurrent retry sees the claim at once. Then:

* the same key with a different request (method, path or body): 422 ``idempotency-key-reused``;
* the same request while the first is still running: 409 ``conflict``;
* the same request after the first succeeded: its status, body and headers are replayed;
* a request that fails (400, 409 limit, 500) releases its claim, so the client may fix it and
  retry with the same key: only successful responses are remembered.

Keys are scoped to the customer and expire 24 hours after they were claimed (expired records
are ignored at once and purged by a beat task). A claim whose request died without releasing
it (a killed worker) is taken over once it is older than :data:`IN_FLIGHT_LEASE`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from budgets.models import IdempotencyRecord, IdempotencyStatus
from customers.models import Customer
from energygrid.api.problems import Conflict, IdempotencyKeyReused

KEY_TTL = timedelta(hours=24)
#: Longer than any request may run (gunicorn's timeout is 30 s): a claim older than this whose
#: request never finished or released it belongs to a dead worker.
IN_FLIGHT_LEASE = timedelta(minutes=5)
MAX_KEY_LENGTH = 255

# The draft makes the field an RFC 8941 sf-string ("..."); bare keys, as most clients send
# them, are accepted too. Either way the key is 1-255 printable ASCII characters.
_SF_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
_PRINTABLE = re.compile(r"[\x20-\x7e]+")
#: The header values :func:`idempotency_key_parse` accepts, for the OpenAPI schema: a bare key
#: (no surrounding whitespace, not opening with a quote) or a quoted sf-string of 1-255 chars.
IDEMPOTENCY_KEY_PATTERN = r'^(?:[!#-~](?:[ -~]{0,253}[!-~])?|"(?:[ !#-\[\]-~]|\\["\\]){1,255}")$'


class InvalidIdempotencyKey(ValueError):
    """The header is not a key this service accepts."""


def idempotency_key_parse(header: str) -> str:
    """The key an ``Idempotency-Key`` header carries (``"abc"`` and ``abc`` are the same).

    A value that opens with a double quote must be a well-formed sf-string.
    """
    value = header.strip(" \t")  # a field value's surrounding whitespace is not part of it
    quoted = _SF_STRING.fullmatch(value)
    key = re.sub(r'\\(["\\])', r"\1", quoted.group(1)) if quoted else value
    if value.startswith('"') and not quoted:
        raise InvalidIdempotencyKey("A quoted key must be a well-formed sf-string.")
    if not _PRINTABLE.fullmatch(key) or len(key) > MAX_KEY_LENGTH:
        raise InvalidIdempotencyKey(
            f"Must be 1-{MAX_KEY_LENGTH} printable ASCII characters, optionally in double quotes."
        )
    return key


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    """What "the same request" means: method, path and the JSON body, ignoring whitespace and
    key order."""
    canonical = json.dumps(
        [method, path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    headers: dict[str, str]


def idempotency_claim(
    *, customer: Customer, key: str, fingerprint: str, now: datetime | None = None
) -> IdempotencyRecord | StoredResponse:
    """Claims ``key`` for this request (the in-flight record), or returns the response to
    replay; raises 422 for a different request with the key, 409 while one is in flight."""
    now = now or timezone.now()
    # Three rounds at most: an expired or released record is cleared and the insert retried.
    for _ in range(3):
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    customer=customer,
                    key=key,
                    request_hash=fingerprint,
                    status=IdempotencyStatus.IN_FLIGHT,
                    created_at=now,
                )
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(customer=customer, key=key).first()
        if record is None:  # released between our insert and this read
            continue
        if record.created_at <= now - KEY_TTL:
            IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
            continue
        if record.request_hash != fingerprint:
            raise IdempotencyKeyReused()
        if record.status == IdempotencyStatus.COMPLETED:
            return StoredResponse(
                record.response_status, record.response_body, record.response_headers
            )
        if record.created_at <= now - IN_FLIGHT_LEASE and _take_over(record, now):
            return record
        break
    raise Conflict(
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        headers={"Retry-After": "1"},
    )


def _take_over(record: IdempotencyRecord, now: datetime) -> bool:
    """Re-claims an abandoned in-flight record; exactly one of several contenders wins."""
    won = IdempotencyRecord.objects.filter(
        pk=record.pk, status=IdempotencyStatus.IN_FLIGHT, created_at=record.created_at
    ).update(created_at=now)
    if won:
        record.created_at = now
    return bool(won)


def _ours(record: IdempotencyRecord) -> QuerySet[IdempotencyRecord]:
    """The record as long as it is still this request's claim (not taken over or expired)."""
    return IdempotencyRecord.objects.filter(
        pk=record.pk, status=IdempotencyStatus.IN_FLIGHT, created_at=record.created_at
    )


def idempotency_complete(*, record: IdempotencyRecord, response: StoredResponse) -> None:
    """Remembers the response for replays. Call in the transaction that made the change, so
    the change and its record commit together; if the claim was lost meanwhile (taken over
    after the lease), 409 and the change rolls back."""
    stored = _ours(record).update(
        status=IdempotencyStatus.COMPLETED,
        response_status=response.status,
        response_body=response.body,
        response_headers=response.headers,
    )
    if not stored:
        raise Conflict("This request's Idempotency-Key claim expired while it ran; retry.")


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Frees the key of a request that failed, so a corrected retry may use it."""
    _ours(record).delete()


def idempotency_purge_expired(*, now: datetime | None = None) -> int:
    """Deletes records past their 24 hours; returns how many."""
    cutoff = (now or timezone.now()) - KEY_TTL
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lte=cutoff).delete()
    return deleted
