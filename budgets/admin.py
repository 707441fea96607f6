"""Budgets in the Django admin: staff see only their utility's customers' budgets.

Read-only: a budget belongs to its customer, and the API's rules (ownership, 20 per customer,
ETags) would be bypassed by edits here. Staff may delete one, e.g. on a customer's request.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from budgets.models import Budget
from customers.admin import ScopedModelAdmin, register_utility_path

register_utility_path(Budget, "customer__utility")


@admin.register(Budget)
class BudgetAdmin(ScopedModelAdmin):
    list_display = ["name", "customer", "account", "kind", "period", "limit", "active"]
    list_select_related = ["customer", "account"]
    list_filter = ["kind", "period", "active"]
    search_fields = ["=customer__subject", "=account__account_number", "name"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
