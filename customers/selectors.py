"""Reads for the customers domain, always scoped to the customer asking."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from customers.models import Account, Customer, Meter, TariffRate


def account_list(*, customer: Customer) -> QuerySet[Account]:
    return (
        Account.objects.filter(customer=customer)
        .select_related("premise")
        .prefetch_related(Prefetch("meters", queryset=Meter.objects.only("id", "account_id")))
    )


def meter_list(*, customer: Customer) -> QuerySet[Meter]:
    return (
        Meter.objects.filter(account__customer=customer)
        .select_related("tariff")
        .prefetch_related(
            Prefetch("tariff__rates", queryset=TariffRate.objects.only("tariff_id", "price"))
        )
    )
