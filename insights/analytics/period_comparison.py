"""PERIOD_COMPARISON: the last billing period against the previous one and the same period a
year before, raw and weather-adjusted through the daily model (:mod:`insights.analytics.
daily_model`). For a billing-read meter: the last read period against the one before and the
one a year earlier, weather-adjusted through the read-period model."""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext as _

from insights.analytics.bill import COMPLETE_COVERAGE, day_range, expected_daily
from insights.analytics.context import (
    BaseContext,
    MeterContext,
    ReadPeriodContext,
    Span,
    percent,
    quantity,
    year_earlier,
)
from insights.drafts import InsightDraft
from metadata.catalog import InsightType

TYPE = InsightType.PERIOD_COMPARISON.name
VERSION = "period-comparison/1.3"


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
    return [_draft(ctx, ctx.dates_span(first, end), current, quantities, changes, adjusted)]


def read_period_drafts(ctx: ReadPeriodContext) -> list[InsightDraft]:
    if ctx.model is None:
        return []
    span = ctx.last_complete_period()
    current = ctx.read_quantity(span)
    comparisons = {
        "previous": ctx.spans[-2] if len(ctx.spans) > 1 else None,
        "yearAgo": ctx.year_before(span),
    }
    quantities: dict[str, float | None] = {}
    changes: dict[str, float | None] = {}
    adjusted: dict[str, float | None] = {}
    expected_current = ctx.expected_per_day(span) * len(ctx.dates(span))
    for name, other_span in comparisons.items():
        other = None if other_span is None else ctx.read_quantity(other_span)
        if other is None or other <= 0:
            quantities[name] = changes[name] = adjusted[name] = None
            continue
        expected_other = ctx.expected_per_day(other_span) * len(ctx.dates(other_span))
        quantities[name] = other
        changes[name] = current / other - 1
        adjusted[name] = (
            (current / other) / (expected_current / expected_other) - 1
            if expected_current > 0 and expected_other > 0
            else None
        )
    return [_draft(ctx, span, current, quantities, changes, adjusted)]


def _draft(
    ctx: BaseContext,
    span: Span,
    current: float,
    quantities: dict[str, float | None],
    changes: dict[str, float | None],
    adjusted: dict[str, float | None],
) -> InsightDraft:
    """The comparison of ``current`` usage over ``span`` with the ``previous`` and ``yearAgo``
    periods' (each ``quantities``, ``changes`` and weather-``adjusted`` changes: None when
    unknown)."""
    words = ctx.wording
    values = {
        "first": words.day(span.first),
        "last": words.day(span.last),
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
        adjusted_values = {"change": words.percent(weather_adjusted or 0.0)}
        if weather_adjusted is not None and weather_adjusted > 0:
            summary += (
                " "
                + _("Allowing for the weather and the number of days, %(change)s more.")
                % adjusted_values
            )
        elif weather_adjusted is not None:
            summary += (
                " "
                + _("Allowing for the weather and the number of days, %(change)s less.")
                % adjusted_values
            )
    return ctx.draft_span(
        TYPE,
        VERSION,
        span,
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
