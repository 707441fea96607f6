from __future__ import annotations

from django.apps import AppConfig


class CustomersConfig(AppConfig):
    """Utilities (tenants), their customers, accounts, premises, meters and tariffs; login."""

    name = "customers"
    default_auto_field = "django.db.models.BigAutoField"
