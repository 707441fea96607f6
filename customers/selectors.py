"""Reads for the customers domain, always scoped to the customer asking."""

from __future__ import annotations

import threading
import time
import uuid
from functools import cache

from cachetools import TTLCache
from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet

from customers.models import Account, Customer, Meter, TariffPeriod, TariffRate

#: What a request's principal carries without another query; other fields load on access.
PRINCIPAL_FIELDS = ("id", "utility_id", "subject", "billing_currency", "timezone")
_PRINCIPALS_MAX = 10_000
_principals_lock = threading.Lock()


def _clock() -> float:
    return time.monotonic()


@cache
def _principals(ttl: int) -> TTLCache:
    """Active customers' principal fields by id, per process, each kept ``ttl`` seconds."""
    return TTLCache(maxsize=_PRINCIPALS_MAX, ttl=ttl, timer=lambda: _clock())


def customer_principal(*, customer_id: uuid.UUID | str) -> Customer | None:
    """The active customer an access token names, or ``None``.

    Looked up once per ``AUTH_CUSTOMER_CACHE_SECONDS`` per process, not once per request: a
    customer deactivated elsewhere loses access within that bound (at once in the process that
    saved the change, see :func:`customer_principal_forget`). Fields beyond
    ``PRINCIPAL_FIELDS`` are deferred and load when first read.
    """
    principals = _principals(settings.AUTH_CUSTOMER_CACHE_SECONDS)
    key = str(customer_id)
    with _principals_lock:
        values = principals.get(key)
    if values is None:
        values = (
            Customer.objects.filter(pk=customer_id, active=True)
            .values_list(*PRINCIPAL_FIELDS)
            .first()
        )
        if values is None:
            return None
        with _principals_lock:
            principals[key] = values
    return Customer.from_db("default", PRINCIPAL_FIELDS, values)


def customer_principal_forget(*, customer_id: uuid.UUID | str) -> None:
    """Drops this process's cached principal (on save: deactivation applies here at once)."""
    with _principals_lock:
        _principals(settings.AUTH_CUSTOMER_CACHE_SECONDS).pop(str(customer_id), None)


def customer_profile(*, customer: Customer) -> Customer:
    """The whole customer row (the principal carries only a few fields), with its utility."""
    return Customer.objects.select_related("utility").get(pk=customer.pk)


def account_scope(customer: Customer | None, account: str = "account") -> Q:
    """Limits rows to the accounts this request may see (``account``: the rows' account
    field): those a partner token's grant covers. Empty for the customer's own token, so
    their queries are unchanged."""
    granted = getattr(customer, "granted_account_ids", None)
    return Q() if granted is None else Q(**{f"{account}__in": granted})


def account_visible(customer: Customer, account_id: uuid.UUID) -> bool:
    """Whether :func:`account_scope` lets ``customer`` see the account ``account_id``."""
    granted = getattr(customer, "granted_account_ids", None)
    return granted is None or account_id in granted


def account_list(*, customer: Customer) -> QuerySet[Account]:
    return (
        Account.objects.filter(account_scope(customer, "pk"), customer=customer)
        .select_related("premise")
        .prefetch_related(Prefetch("meters", queryset=Meter.objects.only("id", "account_id")))
    )


def _prices(lookup: str) -> Prefetch:
    """Just the prices of the tariffs at ``lookup`` (what ``Tariff.time_of_use`` reads)."""
    return Prefetch(lookup, queryset=TariffRate.objects.only("tariff_id", "price"))


def meter_list(*, customer: Customer) -> QuerySet[Meter]:
    """The customer's meters with their tariffs and tariff histories: a constant number of
    queries however many meters a page holds."""
    return (
        Meter.objects.filter(account_scope(customer), account__customer=customer)
        .select_related("tariff", "export_tariff")
        .prefetch_related(
            _prices("tariff__rates"),
            _prices("export_tariff__rates"),
            Prefetch(
                "tariff_periods",
                queryset=TariffPeriod.objects.select_related("tariff").prefetch_related(
                    _prices("tariff__rates")
                ),
            ),
        )
    )
