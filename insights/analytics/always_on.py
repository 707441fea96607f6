"""ALWAYS_ON: the power a home draws around the clock and what it costs a year (the estimate:
:mod:`insights.analytics.baseload`)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from insights.analytics import baseload
from insights.analytics.bill import fit_as_of
from insights.analytics.context import RECENT_DAYS, MeterContext, decimal, quantity
from insights.datasets import night_demand, night_interval_demand
from insights.drafts import InsightDraft
from metadata.catalog import ENERGY_UNITS_TO_KW, InsightType

TYPE = InsightType.ALWAYS_ON.name
VERSION = "always-on/1.1"


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
    recent, _ = ctx.filled_total(first, end)
    always_on_recent = watts * 24 * RECENT_DAYS / 1000 / kw_per_unit
    share = min(1.0, always_on_recent / recent) if recent > 0 else None
    words = ctx.wording
    cost_words = f" and about {words.money(decimal(annual * price))}" if price else ""
    share_words = f", {words.percent(share)} of your usage lately" if share is not None else ""
    return [
        ctx.draft(
            TYPE,
            VERSION,
            ctx.instant(first),
            ctx.instant(end),
            title=f"Your home draws {round(watts)} W around the clock",
            summary=(
                f"Devices that never switch off draw about {round(watts)} W: "
                f"{words.energy(annual)}{cost_words} a year{share_words}."
            ),
            data={
                "baseloadWatts": round(watts, 1),
                "annualQuantity": quantity(annual),
                "annualCost": ctx.money(None if price is None else annual * price),
                "shareOfUsage": None if share is None else round(share, 3),
                "unitOfMeasure": ctx.meter.unit_of_measure,
            },
        )
    ]


def estimate_baseload(ctx: MeterContext, last_day: date | None = None) -> float | None:
    """The meter's baseload (W) as of ``last_day`` (default: its last day of data).

    The nights are chosen from the HOUR rollups (nights whose five hours were read) and the
    degree days of the daily model; their demand is then read at the meter's resolution: the
    raw intervals of the chosen nights for a meter read more often than hourly (the
    compressor's off-cycles show between its cycles), the hours themselves for an hourly one.
    """
    last_day = last_day or ctx.last_day
    model = ctx.model if last_day == ctx.last_day else fit_as_of(ctx.daily, last_day)
    degree_days = None
    if model is not None and model.uses_weather:
        temperature = ctx.daily["temperature"].dropna()
        degree_days = pd.Series(
            model.weather_degree_days(temperature.to_numpy()), index=temperature.index
        )
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
