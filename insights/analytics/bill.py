"""The billing-period forecast: what the period will have used by its end, from its first days.

Shared by the nightly ``BILL_FORECAST``/``HIGH_BILL_ALERT`` insights and the backtest, so
``evaluate_insights`` measures exactly what customers are shown.

Inputs are a meter's *daily frame*: a DataFrame indexed by local date (one row per day,
contiguous) with ``quantity`` (NaN where nothing was read), ``coverage`` (share of the day's
intervals read, 0-1) and ``temperature`` (°C, NaN where unknown), and the weather region's
history (a Series of °C by date) for normals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from insights.analytics.daily_model import DailyModel, fit_daily_model
from insights.analytics.forecast import Noise, forecast_total
from insights.analytics.weather import temperature_normals, temperature_scenarios

#: A day counts as complete (fit for training) when this share of its intervals was read.
COMPLETE_COVERAGE = 0.9
#: Days of history a model is trained on (CalTRACK's baseline year).
TRAINING_DAYS = 365
#: Drift: the training year is cut into blocks of this many days back from the as-of date,
#: each with an intercept of its own, so the degree-day slopes are learnt from the whole
#: year's weather rather than from the home's drift, and the fit stands at the level of the
#: last four weeks (whole weeks, so every block holds each weekday alike; chosen by backtest:
#: docs/insights.md).
BLOCK_DAYS = 28
#: Level: the share of each day's residual the home's current level takes up (an
#: exponentially weighted mean of the residuals, :func:`recent_level`; chosen by the same
#: backtest among the values that follow most of a step within two weeks: docs/insights.md).
LEVEL_SMOOTHING = 0.07
#: The 80 % range's half-widths are the model's times this, so that 80 % of the backtest's
#: outcomes fell inside (the model's own range is too narrow: the days ahead hold away days,
#: guests and changes no past residual foretells).
INTERVAL_CALIBRATION = 1.2
#: Forecast combination: the share of the remaining days' forecast taken from the period's own
#: run rate (what its read days used per day), once ``RUN_RATE_FULL_DAYS`` are read (less
#: before). The model knows the weather and the weekdays to come; the run rate knows this
#: month's habits; their errors are partly independent, so a blend beats either (Bates &
#: Granger). Chosen by backtest on the synthetic homes of seeds 11, 2 and 3 once the point was
#: the middle outcome under the weather to come (0.3 before: docs/insights.md).
RUN_RATE_WEIGHT = 0.2
RUN_RATE_FULL_DAYS = 10


def day_range(first: date, end: date) -> pd.DatetimeIndex:
    """Local dates ``[first, end)``."""
    return pd.date_range(first, end - timedelta(days=1), freq="D")


def fit_as_of(
    daily: pd.DataFrame, as_of: date, block_days: int | None = BLOCK_DAYS
) -> DailyModel | None:
    """The daily model trained on the complete days of the year up to ``as_of`` (inclusive),
    with an intercept per ``block_days`` days counted back from ``as_of`` (the oldest block
    takes the days left over; ``None``: one intercept for the year)."""
    window = daily.loc[
        pd.Timestamp(as_of - timedelta(days=TRAINING_DAYS - 1)) : pd.Timestamp(as_of)
    ]
    complete = window[window["coverage"] >= COMPLETE_COVERAGE]
    blocks = None
    if block_days is not None and len(complete):
        age = (pd.Timestamp(as_of) - complete.index).days.to_numpy()
        oldest = max(0, (int(age.max()) + 1) // block_days - 1)
        blocks = np.minimum(age // block_days, oldest)
    return fit_daily_model(
        complete.index,
        complete["quantity"].to_numpy(),
        complete["temperature"].to_numpy(),
        blocks=blocks,
    )


@dataclass(frozen=True)
class Level:
    """Where a home stands against its model on the as-of date."""

    value: float
    """The exponentially weighted mean of the residuals of its complete days."""
    errors: np.ndarray
    """Each complete day's residual less the level before it: the one-step errors."""
    before: pd.Series
    """The level each complete day was expected at (from the days before it), by date."""


def recent_level(
    model: DailyModel, daily: pd.DataFrame, smoothing: float = LEVEL_SMOOTHING
) -> Level:
    """The level of the home's complete days in ``daily`` (up to the as-of date) against
    ``model``: ``L = L + smoothing * (residual - L)`` day by day from 0 (simple exponential
    smoothing of the residuals). Against a model that stands at the latest block's level
    (:func:`fit_as_of`), the residuals of older blocks hold how far the home was from that level
    then, so the level it reaches is the exponentially weighted mean of the home's weather- and
    weekday-adjusted use over its history, less the latest block's intercept: the forecast
    stands at that mean. It follows a lasting change — a new appliance, an extra occupant — at
    the smoothing's pace (the model carries about 60 % of a step within two weeks, 87 % within
    four) without taking four weeks that held an away spell or a few anomalies for the home's
    new level."""
    complete = daily[(daily["coverage"] >= COMPLETE_COVERAGE) & daily["quantity"].notna()]
    if model.uses_weather:
        complete = complete[complete["temperature"].notna()]
    temperature = complete["temperature"].to_numpy(dtype=float) if model.uses_weather else None
    residuals = complete["quantity"].to_numpy(dtype=float) - model.at_level(0.0).predict(
        complete.index, temperature
    )
    if residuals.size == 0:
        return Level(0.0, residuals, pd.Series(residuals, index=complete.index))
    levels = lfilter([smoothing], [1.0, smoothing - 1.0], residuals)
    before = np.concatenate([[0.0], levels[:-1]])
    return Level(float(levels[-1]), residuals - before, pd.Series(before, index=complete.index))


def temperatures_for(weather: pd.Series, dates: pd.DatetimeIndex) -> tuple[np.ndarray, bool]:
    """Temperature of each date: observed (or imported forecast) where the region has it, else
    the normal. Returns the values and whether any normal was needed."""
    observed = weather.reindex(dates)
    missing = observed.isna()
    if not missing.any():
        return observed.to_numpy(dtype=float), False
    normals = temperature_normals(weather, dates)
    return observed.where(~missing, normals).to_numpy(dtype=float), True


def expected_daily(model: DailyModel, weather: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray:
    """The model's expected usage on each of ``dates`` under their (observed or normal) weather."""
    temperature = temperatures_for(weather, dates)[0] if model.uses_weather else None
    return model.predict(dates, temperature)


def _forecast_noise(model: DailyModel, daily: pd.DataFrame, weather: pd.Series) -> Noise:
    """Scatter of actual usage around what the model predicts from *normal* weather.

    The fallback when the region's history is too short for weather scenarios (its normals
    are then the last fortnight's mean): residuals against those normals hold the weather's
    surprise along with the usage's, so the range at least covers both.
    """
    dates = model.training_dates
    normals = temperature_normals(weather, dates).to_numpy(dtype=float)
    if np.isnan(normals).any():
        return Noise.of(model.results.resid)
    actual = daily["quantity"].reindex(dates).to_numpy(dtype=float)
    return Noise.of(actual - model.predict(dates, normals))


@dataclass(frozen=True)
class PeriodForecast:
    first: date
    end: date
    model: DailyModel
    used_to_date: float
    """Metered usage of the period's days up to the as-of date."""
    quantity: float
    low: float
    high: float
    elapsed_days: int
    remaining: pd.Series
    """The model's expected usage for each day after the as-of date."""
    expected_daily_mean: float
    """The model's expected usage per day over the whole period (for change drivers)."""

    @property
    def days(self) -> int:
        return (self.end - self.first).days


def forecast_period(
    *,
    daily: pd.DataFrame,
    weather: pd.Series,
    first: date,
    end: date,
    as_of: date,
    model: DailyModel | None = None,
    smoothing: float = LEVEL_SMOOTHING,
    calibration: float = INTERVAL_CALIBRATION,
    run_rate_weight: float = RUN_RATE_WEIGHT,
) -> PeriodForecast | None:
    """Forecast of the period ``[first, end)`` knowing the days up to ``as_of`` (inclusive).

    Known days count as metered; a known day with missing intervals is completed with the
    model's expectation for its missing share; the remaining days are the model's expectation
    under the weather (observed or imported where the region has it, else normals), with an
    80 % prediction interval. Where the weather is not known yet, the point (the middle
    outcome) and the interval are drawn from weather scenarios (see
    :func:`~insights.analytics.weather.temperature_scenarios`), or, when the region's history
    is too short for them, the interval from the scatter of usage around the normals. The
    remaining days' total is then blended with the period's run rate (:data:`RUN_RATE_WEIGHT`),
    the range moving with it. None when there is not enough history to fit a model.
    """
    model = model or fit_as_of(daily, as_of)
    if model is None:
        return None
    level = recent_level(model, daily.loc[: pd.Timestamp(as_of)], smoothing)
    model = model.at_level(level.value)
    dates = day_range(first, end)
    known = dates[dates <= pd.Timestamp(as_of)]
    remaining = dates[dates > pd.Timestamp(as_of)]
    rows = daily.reindex(known)
    used = float(rows["quantity"].fillna(0.0).sum())
    temperature, scenarios, noise = None, None, Noise.of(level.errors, smoothing=smoothing)
    if model.uses_weather:
        temperature = temperatures_for(weather, dates)[0]
        if weather.reindex(remaining).isna().any():
            scenarios = temperature_scenarios(weather, remaining)
            if scenarios is None:
                noise = _forecast_noise(model, daily, weather)
    expected = model.predict(dates, temperature)
    missing_share = 1.0 - rows["coverage"].fillna(0.0).clip(upper=1.0).to_numpy()
    gap_fill = float(np.sum(missing_share * expected[: len(known)]))

    future = None if temperature is None else temperature[len(known) :]
    total = forecast_total(model, remaining, future, noise, scenarios=scenarios)
    base = used + gap_fill
    weight = run_rate_weight * min(1.0, len(known) / RUN_RATE_FULL_DAYS)
    run_rate = base / len(known) * len(remaining) if len(known) else total.point
    point = (1.0 - weight) * total.point + weight * run_rate
    return PeriodForecast(
        first=first,
        end=end,
        model=model,
        used_to_date=used,
        quantity=base + point,
        low=base + float(model.floor(point - calibration * (total.point - total.low))),
        high=base + point + calibration * (total.high - total.point),
        elapsed_days=len(known),
        remaining=pd.Series(expected[len(known) :], index=remaining),
        expected_daily_mean=float(expected.mean()),
    )
