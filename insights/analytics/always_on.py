"""ALWAYS_ON: the power a home draws around the clock and what it costs a year (the estimate:
:mod:`insights.analytics.baseload`)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from django.utils.translation import gettext as _

from insights.analytics import baseload
from insights.analytics.bill import fit_as_of
from insights.analytics.context import RECENT_DAYS, MeterContext, decimal, quantity
from insights.analytics.daily_model import DailyModel
from insights.datasets import night_demand, night_interval_demand
from insights.drafts import InsightDraft
from metadata.catalog import ENERGY_UNITS_TO_KW, InsightType

TYPE = InsightType.ALWAYS_ON.name
VERSION = "always-on/1.4"


def drafts(ctx: MeterContext) -> list[InsightDraft]:
    kw_per_unit = ENERGY_UNITS_TO_KW.get(ctx.meter.unit_of_measure)
    if kw_per_unit is None or ctx.meter.interval_seconds > 3600:
        return []  # not energy, or no hourly data to see the nights in
    watts = estimate_baseload(ctx)
    if watts is None:
        return []
    first = ctx.last_day - timedelta(days=RECENT_DAYS - 1)
    end = ctx.last_day + timedelta(days=1)
    annual = watts * baseload.KWH_PER_WATT_YEAR / kw_per_unit
    price = ctx.tariff_price() or ctx.price(first, end)
    recent = ctx.filled_total(first, end)[0]
    always_on_recent = watts * 24 * RECENT_DAYS / 1000 / kw_per_unit
    share = min(1.0, always_on_recent / recent) if recent > 0 else None
    words = ctx.wording
    values = {"watts": words.number(round(watts)), "annual": words.energy(annual)}
    summary = _("Devices that never switch off draw about %(watts)s W: %(annual)s a year.") % values
    if price:
        summary += " " + _("That costs about %(cost)s a year.") % {
            "cost": words.money(decimal(annual * price))
        }
    if share is not None:
        summary += " " + _("It was %(share)s of your usage lately.") % {
            "share": words.percent(share)
        }
    return [
        ctx.draft(
            TYPE,
            VERSION,
            first,
            end,
            title=_("Your home draws %(watts)s W around the clock") % values,
            summary=summary,
            data={
                "baseloadWatts": round(watts, 1),
                "annualQuantity": quantity(annual),
                "annualCost": ctx.money(None if price is None else annual * price),
                "shareOfUsage": None if share is None else round(share, 3),
                "unitOfMeasure": ctx.meter.unit_of_measure,
            },
        )
    ]


def model_degree_days(model: DailyModel, daily: pd.DataFrame) -> pd.Series | None:
    """HDD + CDD of each date of ``daily`` with a temperature, at ``model``'s balance points
    (how much heating or cooling the day needed); None for a model without weather."""
    if not model.uses_weather:
        return None
    temperature = daily["temperature"].dropna()
    return pd.Series(model.weather_degree_days(temperature.to_numpy()), index=temperature.index)


def estimate_baseload(ctx: MeterContext, last_day: date | None = None) -> float | None:
    """The meter's baseload (W) as of ``last_day`` (default: its last day of data).

    The nights are chosen from the HOUR rollups (nights whose five hours were read) and the
    degree days of the daily model; their demand is then read at the meter's resolution: the
    raw intervals of the chosen nights for a meter read more often than hourly (the
    compressor's off-cycles show between its cycles), the hours themselves for an hourly one.
    """
    last_day = last_day or ctx.last_day
    model = ctx.model if last_day == ctx.last_day else fit_as_of(ctx.daily, last_day)
    degree_days = None if model is None else model_degree_days(model, ctx.daily)
    hours = night_demand(meter=ctx.meter, last_day=last_day)
    choice = baseload.choose_nights(
        pd.Index(hours["date"].unique()), last_day=last_day, degree_days=degree_days
    )
    if choice is None:
        return None
    if ctx.meter.interval_seconds < 3600:
        demand = night_interval_demand(meter=ctx.meter, nights=choice.nights)
    else:
        demand = hours[hours["date"].isin(choice.nights)]
    return baseload.low_quantile(demand["watts"].to_numpy(dtype=float), choice.quantile)
