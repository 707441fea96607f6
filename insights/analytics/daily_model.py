"""The daily usage model every insight shares: a CalTRACK-style change-point regression.

``usage = β0 + Σ dow + βh·HDD(b_h) + βc·CDD(b_c)`` fitted by OLS (statsmodels) on up to a year
of complete days, optionally with an intercept of its own for each block of days (a home's
use drifts: the slopes are then learnt from the weather's swings within blocks, and the model
stands at the latest block's level). As CalTRACK does, four forms compete — intercept-only,
heating-only, cooling-only and heating-and-cooling — with balance points found by grid
search; a form qualifies only when each degree-day slope is positive and significant
(p < 0.1) and its degree days are non-zero on enough days, and the qualifying form with the
best adjusted R² wins. Day-of-week terms are added to every form (CalTRACK's daily model has
none; homes do differ at weekends). Without weather for the premise's region the model is
calendar-only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import product
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm

from insights.analytics.weather import (
    COOLING_BALANCE_GRID_C,
    HEATING_BALANCE_GRID_C,
    cooling_degree_days,
    heating_degree_days,
)

#: Fewer complete days than this and no model is fitted (four of each weekday).
MIN_TRAINING_DAYS = 28
#: Share of training days that must have a temperature for a weather model (CalTRACK: 90 %).
WEATHER_SUFFICIENCY = 0.9
#: A degree-day slope must be significant at this level to keep its term.
MAX_P_VALUE = 0.1
#: ... and its degree days non-zero on at least this many training days.
MIN_DEGREE_DAY_DAYS = 10

CALENDAR = "calendar"
INTERCEPT = "intercept"
HEATING = "heating"
COOLING = "cooling"
HEATING_COOLING = "heating_cooling"


def candidate_forms() -> Iterator[tuple[str, float | None, float | None]]:
    """Every (kind, heating balance °C, cooling balance °C) form a degree-day model is fitted
    in, simplest first: intercept only, heating or cooling at each balance point of the grid,
    then both (heating below cooling)."""
    yield INTERCEPT, None, None
    for heating in HEATING_BALANCE_GRID_C:
        yield HEATING, heating, None
    for cooling in COOLING_BALANCE_GRID_C:
        yield COOLING, None, cooling
    for heating, cooling in product(HEATING_BALANCE_GRID_C, COOLING_BALANCE_GRID_C):
        if heating < cooling:
            yield HEATING_COOLING, heating, cooling


def _block_columns(blocks: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """One indicator per ``earlier`` block label: the latest block (0) is the base."""
    return (blocks[:, None] == earlier[None, :]).astype(float)


def _calendar_columns(dates: pd.DatetimeIndex) -> np.ndarray:
    """Intercept plus one indicator per weekday from Tuesday to Sunday (Monday is the base)."""
    weekday = dates.day_of_week.to_numpy()
    indicators = (weekday[:, None] == np.arange(1, 7)[None, :]).astype(float)
    return np.column_stack([np.ones(len(dates)), indicators])


@dataclass(frozen=True)
class DailyModel:
    """A fitted daily model; ``results`` is the statsmodels OLS results object."""

    kind: str
    heating_balance_c: float | None
    cooling_balance_c: float | None
    results: Any
    training_dates: pd.DatetimeIndex
    earlier_blocks: int = 0
    """Intercepts of earlier blocks of training days, after the calendar terms
    (:func:`fit_daily_model`); predictions are at the latest block's level, their columns 0."""
    level: float = 0.0
    """Added to every day's expectation: the home's current level against the fit (see
    :func:`insights.analytics.bill.recent_level`); 0 for the fit itself."""
    net: bool = False
    """Models a bidirectional meter's net usage, which goes below zero on days it exports
    more than it draws; otherwise expectations are never below zero."""

    def at_level(self, level: float) -> DailyModel:
        """This model following the home's current ``level``."""
        return replace(self, level=float(level))

    def of_net_usage(self) -> DailyModel:
        """This model for net usage (no floor at zero)."""
        return replace(self, net=True)

    def floor(self, usage: np.ndarray | float) -> np.ndarray | float:
        """``usage`` (expected usage or a bound of it) where a meter can take it: at least
        zero, unless net."""
        return usage if self.net else np.maximum(0.0, usage)

    @property
    def uses_weather(self) -> bool:
        return self.heating_balance_c is not None or self.cooling_balance_c is not None

    def design(self, dates: pd.DatetimeIndex, temperature: np.ndarray | None) -> np.ndarray:
        """The regressors of ``dates`` (days x terms); ``temperature`` (°C per date) is needed
        by weather forms. A stack of temperature scenarios (scenarios x days) gives a stack of
        designs (scenarios x days x terms)."""
        calendar = np.column_stack(
            [_calendar_columns(dates), np.zeros((len(dates), self.earlier_blocks))]
        )
        if not self.uses_weather:
            return calendar
        temperature = None if temperature is None else np.asarray(temperature, dtype=float)
        if temperature is None or np.isnan(temperature).any():
            raise ValueError(f"a {self.kind} model needs a temperature for every day")
        columns = [np.broadcast_to(calendar, (*temperature.shape, calendar.shape[1]))]
        if self.heating_balance_c is not None:
            columns.append(heating_degree_days(temperature, self.heating_balance_c)[..., None])
        if self.cooling_balance_c is not None:
            columns.append(cooling_degree_days(temperature, self.cooling_balance_c)[..., None])
        return np.concatenate(columns, axis=-1)

    def predict(self, dates: pd.DatetimeIndex, temperature: np.ndarray | None = None) -> np.ndarray:
        """Expected usage per day (never below zero, but for net usage: a meter does not run
        backwards)."""
        return self.floor(self.results.predict(self.design(dates, temperature)) + self.level)

    def weather_degree_days(self, temperature: np.ndarray) -> np.ndarray:
        """HDD + CDD at the model's own balance points: how much heating or cooling a day needs."""
        total = np.zeros(len(temperature))
        if self.heating_balance_c is not None:
            total += heating_degree_days(temperature, self.heating_balance_c)
        if self.cooling_balance_c is not None:
            total += cooling_degree_days(temperature, self.cooling_balance_c)
        return total

    @property
    def heating_slope(self) -> float | None:
        if self.heating_balance_c is None:
            return None
        return float(self.results.params[-2 if self.cooling_balance_c is not None else -1])

    @property
    def cooling_slope(self) -> float | None:
        return None if self.cooling_balance_c is None else float(self.results.params[-1])


def _qualifies(results: Any, terms: int) -> bool:
    """Every degree-day slope (the last ``terms`` coefficients) positive and significant."""
    slopes = results.params[-terms:]
    return bool(np.all(slopes > 0) and np.all(results.pvalues[-terms:] < MAX_P_VALUE))


def fit_daily_model(
    dates: pd.DatetimeIndex,
    quantity: np.ndarray,
    temperature: np.ndarray | None,
    blocks: np.ndarray | None = None,
) -> DailyModel | None:
    """The best daily model of ``quantity`` on ``dates`` (complete days only), or None when
    there are fewer than :data:`MIN_TRAINING_DAYS` days. ``temperature`` may hold NaN.

    ``blocks`` (an integer per date, 0 for the latest block; default all 0) give each earlier
    block an intercept of its own. A home whose use drifts (a new appliance, an extra occupant)
    otherwise has its drift taken for weather: usage that grew from winter to autumn reads as a
    heating slope too small. With blocks, the slopes are learnt from the weather's swings
    within each block, and the intercept is the latest block's: the home's level now."""
    quantity = np.asarray(quantity, dtype=float)
    blocks = np.zeros(len(quantity), dtype=int) if blocks is None else np.asarray(blocks)
    usable = np.isfinite(quantity)
    if usable.sum() < MIN_TRAINING_DAYS:
        return None
    temps = None if temperature is None else np.asarray(temperature, dtype=float)
    weather = temps is not None and np.isfinite(temps[usable]).mean() >= WEATHER_SUFFICIENCY
    if weather:
        usable &= np.isfinite(temps)
    training = dates[usable]
    earlier = np.unique(blocks[usable][blocks[usable] > 0])
    calendar = np.column_stack(
        [_calendar_columns(training), _block_columns(blocks[usable], earlier)]
    )
    y = quantity[usable]
    if not weather:
        results = sm.OLS(y, calendar).fit()
        return DailyModel(CALENDAR, None, None, results, training, len(earlier))

    t = temps[usable]
    candidates: list[tuple[float, DailyModel]] = []

    def consider(kind: str, heating: float | None, cooling: float | None) -> None:
        degree_days = []
        if heating is not None:
            degree_days.append(heating_degree_days(t, heating))
        if cooling is not None:
            degree_days.append(cooling_degree_days(t, cooling))
        if any(np.count_nonzero(values) < MIN_DEGREE_DAY_DAYS for values in degree_days):
            return  # the term would be (nearly) all zeros: nothing to estimate its slope from
        results = sm.OLS(y, np.column_stack([calendar, *degree_days])).fit()
        if kind == INTERCEPT or _qualifies(results, len(degree_days)):
            model = DailyModel(kind, heating, cooling, results, training, len(earlier))
            candidates.append((float(results.rsquared_adj), model))

    for form in candidate_forms():
        consider(*form)
    # The intercept-only form has no slope to disqualify it, so there is always a candidate;
    # ties keep the simpler form (listed first).
    return max(candidates, key=lambda candidate: candidate[0])[1]
