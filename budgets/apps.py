from __future__ import annotations

from django.apps import AppConfig


class BudgetsConfig(AppConfig):
    """Customer-managed cost and energy budgets: status from rollups, threshold alerts."""

    name = "budgets"
