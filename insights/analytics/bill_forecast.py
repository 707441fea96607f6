"""BILL_FORECAST: usage and cost so far this billing period and a forecast to its end, with an
80 % range (the model: :mod:`insights.analytics.bill`). For a billing-read meter, of the read
period in progress (the read-period model: :mod:`insights.analytics.read_period_model`)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from insights.analytics.bill import PeriodForecast
from insights.analytics.context import (
    BaseContext,
    Costing,
    MeterContext,
    ReadPeriodContext,
    ReadPeriodForecast,
    Span,
    decimal,
    quantity,
)
from insights.drafts import InsightDraft
from metadata.catalog import InsightType

TYPE = InsightType.BILL_FORECAST.name
VERSION = "bill-forecast/2.4"


def drafts(ctx: MeterContext) -> list[InsightDraft]:
    forecast = ctx.period_forecast
    if forecast is None:
        return []
    return [_draft(ctx, forecast, ctx.costing, ctx.dates_span(forecast.first, forecast.end))]


def read_period_drafts(ctx: ReadPeriodContext) -> list[InsightDraft]:
    forecast = ctx.period_forecast
    return [] if forecast is None else [_draft(ctx, forecast, ctx.costing, forecast.span)]


def _draft(
    ctx: BaseContext,
    forecast: PeriodForecast | ReadPeriodForecast,
    costing: Costing | None,
    span: Span,
) -> InsightDraft:
    words = ctx.wording

    def cost(used: float) -> float | None:
        return None if costing is None else costing.of(used)

    data = {
        "usedToDate": quantity(forecast.used_to_date),
        "costToDate": ctx.money(None if costing is None else costing.to_date),
        "forecastQuantity": quantity(forecast.quantity),
        "forecastCost": ctx.money(cost(forecast.quantity)),
        "forecastCostLow": ctx.money(cost(forecast.low)),
        "forecastCostHigh": ctx.money(cost(forecast.high)),
        "forecastQuantityLow": quantity(forecast.low),
        "forecastQuantityHigh": quantity(forecast.high),
        "daysElapsed": forecast.elapsed_days,
        "daysInPeriod": forecast.days,
        "unitOfMeasure": ctx.meter.unit_of_measure,
        "modelKind": forecast.model.kind,
    }
    dates = {"first": words.day(span.first), "last": words.day(span.last)}
    if costing is None:
        title = _("You are on track to use %(quantity)s this period") % {
            "quantity": words.energy(forecast.quantity)
        }
        summary = _(
            "For %(first)s to %(last)s you are on track to use %(quantity)s (between %(low)s "
            "and %(high)s); %(used)s so far."
        ) % {
            **dates,
            "quantity": words.energy(forecast.quantity),
            "low": words.energy(forecast.low),
            "high": words.energy(forecast.high),
            "used": words.energy(forecast.used_to_date),
        }
    else:
        total, low, high = (cost(q) for q in (forecast.quantity, forecast.low, forecast.high))
        title = _("Your bill is on track for %(amount)s") % {"amount": words.money(decimal(total))}
        summary = _(
            "Your bill for %(first)s to %(last)s is on track for %(amount)s (between %(low)s "
            "and %(high)s)."
        ) % {
            **dates,
            "amount": words.money(decimal(total)),
            "low": words.money(decimal(low)),
            "high": words.money(decimal(high)),
        }
        # A read period is not known until it is read: nothing "so far" to tell.
        if isinstance(forecast, PeriodForecast) and forecast.elapsed_days:
            summary += " " + _("So far you have used %(used)s, costing %(cost)s.") % {
                "used": words.energy(forecast.used_to_date),
                "cost": words.money(decimal(costing.to_date)),
            }
    return ctx.draft_span(TYPE, VERSION, span, title=title, summary=summary, data=data)
