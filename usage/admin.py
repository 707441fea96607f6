"""Read-only admin for readings and rollups, scoped to the staff user's utility.

These tables hold billions of rows: no page ever counts them in full (the paginator counts at
most ``COUNT_CAP`` rows, a bounded query), and nothing is editable here, since a change that
bypassed the import would leave rollups behind the readings.
"""

from __future__ import annotations

from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest

from customers.admin import NoAddOrChangeMixin, UtilityScopedMixin, register_utility_path
from usage.models import Reading, Rollup

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows (``SELECT count(*) FROM (... LIMIT n)``)."""

    @cached_property
    def count(self) -> int:
        return self.object_list[: COUNT_CAP + 1].count()


register_utility_path(Reading, "meter__utility")
register_utility_path(Rollup, "meter__utility")


class MeterDataAdmin(NoAddOrChangeMixin, UtilityScopedMixin, admin.ModelAdmin):
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_select_related = ["meter"]
    search_fields = ["=meter__meter_number"]
    search_help_text = "Exact meter number."

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Reading)
class ReadingAdmin(MeterDataAdmin):
    list_display = ["meter", "start", "quantity", "cost", "quality"]
    list_filter = ["quality"]
    ordering = ["-id"]  # an index walk; "-start" would sort the whole table


@admin.register(Rollup)
class RollupAdmin(MeterDataAdmin):
    list_display = [
        "meter",
        "granularity",
        "start",
        "end",
        "quantity",
        "cost",
        "actual_count",
        "estimated_count",
        "expected_count",
    ]
    list_filter = ["granularity"]
    ordering = ["-id"]  # an index walk; "-start" would sort the whole table
