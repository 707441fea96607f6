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
from energygrid import display
from usage.models import Reading, Rollup

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows (``SELECT count(*) FROM (... LIMIT n)``); the changelist
    then says "more than 10,000" (``admin/usage/search_form.html``, ``pagination.html``)."""

    cap_display = display.count(COUNT_CAP)

    @cached_property
    def count(self) -> int:
        return self.object_list[: COUNT_CAP + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP


register_utility_path(Reading, "meter__utility")
register_utility_path(Rollup, "meter__utility")


class MeterDataAdmin(NoAddOrChangeMixin, UtilityScopedMixin, admin.ModelAdmin):
    """Times on the meter's wall clock, money rounded in the customer's billing currency,
    quantities with the meter's unit."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    list_select_related = ["meter__account__customer"]
    search_fields = ["=meter__meter_number"]
    search_help_text = "Exact meter number."

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="start (meter's time)", ordering="start")
    def local_start(self, row: Reading | Rollup) -> str:
        return display.local_time(row.start, row.meter.timezone)

    @admin.display(description="quantity")
    def quantity_with_unit(self, row: Reading | Rollup) -> str:
        return display.quantity(row.quantity, row.meter.unit_of_measure)

    @admin.display(description="cost")
    def rounded_cost(self, row: Reading | Rollup) -> str:
        return display.money(row.cost, row.meter.account.customer.billing_currency)


@admin.register(Reading)
class ReadingAdmin(MeterDataAdmin):
    list_display = ["meter", "local_start", "quantity_with_unit", "rounded_cost", "quality"]
    list_filter = ["quality"]
    ordering = ["-id"]  # an index walk; "-start" would sort the whole table


@admin.register(Rollup)
class RollupAdmin(MeterDataAdmin):
    list_display = [
        "meter",
        "granularity",
        "local_start",
        "local_end",
        "quantity_with_unit",
        "rounded_cost",
        "readings",
    ]
    list_filter = ["granularity"]
    ordering = ["-id"]  # an index walk; "-start" would sort the whole table

    @admin.display(description="end (meter's time)")
    def local_end(self, rollup: Rollup) -> str:
        return display.local_time(rollup.end, rollup.meter.timezone)

    @admin.display(description="readings (of expected)")
    def readings(self, rollup: Rollup) -> str:
        present = rollup.actual_count + rollup.estimated_count
        estimated = f", {rollup.estimated_count} estimated" if rollup.estimated_count else ""
        return f"{display.count(present)} of {display.count(rollup.expected_count)}{estimated}"
