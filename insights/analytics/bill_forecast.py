"""BILL_FORECAST: usage and cost so far this billing period and a forecast to its end, with an
80 % range (the model: :mod:`insights.analytics.bill`)."""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext as _

from insights.analytics.context import MeterContext, decimal, quantity
from insights.drafts import InsightDraft
from metadata.catalog import InsightType

TYPE = InsightType.BILL_FORECAST.name
VERSION = "bill-forecast/2.0"


def drafts(ctx: MeterContext) -> list[InsightDraft]:
    forecast, costing = ctx.period_forecast, ctx.costing
    if forecast is None:
        return []
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
    span = {"first": words.day(forecast.first), "last": words.day(forecast.end - timedelta(days=1))}
    if costing is None:
        title = _("You are on track to use %(quantity)s this period") % {
            "quantity": words.energy(forecast.quantity)
        }
        summary = _(
            "For %(first)s to %(last)s you are on track to use %(quantity)s (between %(low)s "
            "and %(high)s); %(used)s so far."
        ) % {
            **span,
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
            **span,
            "amount": words.money(decimal(total)),
            "low": words.money(decimal(low)),
            "high": words.money(decimal(high)),
        }
        if forecast.elapsed_days:
            summary += " " + _("So far you have used %(used)s, costing %(cost)s.") % {
                "used": words.energy(forecast.used_to_date),
                "cost": words.money(decimal(costing.to_date)),
            }
    return [
        ctx.draft(
            TYPE,
            VERSION,
            forecast.first,
            forecast.end,
            title=title,
            summary=summary,
            data=data,
        )
    ]
