"""Totals over many days with a prediction interval, and why one period differs from another."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.tsa.stattools import acf

from insights.analytics.daily_model import DailyModel
from insights.analytics.weather import WeatherScenarios

#: Central share of outcomes the forecast range covers.
INTERVAL_COVERAGE = 0.8
_MAX_RHO = 0.95


@dataclass(frozen=True)
class Noise:
    """Day-to-day scatter of usage around the model: its spread and lag-1 autocorrelation.

    Usage errors may persist (a guest staying a week, a habit changing), so the error of a sum
    of days can grow faster than √n; an AR(1) with the residuals' own lag-1 autocorrelation
    captures that (negative autocorrelation is taken as none).
    """

    sd: float
    rho: float
    level_sd: float = 0.0
    """The error of the level the days are forecast at, shared by every day of a sum."""

    @classmethod
    def of(cls, residuals: np.ndarray, smoothing: float = 0.0) -> Noise:
        """The noise of ``residuals``; with ``smoothing``, they are the one-step errors of a
        level smoothed so (:func:`insights.analytics.bill.recent_level`), whose own error
        has variance ``smoothing / (2 - smoothing) · σ²``."""
        residuals = np.asarray(residuals, dtype=float)
        residuals = residuals[np.isfinite(residuals)]
        if len(residuals) < 3:
            return cls(float(np.std(residuals)) if len(residuals) else 0.0, 0.0)
        rho = float(acf(residuals, nlags=1, fft=False)[1])
        sd = float(np.std(residuals, ddof=1))
        return cls(
            sd, float(np.clip(rho, 0.0, _MAX_RHO)), sd * np.sqrt(smoothing / (2 - smoothing))
        )

    def variance_of_sum(self, days: int) -> float:
        """Var(Σ e) over ``days`` consecutive AR(1) errors, σ²(n + 2 Σₖ (n - k) ρᵏ), plus the
        level's error on each of them, (n · level_sd)²."""
        if days <= 0:
            return 0.0
        lags = np.arange(1, days)
        ar1 = self.sd**2 * (days + 2 * float(np.sum((days - lags) * self.rho**lags)))
        return ar1 + (days * self.level_sd) ** 2


@dataclass(frozen=True)
class Total:
    point: float
    low: float
    high: float


def _usage(model: DailyModel, design: np.ndarray) -> np.ndarray:
    """Expected usage of each row of ``design`` (never below zero, but for net usage)."""
    return model.floor(design @ np.asarray(model.results.params, dtype=float) + model.level)


def _mixture_quantile(centres: np.ndarray, scale: float, t: Any, share: float) -> float:
    """The ``share`` quantile of an equal mixture of Student-t laws ``centres + scale·T``."""

    def below(x: float) -> float:
        return float(np.mean(t.cdf((x - centres) / scale))) - share

    reach = float(t.ppf(1 - 1e-6)) * scale
    return float(optimize.brentq(below, centres.min() - reach, centres.max() + reach))


def forecast_total(
    model: DailyModel,
    dates: pd.DatetimeIndex,
    temperature: np.ndarray | None,
    noise: Noise,
    coverage: float = INTERVAL_COVERAGE,
    scenarios: WeatherScenarios | None = None,
) -> Total:
    """Usage summed over ``dates``: the point and its ``coverage`` prediction interval.

    Known weather: the point is the model's usage under ``temperature`` (None for a calendar
    model); Var = aᵀ Cov(β) a (the coefficients' uncertainty, a = Σ design rows) + the AR(1)
    noise of the sum; the range is ± Student's t quantile (the fit's residual degrees of
    freedom) · √Var.

    Weather not known yet: the outcome is a mixture over the weather ``scenarios`` — in each,
    the model's sum under that scenario's weather, with the same t-distributed error, whose
    variance also holds the normals' own error (the change of the sum when every unknown day
    is one standard error warmer or colder, squared). The point is the mixture's median and
    the range its central ``coverage`` interval: wider in a season whose weather swings more
    and whose degree days it moves, and lopsided where the weather can only add degree days
    (around a balance point). As degree days are convex in the temperature, the middle outcome
    lies above the model's usage under normal weather wherever the days to come straddle a
    balance point: a warm spell adds cooling that a cool one of the same size does not take
    away.
    """
    if len(dates) == 0:
        return Total(0.0, 0.0, 0.0)
    design = model.design(dates, temperature if scenarios is None else scenarios.expected)
    a = design.sum(axis=0)
    variance = float(a @ model.results.cov_params() @ a) + noise.variance_of_sum(len(dates))
    t = stats.t(model.results.df_resid)
    tail = (1 - coverage) / 2
    if scenarios is None:
        point = float(_usage(model, design).sum())
        half = float(t.ppf(1 - tail)) * np.sqrt(variance)
        return Total(point, float(model.floor(point - half)), point + half)

    def sums(temperatures: np.ndarray) -> np.ndarray:
        return _usage(model, model.design(dates, temperatures)).sum(axis=-1)

    centres = sums(scenarios.temperatures)
    warmer = float(sums(scenarios.temperatures + scenarios.normal_sd).mean())
    colder = float(sums(scenarios.temperatures - scenarios.normal_sd).mean())
    variance += ((warmer - colder) / 2) ** 2
    scale = max(float(np.sqrt(variance)), 1e-9 * max(1.0, float(np.abs(centres).max())))
    low, point, high = (_mixture_quantile(centres, scale, t, q) for q in (tail, 0.5, 1 - tail))
    return Total(float(model.floor(point)), float(model.floor(low)), high)


#: The drivers a bill change is put down to (contract section 7, HIGH_BILL_ALERT).
WEATHER = "WEATHER"
MORE_DAYS = "MORE_DAYS"
USAGE = "USAGE"


def change_components(
    *,
    current_quantity: float,
    current_days: int,
    previous_quantity: float,
    previous_days: int,
    current_expected_daily: float,
    previous_expected_daily: float,
) -> dict[str, float]:
    """Splits ``current - previous`` usage into three parts that add up to it exactly.

    * MORE_DAYS: the extra days at the previous period's daily rate;
    * WEATHER: the change in the model's expected daily usage (its weather and weekday mix)
      over the current period's days;
    * USAGE: what is left — the household using more than the weather explains.
    """
    previous_daily = previous_quantity / previous_days
    more_days = (current_days - previous_days) * previous_daily
    weather = current_days * (current_expected_daily - previous_expected_daily)
    usage = current_quantity - previous_quantity - more_days - weather
    return {WEATHER: weather, MORE_DAYS: more_days, USAGE: usage}


def main_driver(components: dict[str, float]) -> str:
    """The component that added the most (ties: weather, then days, then usage)."""
    return max(components, key=lambda name: components[name])
