"""Which customers a command works on: ``--customer SUBJECT`` and ``--utility SLUG``."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db.models import QuerySet

from customers.models import Customer, Utility


def customers_selected(*, subject: str | None, utility: str | None) -> QuerySet[Customer]:
    """Active customers, narrowed to a utility and/or a subject; a one-line CommandError when
    the utility or the subject is unknown, or the subject is ambiguous across utilities."""
    customers = Customer.objects.filter(active=True).select_related("utility")
    if utility is not None:
        if not Utility.objects.filter(slug=utility).exists():
            raise CommandError(f"unknown utility {utility!r}")
        customers = customers.filter(utility__slug=utility)
    if subject is not None:
        customers = customers.filter(subject=subject)
        found = customers.count()
        if found == 0:
            raise CommandError(f"unknown customer {subject!r}")
        if found > 1:
            raise CommandError(f"customer {subject!r} exists at several utilities: pass --utility")
    return customers.order_by("utility__slug", "subject")
