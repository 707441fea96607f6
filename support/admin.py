"""The customer-service admin: a page per customer and actions that queue work for workers.

The customer and meter admins of ``customers`` are extended here (not there), since what they
show and queue comes from the apps above ``customers`` (the meter's, from ``usage``'s, which adds
its pages of readings and rollups).
"""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from budgets.models import BudgetKind
from customers.admin import CustomerAdmin
from customers.models import Customer, Meter
from energygrid import display
from insights.models import Insight
from insights.tasks import insights_generate_for_customer
from support.charts import chart_points, usage_chart_svg
from support.selectors import (
    CHART_DAYS,
    CHART_MONTHS,
    AccountOverview,
    BudgetOverview,
    MeterOverview,
    customer_overview,
)
from usage.admin import MeterUsageAdmin
from usage.tasks import rollups_rebuild_for_meter


def _report(
    model_admin: admin.ModelAdmin, request: HttpRequest, logged: dict[Any, str], summary: str
) -> None:
    """Records what was queued for each object in the admin log (its history) and tells the
    user it is queued, not done."""
    for obj, message in logged.items():
        model_admin.log_change(request, obj, message)
    model_admin.message_user(
        request,
        f"{summary} Workers will do it shortly (see each record's history).",
        messages.SUCCESS,
    )


def _rebuild_rollups(meter_id: Any) -> None:
    rollups_rebuild_for_meter.delay_on_commit(str(meter_id))


def _regenerate_insights(customer_id: Any) -> None:
    insights_generate_for_customer.delay_on_commit(str(customer_id))


admin.site.unregister(Customer)
admin.site.unregister(Meter)


@admin.register(Customer)
class CustomerServiceAdmin(CustomerAdmin):
    list_display = ["subject", "display_name", "email", "utility", "active", "overview_link"]
    actions = ["rebuild_rollups", "regenerate_insights"]

    def get_urls(self):
        return [
            path(
                "<path:object_id>/overview/",
                self.admin_site.admin_view(self.overview_view),
                name="customers_customer_overview",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="overview")
    def overview_link(self, customer: Customer) -> str:
        url = reverse("admin:customers_customer_overview", args=[customer.pk])
        return format_html('<a href="{}">Usage, budgets, insights</a>', url)

    def overview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """One customer as staff need to see them: another utility's customer is a 404."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        customer = self.get_object(request, object_id)
        if customer is None:
            raise Http404("No such customer.")
        overview = customer_overview(customer=customer, now=timezone.now())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{customer.display_name} ({customer.subject})",
            "customer": customer,
            "accounts": [_account_rows(account) for account in overview.accounts],
            "budgets": [_budget_row(item, customer) for item in overview.budgets],
            "insights": [_insight_row(insight, customer) for insight in overview.insights],
            "logins": [
                {
                    "issued_at": display.local_time(login.issued_at, customer.timezone),
                    "revoked_at": display.local_time(login.revoked_at, customer.timezone)
                    if login.revoked_at
                    else "",
                }
                for login in overview.logins
            ],
            "chart_days": CHART_DAYS,
            "chart_months": CHART_MONTHS,
        }
        return render(request, "admin/support/customer_overview.html", context)

    @admin.action(
        permissions=["view"], description="Rebuild rollups of the selected customers' meters"
    )
    def rebuild_rollups(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        logged = {}
        for customer in queryset:
            meter_ids = list(
                Meter.objects.filter(account__customer=customer).values_list("pk", flat=True)
            )
            for meter_id in meter_ids:
                _rebuild_rollups(meter_id)
            logged[customer] = f"Queued a rollup rebuild of {len(meter_ids)} meter(s)."
        _report(self, request, logged, f"Queued rollup rebuilds for {len(logged)} customer(s).")

    @admin.action(permissions=["view"], description="Regenerate insights of the selected customers")
    def regenerate_insights(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        logged = {}
        for customer in queryset:
            _regenerate_insights(customer.pk)
            logged[customer] = "Queued insight regeneration."
        _report(
            self, request, logged, f"Queued insight regeneration for {len(logged)} customer(s)."
        )


@admin.register(Meter)
class MeterServiceAdmin(MeterUsageAdmin):
    actions = ["rebuild_rollups", "regenerate_insights"]

    @admin.action(permissions=["view"], description="Rebuild rollups of the selected meters")
    def rebuild_rollups(self, request: HttpRequest, queryset: QuerySet[Meter]) -> None:
        logged = {}
        for meter in queryset:
            _rebuild_rollups(meter.pk)
            logged[meter] = "Queued a rollup rebuild."
        _report(self, request, logged, f"Queued rollup rebuilds for {len(logged)} meter(s).")

    @admin.action(
        permissions=["view"], description="Regenerate insights of the selected meters' customers"
    )
    def regenerate_insights(self, request: HttpRequest, queryset: QuerySet[Meter]) -> None:
        logged = {}
        customers = set()
        for meter in queryset.select_related("account"):
            customers.add(meter.account.customer_id)
            logged[meter] = "Queued insight regeneration of its customer."
        for customer_id in customers:
            _regenerate_insights(customer_id)
        _report(
            self, request, logged, f"Queued insight regeneration for {len(customers)} customer(s)."
        )


def _account_rows(overview: AccountOverview) -> dict[str, Any]:
    account = overview.account
    currency = account.customer.billing_currency
    return {
        "account": account,
        "premise": getattr(account, "premise", None),
        "meters": [_meter_rows(item, currency) for item in overview.meters],
    }


def _meter_rows(overview: MeterOverview, currency: str) -> dict[str, Any]:
    meter = overview.meter
    tz, unit = meter.timezone, meter.unit_of_measure
    today = overview.today
    billing_read = meter.billing_read
    months = (
        f"read periods, last {CHART_MONTHS} months"
        if billing_read
        else f"last {CHART_MONTHS} months"
    )
    daily = chart_points(
        overview.daily,
        slot_of=lambda day: CHART_DAYS - 1 - (today - day).days,
        date_format="%a %d %b %Y",
        timezone_name=tz,
        unit=unit,
        currency=currency,
        bidirectional=meter.bidirectional,
    )
    monthly = chart_points(
        overview.monthly,
        slot_of=lambda day: CHART_MONTHS - 1 - _months_between(day, today),
        date_format="%d %b %Y" if billing_read else "%b %Y",
        timezone_name=tz,
        unit=unit,
        currency=currency,
        bidirectional=meter.bidirectional,
    )
    lag = overview.rollup_lag
    return {
        "meter": meter,
        "resolution": _resolution(meter),
        "first_reading": display.local_time(meter.first_reading_at, tz),
        "last_reading": display.local_time(meter.last_reading_at, tz),
        "rollup_lag": (
            "up to date"
            if lag.oldest_change is None
            else f"{lag.pending_ranges} changed range(s) waiting since "
            f"{display.local_time(lag.oldest_change, tz)}"
        ),
        "daily_svg": None
        if billing_read
        else usage_chart_svg(
            daily,
            slots=CHART_DAYS,
            unit=unit,
            caption=f"{meter.meter_number}: last {CHART_DAYS} days",
        ),
        "monthly_svg": usage_chart_svg(
            monthly, slots=CHART_MONTHS, unit=unit, caption=f"{meter.meter_number}: {months}"
        ),
        "monthly_title": months,
        "daily": daily,
        "monthly": monthly,
    }


def _months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def _resolution(meter: Meter) -> str:
    """How often the meter is read, and whether it records both directions."""
    seconds = meter.interval_seconds
    if meter.billing_read:
        every = "billing reads (one per read period)"
    elif seconds % 3600 == 0:
        every = f"{seconds // 3600} h"
    else:
        every = f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"
    return f"{every}, delivered and received" if meter.bidirectional else every


def _budget_row(item: BudgetOverview, customer: Customer) -> dict[str, Any]:
    budget, status = item.budget, item.status
    if budget.kind == BudgetKind.COST:
        amount = partial(display.money, currency=customer.billing_currency)
    else:
        amount = partial(display.quantity, unit=budget.meter.unit_of_measure)
    return {
        "budget": budget,
        "limit": amount(budget.limit),
        "used": amount(status.used),
        "projected": amount(status.projected),
        "percent_used": f"{status.percent_used}%",
        "state": status.state,
        "period": display.local_span(status.period.start, status.period.end, customer.timezone),
    }


def _insight_row(insight: Insight, customer: Customer) -> dict[str, Any]:
    tz = insight.meter.timezone if insight.meter else customer.timezone
    return {
        "insight": insight,
        "period": display.local_span(insight.period_start, insight.period_end, tz),
        "generated_at": display.local_time(insight.generated_at, tz),
    }
