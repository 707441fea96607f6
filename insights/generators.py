"""From a meter's history to insight drafts: one function per insight type.

Each generator reads a :class:`MeterContext` (the meter's daily history, its weather and the
daily model fitted once for all of them), runs a model from :mod:`insights.analytics`, and
words the result. Nothing here writes: :func:`insights.services.insights_generate` upserts the
drafts. Energy goes into ``data`` as numbers (3 decimals), money as decimal strings in the
customer's currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property

import numpy as np
import pandas as pd
from django.conf import settings

from customers.models import Customer, Meter
from energygrid.money import format_money
from insights.analytics import anomalies, baseload, peak, peers
from insights.analytics.bill import (
    COMPLETE_COVERAGE,
    PeriodForecast,
    day_range,
    expected_daily,
    fit_as_of,
    forecast_period,
)
from insights.analytics.daily_model import DailyModel
from insights.analytics.forecast import MORE_DAYS, USAGE, WEATHER, change_components, main_driver
from insights.datasets import (
    MeterHistory,
    hourly_frame,
    meter_history,
    night_demand,
    night_interval_demand,
)
from insights.drafts import InsightDraft
from insights.models import Severity
from insights.selectors import peer_month_quantities
from insights.text import Wording
from metadata.catalog import ENERGY_UNITS_TO_KW, Granularity, InsightType
from usage.calendar import local_date_start, meter_bucket_bounds, zone
from usage.pricing import price_grid

#: Version of each model; bump it when a method changes, so stored insights say what made them.
MODEL_VERSIONS: dict[str, str] = {
    InsightType.BILL_FORECAST.name: "bill-forecast/1.1",
    InsightType.HIGH_BILL_ALERT.name: "high-bill/1.0",
    InsightType.USAGE_ANOMALY.name: "usage-anomaly/1.0",
    InsightType.PERIOD_COMPARISON.name: "period-comparison/1.0",
    InsightType.PEER_COMPARISON.name: "peer-comparison/1.0",
    InsightType.ALWAYS_ON.name: "always-on/1.1",
    InsightType.PEAK_TIME.name: "peak-time/1.0",
}
#: The types this pipeline produces (BUDGET_ALERT comes from the budgets app).
GENERATED_TYPES: tuple[str, ...] = tuple(MODEL_VERSIONS)

#: Days an anomaly scan looks back (a nightly rerun sees each day about 30 times: idempotent).
ANOMALY_SCAN_DAYS = 30
#: Days the hourly anomaly scan looks back.
HOURLY_SCAN_DAYS = 7
#: Days ALWAYS_ON and PEAK_TIME are about.
RECENT_DAYS = 30


def high_bill_margin() -> Decimal:
    """``INSIGHTS_HIGH_BILL_MARGIN``: how much above the previous bill counts as high (0.2)."""
    return settings.INSIGHTS_HIGH_BILL_MARGIN


def _quantity(value: float) -> float:
    return round(float(value), 3)


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None or not np.isfinite(fraction) else round(fraction * 100, 1)


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def year_earlier(day: date) -> date:
    """The same local date a year before (29 February: the 28th)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


@dataclass
class MeterContext:
    """Everything the generators of one meter share, computed once."""

    customer: Customer
    meter: Meter
    history: MeterHistory

    @cached_property
    def model(self) -> DailyModel | None:
        return fit_as_of(self.history.daily, self.history.last_day)

    @cached_property
    def wording(self) -> Wording:
        return Wording(
            locale=self.customer.locale,
            currency=self.currency,
            unit=self.meter.unit_of_measure,
        )

    @property
    def currency(self) -> str:
        return self.customer.billing_currency

    @property
    def daily(self) -> pd.DataFrame:
        return self.history.daily

    @property
    def last_day(self) -> date:
        return self.history.last_day

    @cached_property
    def grid(self) -> dict[tuple[int, int], Decimal]:
        return price_grid(self.meter.tariff)

    def instant(self, day: date) -> datetime:
        """The UTC instant the meter's local ``day`` starts."""
        return local_date_start(zone(self.meter.timezone), day)

    def money(self, amount: float | None) -> str | None:
        return None if amount is None else format_money(_decimal(amount), self.currency)

    def billing_period(self, day: date) -> tuple[date, date]:
        """Local dates ``[first, end)`` of the billing period holding ``day``."""
        start = self.instant(day)
        bounds = meter_bucket_bounds(
            self.meter, Granularity.BILLING_PERIOD, start, start + timedelta(seconds=1)
        )
        tz = zone(self.meter.timezone)
        return bounds[0].astimezone(tz).date(), bounds[1].astimezone(tz).date()

    def current_billing_period(self) -> tuple[date, date]:
        """The billing period the meter's data is in: the one holding ``last_day + 1``."""
        return self.billing_period(self.last_day + timedelta(days=1))

    def rows(self, first: date, end: date) -> pd.DataFrame:
        return self.daily.reindex(day_range(first, end))

    def realised_price(self, first: date, end: date) -> float | None:
        """What a unit cost on average over local dates ``[first, end)``, where priced."""
        rows = self.rows(first, end).dropna(subset=["cost", "quantity"])
        quantity = float(rows["quantity"].sum())
        return float(rows["cost"].sum()) / quantity if quantity > 0 else None

    def tariff_price(self) -> float | None:
        """The tariff's price averaged over the 168 hours of a week (for round-the-clock use)."""
        return float(np.mean([float(p) for p in self.grid.values()])) if self.grid else None

    def price(self, first: date, end: date) -> float | None:
        """The price to cost usage in ``[first, end)`` with: realised there, else over the
        last 30 days, else the tariff's average; None when nothing prices this meter."""
        recent = self.last_day - timedelta(days=RECENT_DAYS - 1)
        for candidate in (
            self.realised_price(first, end),
            self.realised_price(recent, self.last_day + timedelta(days=1)),
            self.tariff_price(),
        ):
            if candidate is not None:
                return candidate
        return None

    @property
    def subject_key(self) -> str:
        """What this meter's insights are about, for their uniqueness."""
        return f"meter:{self.meter.pk}"

    def draft(self, insight_type: str, first: datetime, end: datetime, **fields) -> InsightDraft:
        return InsightDraft(
            customer=self.customer,
            type=insight_type,
            subject_key=self.subject_key,
            account=self.meter.account,
            meter=self.meter,
            period_start=first,
            period_end=end,
            model_version=MODEL_VERSIONS[insight_type],
            **fields,
        )

    def filled_total(self, first: date, end: date) -> tuple[float, float]:
        """Usage over ``[first, end)`` with unread intervals completed by the model's
        expectation, and the share of intervals actually read."""
        rows = self.rows(first, end)
        coverage = rows["coverage"].fillna(0.0).clip(upper=1.0).to_numpy()
        metered = float(rows["quantity"].fillna(0.0).sum())
        if self.model is None:
            return metered, float(coverage.mean())
        expected = expected_daily(self.model, self.history.weather, rows.index)
        return metered + float(np.sum((1 - coverage) * expected)), float(coverage.mean())


def meter_context(*, customer: Customer, meter: Meter) -> MeterContext | None:
    history = meter_history(meter=meter)
    return None if history is None else MeterContext(customer, meter, history)


# --- BILL_FORECAST and HIGH_BILL_ALERT -------------------------------------------------------


@dataclass(frozen=True)
class _Costing:
    """The money of a period forecast: what the metered days cost (their own costs, unpriced
    ones at ``price``), and any further usage at ``price``."""

    to_date: float
    used_to_date: float
    price: float

    def of(self, quantity: float) -> float:
        return self.to_date + (quantity - self.used_to_date) * self.price


def _costing(ctx: MeterContext, forecast: PeriodForecast) -> _Costing | None:
    price = ctx.price(forecast.first, forecast.end)
    if price is None:
        return None
    rows = ctx.rows(forecast.first, ctx.last_day + timedelta(days=1))
    unpriced = float(rows.loc[rows["cost"].isna(), "quantity"].fillna(0.0).sum())
    return _Costing(
        to_date=float(rows["cost"].fillna(0.0).sum()) + unpriced * price,
        used_to_date=forecast.used_to_date,
        price=price,
    )


def bill_drafts(ctx: MeterContext, wanted: set[str]) -> list[InsightDraft]:
    if ctx.model is None:
        return []
    first, end = ctx.current_billing_period()
    forecast = forecast_period(
        daily=ctx.daily,
        weather=ctx.history.weather,
        first=first,
        end=end,
        as_of=ctx.last_day,
        model=ctx.model,
    )
    if forecast is None:
        return []
    costing = _costing(ctx, forecast)
    drafts = []
    if InsightType.BILL_FORECAST.name in wanted:
        drafts.append(_bill_forecast(ctx, forecast, costing))
    if InsightType.HIGH_BILL_ALERT.name in wanted and costing is not None:
        drafts.extend(_high_bill(ctx, forecast, costing))
    return drafts


def _bill_forecast(
    ctx: MeterContext, forecast: PeriodForecast, costing: _Costing | None
) -> InsightDraft:
    words = ctx.wording

    def cost(quantity: float) -> float | None:
        return None if costing is None else costing.of(quantity)

    data = {
        "usedToDate": _quantity(forecast.used_to_date),
        "costToDate": ctx.money(None if costing is None else costing.to_date),
        "forecastQuantity": _quantity(forecast.quantity),
        "forecastCost": ctx.money(cost(forecast.quantity)),
        "forecastCostLow": ctx.money(cost(forecast.low)),
        "forecastCostHigh": ctx.money(cost(forecast.high)),
        "forecastQuantityLow": _quantity(forecast.low),
        "forecastQuantityHigh": _quantity(forecast.high),
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
        title = f"Your bill is on track for {words.money(_decimal(total))}"
        summary = (
            f"Your bill for {span} is on track for {words.money(_decimal(total))} (between "
            f"{words.money(_decimal(low))} and {words.money(_decimal(high))})."
        )
        if forecast.elapsed_days:
            summary += (
                f" So far you have used {words.energy(forecast.used_to_date)}, costing "
                f"{words.money(_decimal(costing.to_date))}."
            )
    return ctx.draft(
        InsightType.BILL_FORECAST.name,
        ctx.instant(forecast.first),
        ctx.instant(forecast.end),
        title=title,
        summary=summary,
        data=data,
    )


_DRIVER_WORDS = {
    WEATHER: "mostly because of the weather",
    MORE_DAYS: "mostly because this period has more days",
    USAGE: "mostly because you are using more energy than the weather explains",
}


def _high_bill(
    ctx: MeterContext, forecast: PeriodForecast, costing: _Costing
) -> list[InsightDraft]:
    previous_first, previous_end = ctx.billing_period(forecast.first - timedelta(days=1))
    previous_quantity, coverage = ctx.filled_total(previous_first, previous_end)
    if coverage < COMPLETE_COVERAGE:
        return []
    previous_price = ctx.realised_price(previous_first, previous_end) or costing.price
    previous_cost = previous_quantity * previous_price
    forecast_cost = costing.of(forecast.quantity)
    margin = float(high_bill_margin())
    if previous_cost <= 0 or forecast_cost <= previous_cost * (1 + margin):
        return []
    previous_dates = day_range(previous_first, previous_end)
    components = change_components(
        current_quantity=forecast.quantity,
        current_days=forecast.days,
        previous_quantity=previous_quantity,
        previous_days=len(previous_dates),
        current_expected_daily=forecast.expected_daily_mean,
        previous_expected_daily=float(
            expected_daily(forecast.model, ctx.history.weather, previous_dates).mean()
        ),
    )
    driver = main_driver(components)
    change = forecast_cost / previous_cost - 1
    words = ctx.wording
    return [
        ctx.draft(
            InsightType.HIGH_BILL_ALERT.name,
            ctx.instant(forecast.first),
            ctx.instant(forecast.end),
            severity=Severity.ALERT if change >= 2 * margin else Severity.WARNING,
            title=f"Your bill may be {words.percent(change)} higher than last period",
            summary=(
                f"This period's bill is forecast at {words.money(_decimal(forecast_cost))}, "
                f"against {words.money(_decimal(previous_cost))} last period, "
                f"{_DRIVER_WORDS[driver]}."
            ),
            data={
                "forecastCost": ctx.money(forecast_cost),
                "previousCost": ctx.money(previous_cost),
                "changePercent": _percent(change),
                "driver": driver,
                "changeByDriver": {name: _quantity(value) for name, value in components.items()},
                "unitOfMeasure": ctx.meter.unit_of_measure,
            },
        )
    ]


# --- USAGE_ANOMALY ---------------------------------------------------------------------------


def anomaly_drafts(ctx: MeterContext) -> list[InsightDraft]:
    if ctx.model is None:
        return []
    scores = scan_daily_anomalies(
        daily=ctx.daily.loc[ctx.model.training_dates[0] :],
        weather=ctx.history.weather,
        model=ctx.model,
        scan_from=ctx.last_day - timedelta(days=ANOMALY_SCAN_DAYS - 1),
    )
    flagged = scores[scores["anomalous"]]
    drafts = [_day_anomaly(ctx, row) for row in flagged.itertuples()]
    if ctx.meter.interval_seconds <= 3600:
        elevated = scores[(scores["z"] >= anomalies.ELEVATED_DAY_THRESHOLD) & ~scores["anomalous"]]
        drafts.extend(_hour_anomalies(ctx, days=set(elevated.index)))
    return drafts


def scan_daily_anomalies(
    *, daily: pd.DataFrame, weather: pd.Series, model: DailyModel, scan_from: date
) -> pd.DataFrame:
    """Scores (see ``anomalies.daily_scores``) of the days from ``scan_from``.

    The robust scale is taken over the whole frame given (the model's training year), so the
    first scanned day has a month of residuals either side of it as context.
    """
    complete = daily["coverage"] >= COMPLETE_COVERAGE
    actual = daily["quantity"].where(complete)
    expected = pd.Series(expected_daily(model, weather, daily.index), index=daily.index)
    scores = anomalies.daily_scores(actual, expected)
    return scores[scores.index >= pd.Timestamp(scan_from)]


def _day_anomaly(ctx: MeterContext, row) -> InsightDraft:
    day = row.Index.date()
    excess = row.actual - row.expected
    price = ctx.price(day, day + timedelta(days=1))
    words = ctx.wording
    cost_words = f", costing about {words.money(_decimal(excess * price))} extra" if price else ""
    return ctx.draft(
        InsightType.USAGE_ANOMALY.name,
        ctx.instant(day),
        ctx.instant(day + timedelta(days=1)),
        severity=Severity.ALERT if excess >= row.expected else Severity.WARNING,
        title=f"Unusually high usage on {words.day(day)}",
        summary=(
            f"You used {words.energy(row.actual)} on {words.day(day)}, "
            f"{words.energy(excess)} ({words.percent(excess / row.expected)}) more than "
            f"expected for the weather and the day of the week{cost_words}."
        ),
        data={
            "granularity": Granularity.DAY.name,
            "expectedQuantity": _quantity(row.expected),
            "actualQuantity": _quantity(row.actual),
            "excessQuantity": _quantity(excess),
            "excessCost": ctx.money(None if price is None else excess * price),
            "unitOfMeasure": ctx.meter.unit_of_measure,
        },
    )


def _hour_anomalies(ctx: MeterContext, days: set[pd.Timestamp]) -> list[InsightDraft]:
    """Unusual hours of the last week's ``days`` (those somewhat, not very, unusual)."""
    scan_from = ctx.last_day - timedelta(days=HOURLY_SCAN_DAYS - 1)
    if not any(day >= pd.Timestamp(scan_from) for day in days):
        return []
    first = scan_from - timedelta(days=anomalies.HOUR_BASELINE_DAYS)
    hours = hourly_frame(meter=ctx.meter, first_day=first, end_day=ctx.last_day + timedelta(days=1))
    hours = hours[hours["complete"]]
    if hours.empty:
        return []
    dates = pd.DatetimeIndex(hours["date"].unique())
    day_expected = pd.Series(expected_daily(ctx.model, ctx.history.weather, dates), index=dates)
    hours = hours.assign(day_expected=day_expected.reindex(hours["date"]).to_numpy())
    flagged = anomalies.hourly_anomalies(hours, pd.Timestamp(scan_from))
    flagged = flagged[flagged["date"].isin(days)]
    words = ctx.wording
    tz = zone(ctx.meter.timezone)
    drafts = []
    for row in flagged.itertuples():
        excess = row.quantity - row.expected
        price = row.cost / row.quantity if row.quantity > 0 and np.isfinite(row.cost) else None
        local = row.start.astimezone(tz)
        when = f"{words.day(local.date())} at {local:%H:%M}"
        drafts.append(
            ctx.draft(
                InsightType.USAGE_ANOMALY.name,
                row.start,
                row.end,
                severity=Severity.WARNING,
                title=f"Unusually high usage on {when}",
                summary=(
                    f"You used {words.energy(row.quantity)} in the hour from {when}, about "
                    f"{words.energy(excess)} more than usual for that hour."
                ),
                data={
                    "granularity": Granularity.HOUR.name,
                    "expectedQuantity": _quantity(row.expected),
                    "actualQuantity": _quantity(row.quantity),
                    "excessQuantity": _quantity(excess),
                    "excessCost": ctx.money(None if price is None else excess * price),
                    "unitOfMeasure": ctx.meter.unit_of_measure,
                },
            )
        )
    return drafts


# --- PERIOD_COMPARISON -----------------------------------------------------------------------


def period_comparison_drafts(ctx: MeterContext) -> list[InsightDraft]:
    if ctx.model is None:
        return []
    current_first, _ = ctx.current_billing_period()
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
    span = words.span(first, end - timedelta(days=1))
    change = changes["previous"]
    if change is None:
        title = f"You used {words.energy(current)} last period"
        summary = f"From {span} you used {words.energy(current)}."
    else:
        direction = "more" if change > 0 else "less"
        title = f"You used {words.percent(change)} {direction} than the period before"
        summary = (
            f"From {span} you used {words.energy(current)}, {words.percent(change)} "
            f"{direction} than the period before"
        )
        weather_adjusted = adjusted["previous"]
        summary += (
            f"; allowing for the weather and the number of days, "
            f"{words.percent(weather_adjusted)} {'more' if weather_adjusted > 0 else 'less'}."
        )
    return [
        ctx.draft(
            InsightType.PERIOD_COMPARISON.name,
            ctx.instant(first),
            ctx.instant(end),
            title=title,
            summary=summary,
            data={
                "currentQuantity": _quantity(current),
                "previousQuantity": None
                if quantities["previous"] is None
                else _quantity(quantities["previous"]),
                "yearAgoQuantity": None
                if quantities["yearAgo"] is None
                else _quantity(quantities["yearAgo"]),
                "changePercent": _percent(changes["previous"]),
                "weatherAdjustedChangePercent": _percent(adjusted["previous"]),
                "yearAgoChangePercent": _percent(changes["yearAgo"]),
                "weatherAdjustedYearAgoChangePercent": _percent(adjusted["yearAgo"]),
                "unitOfMeasure": ctx.meter.unit_of_measure,
            },
        )
    ]


# --- ALWAYS_ON -------------------------------------------------------------------------------


def always_on_drafts(ctx: MeterContext) -> list[InsightDraft]:
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
    cost_words = f" and about {words.money(_decimal(annual * price))}" if price else ""
    share_words = f", {words.percent(share)} of your usage lately" if share is not None else ""
    return [
        ctx.draft(
            InsightType.ALWAYS_ON.name,
            ctx.instant(first),
            ctx.instant(end),
            title=f"Your home draws {round(watts)} W around the clock",
            summary=(
                f"Devices that never switch off draw about {round(watts)} W: "
                f"{words.energy(annual)}{cost_words} a year{share_words}."
            ),
            data={
                "baseloadWatts": round(watts, 1),
                "annualQuantity": _quantity(annual),
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


# --- PEAK_TIME -------------------------------------------------------------------------------


def peak_time_drafts(ctx: MeterContext) -> list[InsightDraft]:
    if ctx.meter.interval_seconds > 3600:
        return []
    first = ctx.last_day - timedelta(days=RECENT_DAYS - 1)
    end = ctx.last_day + timedelta(days=1)
    hours = hourly_frame(meter=ctx.meter, first_day=first, end_day=end)
    hours = hours[hours["complete"]]
    if hours["date"].nunique() < RECENT_DAYS // 2:
        return []
    hour, share = peak.peak_hour(hours["hour"].to_numpy(), hours["quantity"].to_numpy())
    prices = np.array(
        [
            float(ctx.grid.get((d, h), np.nan))
            for d, h in zip(hours["isoweekday"], hours["hour"], strict=True)
        ]
    )
    priced = np.isfinite(prices)
    saving = (
        peak.shift_saving(
            hours["quantity"].to_numpy()[priced], prices[priced], days=hours["date"].nunique()
        )
        if priced.any()
        else None
    )
    words = ctx.wording
    if saving is None:
        saving_words = ""
    elif saving > 0:
        saving_words = (
            f" Moving a fifth of your peak-rate usage to the cheapest hours would save about "
            f"{words.money(_decimal(saving))} a month."
        )
    else:
        saving_words = (
            " Your tariff charges the same at every hour, so shifting would not lower your bill."
        )
    return [
        ctx.draft(
            InsightType.PEAK_TIME.name,
            ctx.instant(first),
            ctx.instant(end),
            title=f"Your usage peaks between {hour:02d}:00 and {(hour + 1) % 24:02d}:00",
            summary=(
                f"On an average day {words.percent(share)} of your usage falls between "
                f"{hour:02d}:00 and {(hour + 1) % 24:02d}:00.{saving_words}"
            ),
            data={
                "peakHour": hour,
                "peakShare": round(share, 3),
                "shiftableSavingPerMonth": ctx.money(saving),
                "timeOfUse": bool(ctx.meter.tariff and ctx.meter.tariff.time_of_use),
            },
        )
    ]


# --- PEER_COMPARISON -------------------------------------------------------------------------


def peer_drafts(*, customer: Customer, meter: Meter, last_day: date) -> list[InsightDraft]:
    """The comparison of ``meter``'s home for its service (all the home's meters of that
    service and unit together) over the last local month complete by ``last_day``."""
    account = meter.account
    premise = getattr(account, "premise", None)
    if premise is None or not premise.weather_region or premise.floor_area_sqm is None:
        return []
    month_first = (last_day + timedelta(days=1)).replace(day=1)
    first = (month_first - timedelta(days=1)).replace(day=1)
    statistics = peer_month_quantities(customer=customer, account=account, meter=meter, first=first)
    if statistics is None:
        return []
    yours, others = statistics
    result = peers.peer_statistics(yours, others)
    if result is None:
        return []
    words = Wording(
        locale=customer.locale, currency=customer.billing_currency, unit=meter.unit_of_measure
    )
    difference = yours / result.average - 1 if result.average > 0 else 0.0
    comparison = "more" if difference > 0 else "less"
    tz = zone(meter.timezone)
    return [
        InsightDraft(
            customer=customer,
            type=InsightType.PEER_COMPARISON.name,
            subject_key=f"account:{account.pk}:{meter.service_type}",
            account=account,
            meter=None,
            period_start=local_date_start(tz, first),
            period_end=local_date_start(tz, month_first),
            model_version=MODEL_VERSIONS[InsightType.PEER_COMPARISON.name],
            title=f"You used {words.percent(difference)} {comparison} than similar homes",
            summary=(
                f"In {first:%B %Y} your home used {words.energy(yours)}; similar homes nearby "
                f"used {words.energy(result.average)} on average and the most efficient "
                f"fifth {words.energy(result.efficient)} or less."
            ),
            data={
                "percentile": round(result.percentile, 1),
                "cohortSize": result.cohort_size,
                "yourQuantity": _quantity(yours),
                "averageQuantity": _quantity(result.average),
                "efficientQuantity": _quantity(result.efficient),
                "serviceType": meter.service_type,
                "unitOfMeasure": meter.unit_of_measure,
            },
        )
    ]


def meter_drafts(ctx: MeterContext, wanted: set[str]) -> list[InsightDraft]:
    """Every wanted per-meter insight of one meter."""
    drafts = (
        bill_drafts(ctx, wanted)
        if wanted & {InsightType.BILL_FORECAST.name, InsightType.HIGH_BILL_ALERT.name}
        else []
    )
    per_type = {
        InsightType.USAGE_ANOMALY.name: anomaly_drafts,
        InsightType.PERIOD_COMPARISON.name: period_comparison_drafts,
        InsightType.ALWAYS_ON.name: always_on_drafts,
        InsightType.PEAK_TIME.name: peak_time_drafts,
    }
    for insight_type, generate in per_type.items():
        if insight_type in wanted:
            drafts.extend(generate(ctx))
    return drafts
