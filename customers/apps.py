from __future__ import annotations

from django.apps import AppConfig


class CustomersConfig(AppConfig):
    """Utilities (tenants), their customers, accounts, premises, meters and tariffs; login."""

    name = "customers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from customers.models import Customer
        from customers.selectors import customer_principal_forget

        def forget(sender, instance: Customer, **kwargs) -> None:
            customer_principal_forget(customer_id=instance.pk)

        post_save.connect(
            forget, sender=Customer, weak=False, dispatch_uid="customer-principal-forget"
        )
