"""BILL_FORECAST: usage and cost so far this billing period and a forecast to its end, with an
80 % range (the model: :mod:`insights.analytics.bill`)."""

from __future__ import annotations

from datetime import timedelta

from insights.analytics.context import MeterContext, decimal, quantity
from insights.drafts import InsightDraft
from metadata.catalog import InsightType

TYPE = InsightType.BILL_FORECAST.name
VERSION = "bill-forecast/1.1"


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
    span = words.span(forecast.first, forecast.end - timedelta(days=1))
    if costing is None:
        title = f"You are on track to use {words.energy(forecast.quantity)} this period"
        summary = (
            f"For {span} you are on track to use {words.energy(forecast.quantity)} "
            f"(between {words.energy(forecast.low)} and {words.energy(forecast.high)}); "
            f"{words.energy(forecast.used_to_date)} so far."
        )
    else:
        total, low, high = (cost(q) for q in (forecast.quantity, forecast.low, forecast.high))
        title = f"Your bill is on track for {words.money(decimal(total))}"
        summary = (
            f"Your bill for {span} is on track for {words.money(decimal(total))} (between "
            f"{words.money(decimal(low))} and {words.money(decimal(high))})."
        )
        if forecast.elapsed_days:
            summary += (
                f" So far you have used {words.energy(forecast.used_to_date)}, costing "
                f"{words.money(decimal(costing.to_date))}."
            )
    return [
        ctx.draft(
            TYPE,
            VERSION,
            ctx.instant(forecast.first),
            ctx.instant(forecast.end),
            title=title,
            summary=summary,
            data=data,
        )
    ]
