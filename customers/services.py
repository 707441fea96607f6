"""Writes for the customers domain: sessions (our access/refresh tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from customers.identity import verify_identity_token
from customers.models import Customer, IssuedRefreshToken


class SessionInvalid(Exception):
    """A refresh token was refused (unknown, expired, revoked or of an inactive customer)."""


@dataclass(frozen=True)
class Session:
    customer: Customer
    access_token: str
    refresh_token: str
    expires_in: int


def session_issue(*, customer: Customer) -> Session:
    """A new access/refresh pair for ``customer``; the refresh token is recorded for rotation."""
    refresh = RefreshToken.for_user(customer)
    IssuedRefreshToken.objects.create(
        jti=refresh["jti"],
        customer=customer,
        expires_at=datetime.fromtimestamp(refresh["exp"], tz=UTC),
    )
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    return Session(
        customer=customer,
        access_token=str(refresh.access_token),
        refresh_token=str(refresh),
        expires_in=int(lifetime.total_seconds()),
    )


@transaction.atomic
def session_login(*, identity_token: str) -> Session:
    """Exchanges a utility's ID token (verified and consumed) for our session tokens."""
    return session_issue(customer=verify_identity_token(identity_token))


def _refresh_claims(raw: str) -> tuple[str, str]:
    try:
        token = RefreshToken(raw)
    except TokenError as exc:
        raise SessionInvalid from exc
    return str(token["jti"]), str(token[settings.SIMPLE_JWT["USER_ID_CLAIM"]])


def session_refresh(*, refresh_token: str) -> Session:
    """Rotates: the presented refresh token dies and a new pair is issued.

    Presenting an already-revoked token means it leaked (or a client misbehaves): every
    refresh token of that customer is revoked, so the thief's copy dies too. That revocation
    is committed even though the request fails.
    """
    jti, customer_id = _refresh_claims(refresh_token)
    now = timezone.now()
    with transaction.atomic():
        revoked = IssuedRefreshToken.objects.filter(
            jti=jti, customer_id=customer_id, revoked_at=None, expires_at__gt=now
        ).update(revoked_at=now)
        if revoked == 1:
            customer = Customer.objects.select_related("utility").filter(pk=customer_id).first()
            if customer is None or not customer.active:
                raise SessionInvalid
            return session_issue(customer=customer)
    IssuedRefreshToken.objects.filter(customer_id=customer_id, revoked_at=None).update(
        revoked_at=now
    )
    raise SessionInvalid


def session_logout(*, customer: Customer, refresh_token: str) -> None:
    """Revokes one of ``customer``'s refresh tokens; revoking it twice is harmless."""
    jti, customer_id = _refresh_claims(refresh_token)
    if customer_id != str(customer.pk):
        raise SessionInvalid
    IssuedRefreshToken.objects.filter(jti=jti, customer=customer, revoked_at=None).update(
        revoked_at=timezone.now()
    )


def sessions_purge_expired() -> int:
    deleted, _ = IssuedRefreshToken.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
