"""The read-period model of a billing-read meter (contract 10.2): CalTRACK's billing-period
method. Each read period's usage per day is regressed on its heating and cooling degree days
per day, ``usage/day = β0 + βh·HDD/day(b_h) + βc·CDD/day(b_c)``, by least squares weighted by
the period's days (a longer read averages more days, so its usage per day scatters less).

The four forms and the balance-point grid search are the daily model's
(:mod:`insights.analytics.daily_model`): a degree-day term stays only with a positive,
significant slope, and the best adjusted R² wins. There are no weekday terms (a read period
holds every weekday). Without the premise's weather the model is the mean usage per day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import statsmodels.api as sm
from scipy import stats

from insights.analytics.daily_model import (
    CALENDAR,
    INTERCEPT,
    MAX_P_VALUE,
    WEATHER_SUFFICIENCY,
    candidate_forms,
)
from insights.analytics.forecast import INTERVAL_COVERAGE, Total
from insights.analytics.weather import (
    cooling_degree_days,
    heating_degree_days,
)

#: Fewer read periods than this (half a year of monthly reads) and no model is fitted.
MIN_READ_PERIODS = 6
#: A degree-day term needs degree days in at least this many read periods.
MIN_DEGREE_DAY_PERIODS = 3


@dataclass(frozen=True)
class ReadPeriodModel:
    """A fitted read-period model; ``results`` is the statsmodels WLS results object."""

    kind: str
    heating_balance_c: float | None
    cooling_balance_c: float | None
    results: Any
    net: bool = False
    """Models a bidirectional meter's net usage, which may be below zero."""

    @property
    def uses_weather(self) -> bool:
        return self.heating_balance_c is not None or self.cooling_balance_c is not None

    def row(self, temperature: np.ndarray | None) -> np.ndarray:
        """The regressors of a span of days with these daily temperatures (°C; needed by the
        weather forms): 1 and its degree days per day."""
        terms = [1.0]
        if self.uses_weather:
            temperature = np.asarray(temperature, dtype=float)
            if self.heating_balance_c is not None:
                terms.append(float(heating_degree_days(temperature, self.heating_balance_c).mean()))
            if self.cooling_balance_c is not None:
                terms.append(float(cooling_degree_days(temperature, self.cooling_balance_c).mean()))
        return np.array(terms)

    def floor(self, usage: float) -> float:
        return usage if self.net else max(0.0, usage)

    def per_day(self, temperature: np.ndarray | None) -> float:
        """Expected usage per day over a span of days with these temperatures."""
        return self.floor(float(self.row(temperature) @ np.asarray(self.results.params)))

    def total(
        self, temperature: np.ndarray | None, days: int, coverage: float = INTERVAL_COVERAGE
    ) -> Total:
        """Expected usage of a read period of ``days`` days with these temperatures, and its
        ``coverage`` prediction interval: ``days`` x (the mean's variance + the variance of
        one period's usage per day, σ² / days), by Student's t."""
        x = self.row(temperature)
        point = days * self.per_day(temperature)
        variance = float(x @ self.results.cov_params() @ x) + self.results.scale / days
        half = days * float(stats.t(self.results.df_resid).ppf(0.5 + coverage / 2)) * variance**0.5
        return Total(point, self.floor(point - half), point + half)


def _qualifies(results: Any, terms: int) -> bool:
    slopes = results.params[-terms:]
    return bool(np.all(slopes > 0) and np.all(results.pvalues[-terms:] < MAX_P_VALUE))


def fit_read_period_model(
    quantity: np.ndarray, days: np.ndarray, temperatures: Sequence[np.ndarray]
) -> ReadPeriodModel | None:
    """The best model of read periods with these quantities, lengths (days) and daily
    temperatures (one array per period, NaN where unknown); None with fewer than
    :data:`MIN_READ_PERIODS` periods. A period is used by the weather forms when
    :data:`~insights.analytics.daily_model.WEATHER_SUFFICIENCY` of its days have a
    temperature; with fewer such periods than the minimum the model has no weather."""
    quantity, days = np.asarray(quantity, dtype=float), np.asarray(days, dtype=float)
    if len(quantity) < MIN_READ_PERIODS:
        return None
    per_day = quantity / days
    known = np.array(
        [np.isfinite(t).mean() >= WEATHER_SUFFICIENCY if len(t) else False for t in temperatures]
    )
    if known.sum() < MIN_READ_PERIODS:
        results = sm.WLS(per_day, np.ones((len(per_day), 1)), weights=days).fit()
        return ReadPeriodModel(CALENDAR, None, None, results)
    y, w = per_day[known], days[known]
    temps = [
        np.asarray(t, dtype=float)[np.isfinite(t)]
        for t, k in zip(temperatures, known, strict=True)
        if k
    ]
    candidates: list[tuple[float, ReadPeriodModel]] = []

    def consider(kind: str, heating: float | None, cooling: float | None) -> None:
        columns = []
        if heating is not None:
            columns.append(np.array([heating_degree_days(t, heating).mean() for t in temps]))
        if cooling is not None:
            columns.append(np.array([cooling_degree_days(t, cooling).mean() for t in temps]))
        if any(np.count_nonzero(c) < MIN_DEGREE_DAY_PERIODS for c in columns):
            return
        results = sm.WLS(y, np.column_stack([np.ones(len(y)), *columns]), weights=w).fit()
        if kind == INTERCEPT or _qualifies(results, len(columns)):
            candidates.append(
                (float(results.rsquared_adj), ReadPeriodModel(kind, heating, cooling, results))
            )

    for form in candidate_forms():
        consider(*form)
    # Intercept-only always qualifies; ties keep the simpler form (listed first). Usage per
    # day that never varies has no R² (NaN): it ranks last, so intercept-only wins.
    return max(candidates, key=lambda c: c[0] if np.isfinite(c[0]) else -np.inf)[1]
