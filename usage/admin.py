"""Read-only admin for readings and rollups, scoped to the staff user's utility.

These tables hold billions of rows: no page ever counts them in full (the paginator counts at
most ``COUNT_CAP`` rows, a bounded query), and nothing is editable here, since a change that
bypassed the import would leave rollups behind the readings.

Readings are keyed (meter, direction, start) and rollups (meter, granularity, start), composite
primary keys, which Django's admin cannot register; they are listed per meter instead, on pages
of the meter's admin (``admin:customers_meter_readings``, ``admin:customers_meter_rollups``),
one direction or granularity at a time so each page is an index walk. Such a page is a
:class:`MeterRowsPage` of :class:`MeterUsageAdmin`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.views.decorators.http import require_safe

from customers.admin import MeterAdmin
from customers.models import Meter
from energygrid import display
from usage.models import Direction, Quality, Reading, Rollup
from usage.rollups import rollup_granularities

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows (``SELECT count(*) FROM (... LIMIT n)``); the page then
    says "more than 10,000" (``admin/usage/meter_rows.html``)."""

    cap_display = display.count(COUNT_CAP)

    @cached_property
    def count(self) -> int:
        return self.object_list[: COUNT_CAP + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP


ROWS_PER_PAGE = 100


@dataclass(frozen=True)
class MeterRowsPage:
    """A read-only list of one meter's rows of a model the admin cannot register, newest
    first, on the meter's admin at ``<meter>/<name>/`` (URL name ``customers_meter_<name>``)."""

    name: str
    #: The model permission that lets a staff user see the page.
    permission: str
    #: The meter's rows (a queryset) for the filters the request chose, and the filters as
    #: links (``_links``) by name.
    rows: Callable[[Meter, HttpRequest], tuple[QuerySet, dict[str, list[dict]]]]
    #: Column headings, and one row's cells (text) given the meter and the row.
    headers: tuple[str, ...]
    cells: Callable[[Meter, Any], tuple[str, ...]]
    noun: tuple[str, str]  # singular, plural

    def view(
        self, model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str
    ) -> HttpResponse:
        """Another utility's meter is a 404, as on the meter's own page."""
        if not request.user.has_perm(self.permission):
            raise PermissionDenied
        meter = model_admin.get_object(request, object_id)
        if meter is None:
            raise Http404("No such meter.")
        rows, filters = self.rows(meter, request)
        paginator = CappedCountPaginator(rows, ROWS_PER_PAGE)
        page = paginator.get_page(request.GET.get("p"))
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": f"{self.noun[1].capitalize()} of meter {meter.meter_number}",
            "meter": meter,
            "page": page,
            "page_range": paginator.get_elided_page_range(page.number),
            "paginator": paginator,
            "filters": filters,
            "headers": self.headers,
            "rows": [self.cells(meter, row) for row in page],
            "noun": self.noun[0] if paginator.count == 1 else self.noun[1],
        }
        return render(request, "admin/usage/meter_rows.html", context)


def _links(request: HttpRequest, name: str, current: Any, choices: list[tuple]) -> list[dict]:
    """A filter's choices as links: the other filters kept, back to the first page."""

    def query(value: Any) -> str:
        params = request.GET.copy()
        params.pop("p", None)
        params.pop(name, None)
        if value is not None:
            params[name] = str(value)
        return "?" + params.urlencode()

    return [
        {"label": label, "query": query(value), "selected": value == current}
        for value, label in choices
    ]


def _readings(meter: Meter, request: HttpRequest) -> tuple[QuerySet, dict[str, list[dict]]]:
    """One direction at a time (DELIVERED by default), of one quality or all, newest first:
    under the primary key (meter, direction, start) that is an index walk."""
    directions = Direction.choices if meter.bidirectional else []
    asked = request.GET.get("direction")
    valid = {str(value) for value, _ in directions}
    direction = int(asked) if asked in valid else Direction.DELIVERED
    quality = request.GET.get("quality")
    quality = quality if quality in Quality.values else None
    rows = Reading.objects.filter(meter=meter, direction=direction)
    if quality:
        rows = rows.filter(quality=quality)
    filters = {"quality": _links(request, "quality", quality, [(None, "All"), *Quality.choices])}
    if directions:
        filters["direction"] = _links(request, "direction", direction, directions)
    return rows.order_by("-start"), filters


def _reading_cells(meter: Meter, reading: Reading) -> tuple[str, ...]:
    return (
        display.local_time(reading.start, meter.timezone),
        display.local_time(reading.end, meter.timezone),  # a read period's; "—" for intervals
        display.quantity(reading.quantity, meter.unit_of_measure),
        display.money(reading.cost, meter.account.customer.billing_currency),
        reading.get_quality_display(),
    )


READINGS_PAGE = MeterRowsPage(
    name="readings",
    permission="usage.view_reading",
    rows=_readings,
    headers=("start (meter's time)", "end (meter's time)", "quantity", "cost", "quality"),
    cells=_reading_cells,
    noun=("reading", "readings"),
)


def _rollups(meter: Meter, request: HttpRequest) -> tuple[QuerySet, dict[str, list[dict]]]:
    """One granularity at a time (the finest kept by default), newest first: under the primary
    key (meter, granularity, start) that is an index walk."""
    choices = [(g.name, g.value.name) for g in rollup_granularities(meter)]
    asked = request.GET.get("granularity")
    granularity = asked if asked in dict(choices) else choices[0][0]
    rows = Rollup.objects.filter(meter=meter, granularity=granularity).order_by("-start")
    return rows, {"granularity": _links(request, "granularity", granularity, choices)}


def _rollup_cells(meter: Meter, rollup: Rollup) -> tuple[str, ...]:
    present = rollup.actual_count + rollup.estimated_count
    estimated = f", {rollup.estimated_count} estimated" if rollup.estimated_count else ""
    return (
        display.local_time(rollup.start, meter.timezone),
        display.local_time(rollup.end, meter.timezone),
        display.quantity(rollup.quantity, meter.unit_of_measure),
        display.money(rollup.cost, meter.account.customer.billing_currency),
        f"{display.count(present)} of {display.count(rollup.expected_count)}{estimated}",
    )


ROLLUPS_PAGE = MeterRowsPage(
    name="rollups",
    permission="usage.view_rollup",
    rows=_rollups,
    headers=(
        "start (meter's time)",
        "end (meter's time)",
        "quantity",
        "cost",
        "readings (of expected)",
    ),
    cells=_rollup_cells,
    noun=("rollup", "rollups"),
)


admin.site.unregister(Meter)


@admin.register(Meter)
class MeterUsageAdmin(MeterAdmin):
    """The meter admin with pages of the meter's usage rows (``pages``), linked from the
    meter list."""

    pages: tuple[MeterRowsPage, ...] = (READINGS_PAGE, ROLLUPS_PAGE)
    list_display = [*MeterAdmin.list_display, "usage_links"]

    def get_urls(self):
        return [
            *(
                path(
                    f"<path:object_id>/{page.name}/",
                    self.admin_site.admin_view(require_safe(partial(page.view, self))),
                    name=f"customers_meter_{page.name}",
                )
                for page in self.pages
            ),
            *super().get_urls(),
        ]

    @admin.display(description="usage")
    def usage_links(self, meter: Meter) -> str:
        return format_html_join(
            " | ",
            '<a href="{}">{}</a>',
            (
                (reverse(f"admin:customers_meter_{page.name}", args=[meter.pk]), page.noun[1])
                for page in self.pages
            ),
        )
