"""PERIOD_COMPARISON: the last billing period against the previous one and the same period a
year before, raw and weather-adjusted through the daily model (:mod:`insights.analytics.
daily_model`)."""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext as _

from insights.analytics.bill import COMPLETE_COVERAGE, day_range, expected_daily
from insights.analytics.context import MeterContext, percent, quantity, year_earlier
from insights.drafts import InsightDraft
from metadata.catalog import InsightType

TYPE = InsightType.PERIOD_COMPARISON.name
VERSION = "period-comparison/1.1"


def drafts(ctx: MeterContext) -> list[InsightDraft]:
    if ctx.model is None:
        return []
    current_first = ctx.current_billing_period()[0]
    first, end = ctx.billing_period(current_first - timedelta(days=1))
    if first < ctx.history.first_day:
        return []
    current, coverage = ctx.filled_total(first, end)
    if coverage < COMPLETE_COVERAGE:
        return []
    comparisons = {
        "previous": ctx.billing_period(first - timedelta(days=1)),
        "yearAgo": ctx.billing_period(year_earlier(first)),
    }
    weather = ctx.history.weather
    expected_current = float(expected_daily(ctx.model, weather, day_range(first, end)).sum())
    quantities: dict[str, float | None] = {}
    changes: dict[str, float | None] = {}
    adjusted: dict[str, float | None] = {}
    for name, (other_first, other_end) in comparisons.items():
        other, other_coverage = ctx.filled_total(other_first, other_end)
        if other_first < ctx.history.first_day or other_coverage < COMPLETE_COVERAGE or other <= 0:
            quantities[name] = changes[name] = adjusted[name] = None
            continue
        expected_other = float(
            expected_daily(ctx.model, weather, day_range(other_first, other_end)).sum()
        )
        quantities[name] = other
        changes[name] = current / other - 1
        # Weather-normalised: the actual ratio over the ratio the model expects from each
        # period's weather, length and weekdays alone.
        adjusted[name] = (current / other) / (expected_current / expected_other) - 1
    words = ctx.wording
    values = {
        "first": words.day(first),
        "last": words.day(end - timedelta(days=1)),
        "quantity": words.energy(current),
    }
    change = changes["previous"]
    if change is None:
        title = _("You used %(quantity)s last period") % values
        summary = _("From %(first)s to %(last)s you used %(quantity)s.") % values
    else:
        values["change"] = words.percent(change)
        if change > 0:
            title = _("You used %(change)s more than the period before") % values
            summary = (
                _(
                    "From %(first)s to %(last)s you used %(quantity)s, %(change)s more than the "
                    "period before."
                )
                % values
            )
        else:
            title = _("You used %(change)s less than the period before") % values
            summary = (
                _(
                    "From %(first)s to %(last)s you used %(quantity)s, %(change)s less than the "
                    "period before."
                )
                % values
            )
        weather_adjusted = adjusted["previous"]
        adjusted_values = {"change": words.percent(weather_adjusted)}
        if weather_adjusted > 0:
            summary += (
                " "
                + _("Allowing for the weather and the number of days, %(change)s more.")
                % adjusted_values
            )
        else:
            summary += (
                " "
                + _("Allowing for the weather and the number of days, %(change)s less.")
                % adjusted_values
            )
    return [
        ctx.draft(
            TYPE,
            VERSION,
            first,
            end,
            title=title,
            summary=summary,
            data={
                "currentQuantity": quantity(current),
                "previousQuantity": None
                if quantities["previous"] is None
                else quantity(quantities["previous"]),
                "yearAgoQuantity": None
                if quantities["yearAgo"] is None
                else quantity(quantities["yearAgo"]),
                "changePercent": percent(changes["previous"]),
                "weatherAdjustedChangePercent": percent(adjusted["previous"]),
                "yearAgoChangePercent": percent(changes["yearAgo"]),
                "weatherAdjustedYearAgoChangePercent": percent(adjusted["yearAgo"]),
                "unitOfMeasure": ctx.meter.unit_of_measure,
            },
        )
    ]
