"""HIGH_BILL_ALERT: this period's bill is forecast well above the previous one, and why (the
forecast of :mod:`insights.analytics.bill`, the drivers of
:func:`insights.analytics.forecast.change_components`). For a billing-read meter: the read
period in progress against the last one read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from insights.analytics.bill import COMPLETE_COVERAGE, day_range, expected_daily
from insights.analytics.context import (
    BaseContext,
    MeterContext,
    ReadPeriodContext,
    Span,
    decimal,
    percent,
    quantity,
)
from insights.analytics.forecast import MORE_DAYS, USAGE, WEATHER, change_components, main_driver
from insights.drafts import InsightDraft
from insights.models import Severity
from metadata.catalog import InsightType

TYPE = InsightType.HIGH_BILL_ALERT.name
VERSION = "high-bill/1.5"

_DRIVER_WORDS = {
    WEATHER: gettext_lazy("mostly because of the weather"),
    MORE_DAYS: gettext_lazy("mostly because this period has more days"),
    USAGE: gettext_lazy("mostly because you are using more energy than the weather explains"),
}


def high_bill_margin() -> Decimal:
    """``INSIGHTS_HIGH_BILL_MARGIN``: how much above the previous bill counts as high (0.2)."""
    return settings.INSIGHTS_HIGH_BILL_MARGIN


def drafts(ctx: MeterContext) -> list[InsightDraft]:
    forecast, costing = ctx.period_forecast, ctx.costing
    if forecast is None or costing is None:
        return []
    previous_first, previous_end = ctx.billing_period(forecast.first - timedelta(days=1))
    previous_quantity, coverage = ctx.filled_total(previous_first, previous_end)
    if coverage < COMPLETE_COVERAGE:
        return []
    previous_price = ctx.realised_price(previous_first, previous_end) or costing.price
    previous_dates = day_range(previous_first, previous_end)
    return _alert(
        ctx,
        ctx.dates_span(forecast.first, forecast.end),
        forecast_cost=costing.of(forecast.quantity),
        previous_cost=previous_quantity * previous_price,
        components=lambda: change_components(
            current_quantity=forecast.quantity,
            current_days=forecast.days,
            previous_quantity=previous_quantity,
            previous_days=len(previous_dates),
            current_expected_daily=forecast.expected_daily_mean,
            previous_expected_daily=float(
                expected_daily(forecast.model, ctx.history.weather, previous_dates).mean()
            ),
        ),
    )


def read_period_drafts(ctx: ReadPeriodContext) -> list[InsightDraft]:
    forecast, costing = ctx.period_forecast, ctx.costing
    if forecast is None or costing is None:
        return []
    previous = ctx.last_complete_period()
    previous_quantity = ctx.read_quantity(previous)
    previous_cost = ctx.read_cost(previous)
    if previous_cost is None:
        return []
    return _alert(
        ctx,
        forecast.span,
        forecast_cost=costing.of(forecast.quantity),
        previous_cost=previous_cost,
        components=lambda: change_components(
            current_quantity=forecast.quantity,
            current_days=forecast.days,
            previous_quantity=previous_quantity,
            previous_days=len(ctx.dates(previous)),
            current_expected_daily=forecast.expected_daily_mean,
            previous_expected_daily=ctx.expected_per_day(previous),
        ),
    )


def _alert(
    ctx: BaseContext,
    span: Span,
    *,
    forecast_cost: float,
    previous_cost: float,
    components: Callable[[], dict[str, float]],
) -> list[InsightDraft]:
    """The alert over ``span`` when ``forecast_cost`` is above ``previous_cost`` by the margin;
    ``components`` splits the usage change by driver."""
    margin = float(high_bill_margin())
    if previous_cost <= 0 or forecast_cost <= previous_cost * (1 + margin):
        return []
    change_by_driver = components()
    driver = main_driver(change_by_driver)
    change = forecast_cost / previous_cost - 1
    words = ctx.wording
    return [
        ctx.draft_span(
            TYPE,
            VERSION,
            span,
            severity=Severity.ALERT if change >= 2 * margin else Severity.WARNING,
            title=_("Your bill may be %(change)s higher than last period")
            % {"change": words.percent(change)},
            summary=_(
                "This period's bill is forecast at %(forecast)s, against %(previous)s last "
                "period, %(driver)s."
            )
            % {
                "forecast": words.money(decimal(forecast_cost)),
                "previous": words.money(decimal(previous_cost)),
                "driver": _DRIVER_WORDS[driver],
            },
            data={
                "forecastCost": ctx.money(forecast_cost),
                "previousCost": ctx.money(previous_cost),
                "changePercent": percent(change),
                "driver": driver,
                "changeByDriver": {
                    name: quantity(value) for name, value in change_by_driver.items()
                },
                "unitOfMeasure": ctx.meter.unit_of_measure,
            },
        )
    ]
