"""Totals over many days with a prediction interval, and why one period differs from another."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.tsa.stattools import acf

from insights.analytics.daily_model import DailyModel

#: Central share of outcomes the forecast range covers.
INTERVAL_COVERAGE = 0.8
_MAX_RHO = 0.95


@dataclass(frozen=True)
class Noise:
    """Day-to-day scatter of usage around the model: its spread and lag-1 autocorrelation.

    Usage errors persist (a cold spell, a guest staying a week), so the error of a sum of days
    grows faster than √n; an AR(1) with the residuals' own lag-1 autocorrelation captures that.
    """

    sd: float
    rho: float

    @classmethod
    def of(cls, residuals: np.ndarray) -> Noise:
        residuals = np.asarray(residuals, dtype=float)
        residuals = residuals[np.isfinite(residuals)]
        if len(residuals) < 3:
            return cls(float(np.std(residuals)) if len(residuals) else 0.0, 0.0)
        rho = float(acf(residuals, nlags=1, fft=False)[1])
        return cls(float(np.std(residuals, ddof=1)), float(np.clip(rho, 0.0, _MAX_RHO)))

    def variance_of_sum(self, days: int) -> float:
        """Var(Σ e) over ``days`` consecutive AR(1) errors: σ²(n + 2 Σₖ (n - k) ρᵏ)."""
        if days <= 0:
            return 0.0
        lags = np.arange(1, days)
        return self.sd**2 * (days + 2 * float(np.sum((days - lags) * self.rho**lags)))


@dataclass(frozen=True)
class Total:
    point: float
    low: float
    high: float


def forecast_total(
    model: DailyModel,
    dates: pd.DatetimeIndex,
    temperature: np.ndarray | None,
    noise: Noise,
    coverage: float = INTERVAL_COVERAGE,
) -> Total:
    """Expected usage summed over ``dates`` and its ``coverage`` prediction interval.

    Var = aᵀ Cov(β) a (the coefficients' uncertainty, a = Σ design rows) + the AR(1) noise of
    the sum; the quantile is Student's t with the fit's residual degrees of freedom.
    """
    if len(dates) == 0:
        return Total(0.0, 0.0, 0.0)
    design = model.design(dates, temperature)
    a = design.sum(axis=0)
    point = float(np.maximum(0.0, model.results.predict(design)).sum())
    variance = float(a @ model.results.cov_params() @ a) + noise.variance_of_sum(len(dates))
    half = float(stats.t.ppf(0.5 + coverage / 2, model.results.df_resid)) * np.sqrt(variance)
    return Total(point, max(0.0, point - half), point + half)


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
