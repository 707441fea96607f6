"""Reads for partner access: a customer's consents, and what a partner token may do."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from oauth2_provider.models import AccessToken

from customers.models import Account, Customer
from partners.models import Authorization


@dataclass(frozen=True)
class PartnerAccess:
    """What one partner token may do: the consent it acts under, its scopes and accounts.

    DRF's ``request.auth`` for a partner token; ``request.user`` is the customer.
    """

    authorization: Authorization
    scopes: frozenset[str]
    account_ids: frozenset


def authorization_list(*, customer: Customer) -> QuerySet[Authorization]:
    """The customer's live consents with their partner and accounts."""
    return (
        Authorization.objects.filter(customer=customer, revoked_at=None)
        .select_related("partner")
        .prefetch_related(Prefetch("accounts", queryset=Account.objects.only("id")))
    )


@transaction.atomic  # read on the primary: a revocation applies at once, never after a lag
def partner_access(*, token: str) -> PartnerAccess | None:
    """The access a partner's bearer token gives, or None when it gives none: unknown,
    expired, its consent revoked, or its customer deactivated (2 queries)."""
    checksum = hashlib.sha256(token.encode()).hexdigest()
    access_token = (
        AccessToken.objects.select_related(
            "partner_link__authorization__customer__utility",
            "partner_link__authorization__partner",
        )
        .filter(token_checksum=checksum, expires__gt=timezone.now())
        .first()
    )
    link = getattr(access_token, "partner_link", None) if access_token else None
    if link is None:
        return None
    authorization = link.authorization
    if authorization.revoked_at is not None or not authorization.customer.active:
        return None
    account_ids = frozenset(authorization.accounts.values_list("id", flat=True))
    return PartnerAccess(
        authorization=authorization,
        scopes=frozenset(access_token.scope.split()),
        account_ids=account_ids,
    )
