"""Budgets in the Django admin: staff see only their utility's customers' budgets.

Read-only: a budget belongs to its customer, and the API's rules (ownership, 20 per customer,
ETags) would be bypassed by edits here. Staff may delete one, e.g. on a customer's request.
"""

from __future__ import annotations

from django.contrib import admin

from budgets.models import Budget
from customers.admin import NoAddOrChangeMixin, ScopedModelAdmin, register_utility_path

register_utility_path(Budget, "customer__utility")


@admin.register(Budget)
class BudgetAdmin(NoAddOrChangeMixin, ScopedModelAdmin):
    list_display = ["name", "customer", "account", "kind", "period", "limit", "active"]
    list_select_related = ["customer", "account"]
    list_filter = ["kind", "period", "active"]
    search_fields = ["=customer__subject", "=account__account_number", "name"]
