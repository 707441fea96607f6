"""Insight texts follow the customer's language: when a customer's ``locale`` moves to another
language (the CIS import, the admin), their insights are regenerated in it once the change is
committed, rather than at the next nightly run."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_init, post_save
from django.dispatch import receiver

from customers.models import Customer
from insights.tasks import insights_generate_for_customer
from insights.text import language_of


@receiver(post_init, sender=Customer)
def _remember_language(sender, instance: Customer, **kwargs) -> None:
    # A deferred locale stays unknown: reading it here would cost a query per instance.
    locale = instance.__dict__.get("locale")
    instance._insights_language = None if locale is None else language_of(locale)


@receiver(post_save, sender=Customer)
def _regenerate_in_new_language(sender, instance: Customer, created: bool, **kwargs) -> None:
    previous = instance._insights_language
    language = language_of(instance.locale)
    if created or previous is None or language == previous:
        return
    instance._insights_language = language
    if instance.active and instance.insights.exists():
        customer_id = str(instance.pk)
        transaction.on_commit(lambda: insights_generate_for_customer.delay(customer_id))
