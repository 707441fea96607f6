"""Insights in the Django admin: staff see their own utility's customers' insights, read-only
(insights are generated; only the customer sets status and feedback)."""

from __future__ import annotations

from django.contrib import admin

from customers.admin import NoAddOrChangeMixin, ScopedModelAdmin, register_utility_path
from insights.models import Insight

register_utility_path(Insight, "customer__utility")


@admin.register(Insight)
class InsightAdmin(NoAddOrChangeMixin, ScopedModelAdmin):
    list_display = [
        "type",
        "customer",
        "meter",
        "period_start",
        "period_end",
        "severity",
        "status",
        "feedback",
        "model_version",
        "generated_at",
    ]
    list_select_related = ["customer", "meter"]
    list_filter = ["type", "severity", "status", "feedback", "model_version"]
    search_fields = ["=customer__subject", "title"]
    ordering = ["-period_end", "-id"]
    readonly_fields = [
        "customer",
        "type",
        "subject_key",
        "account",
        "meter",
        "period_start",
        "period_end",
        "severity",
        "title",
        "summary",
        "data",
        "status",
        "feedback",
        "generated_at",
        "model_version",
        "updated_at",
    ]
