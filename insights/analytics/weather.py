"""Degree days, temperature normals and weather scenarios: what the daily models take from
the weather."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm

#: Heating balance points tried by the change-point grid search (°C, CalTRACK-style 1° steps).
HEATING_BALANCE_GRID_C: tuple[float, ...] = tuple(float(b) for b in range(10, 21))
#: Cooling balance points tried (°C).
COOLING_BALANCE_GRID_C: tuple[float, ...] = tuple(float(b) for b in range(18, 29))
#: History needed before normals follow the seasonal cycle rather than the last fortnight.
NORMALS_MIN_DAYS = 300
#: Days averaged when there is too little history for a seasonal fit.
PERSISTENCE_DAYS = 14
#: Newey-West lags for the normals' standard error: anomalies persist for a week or two, so
#: the days of a year are far fewer independent observations than 365.
NORMALS_HAC_LAGS = 14
#: Fewest weather scenarios a forecast's range is drawn from ...
MIN_SCENARIOS = 30
#: ... and most (a long history's windows are thinned evenly).
MAX_SCENARIOS = 1000
#: The seasonal variance of anomalies is never taken below this share of its mean.
_VARIANCE_FLOOR = 0.1
_YEAR_DAYS = 365.25


def heating_degree_days(temperature: np.ndarray, balance_c: float) -> np.ndarray:
    """HDD = max(0, b - T) per day."""
    return np.maximum(0.0, balance_c - np.asarray(temperature, dtype=float))


def cooling_degree_days(temperature: np.ndarray, balance_c: float) -> np.ndarray:
    """CDD = max(0, T - b) per day."""
    return np.maximum(0.0, np.asarray(temperature, dtype=float) - balance_c)


def _harmonics(dates: pd.DatetimeIndex) -> np.ndarray:
    """Annual and half-year cycles: winters are longer and flatter than a pure sinusoid."""
    angle = 2 * np.pi * (dates.to_julian_date().to_numpy() / _YEAR_DAYS)
    return np.column_stack(
        [np.ones(len(dates)), np.cos(angle), np.sin(angle), np.cos(2 * angle), np.sin(2 * angle)]
    )


def _normals_fit(known: pd.Series):
    """The harmonic regression of the normals; its covariance is Newey-West (HAC), as the
    residuals (the weather's anomalies) are autocorrelated. HAC changes no coefficient."""
    return sm.OLS(known.to_numpy(dtype=float), _harmonics(known.index)).fit(
        cov_type="HAC", cov_kwds={"maxlags": NORMALS_HAC_LAGS}
    )


def temperature_normals(history: pd.Series, dates: pd.DatetimeIndex) -> pd.Series:
    """Expected daily mean temperature on ``dates`` given the region's ``history`` (°C by date).

    Forecasts need the weather of days that have not happened yet. With most of a year of
    history, a harmonic regression on the day of year (statsmodels OLS) gives the seasonal
    normal; with less, the mean of the last fortnight is the best guess (weather persists).
    With no history at all the result is NaN, and the caller falls back to a calendar model.
    """
    known = history.dropna()
    if len(known) >= NORMALS_MIN_DAYS:
        fit = _normals_fit(known)
        return pd.Series(fit.predict(_harmonics(dates)), index=dates)
    if len(known):
        return pd.Series(float(known.iloc[-PERSISTENCE_DAYS:].mean()), index=dates)
    return pd.Series(np.nan, index=dates)


@dataclass(frozen=True)
class WeatherScenarios:
    """Temperatures a run of days may see, for a forecast's expectation and range.

    ``temperatures`` (scenarios x days, °C): days whose weather is known (observed, or an
    imported forecast) as they are, the others their normal plus a run of anomalies the
    region has actually had. ``normal_sd`` (°C per day, 0 where known): the standard error of
    the normal itself, an error shared by every day of the run. ``expected`` (°C per day):
    the known weather, else the normal — what the point forecast is made with.
    """

    temperatures: np.ndarray
    normal_sd: np.ndarray
    expected: np.ndarray


def _anomaly_spread(
    dates: pd.DatetimeIndex, anomalies: np.ndarray
) -> Callable[[pd.DatetimeIndex], np.ndarray]:
    """The seasonal standard deviation of the anomalies, as a function of the date: a
    regression of their squares on the annual cycle (winter weather swings more), floored."""
    known = np.isfinite(anomalies)
    squares = anomalies[known] ** 2
    fit = sm.OLS(squares, _harmonics(dates[known])[:, :3]).fit()
    floor = _VARIANCE_FLOOR * float(squares.mean())

    def spread(on: pd.DatetimeIndex) -> np.ndarray:
        return np.sqrt(np.maximum(fit.predict(_harmonics(on)[:, :3]), floor))

    return spread


def temperature_scenarios(
    history: pd.Series, dates: pd.DatetimeIndex, max_scenarios: int = MAX_SCENARIOS
) -> WeatherScenarios | None:
    """What the weather of ``dates`` may turn out to be, given the region's ``history``.

    Each scenario is the seasonal normal plus a run of ``len(dates)`` consecutive anomalies
    (actual - normal) from the history, rescaled from the season it happened in to the season
    of ``dates``: real runs keep the weather's persistence (a cold spell lasts days, so the
    anomalies of a period do not average out as independent days would), the rescaling its
    seasonal spread. Dates whose weather the history holds (forecasts imported ahead) keep it.
    None when the history is too short for seasonal normals or holds too few complete runs.
    """
    known = history.dropna()
    if len(known) < NORMALS_MIN_DAYS or len(dates) == 0:
        return None
    fit = _normals_fit(known)
    span = pd.date_range(known.index[0], known.index[-1], freq="D")
    if len(span) < len(dates):
        return None
    anomalies = known.reindex(span).to_numpy(dtype=float) - fit.predict(_harmonics(span))
    spread = _anomaly_spread(span, anomalies)
    runs = np.lib.stride_tricks.sliding_window_view(anomalies / spread(span), len(dates))
    runs = runs[np.isfinite(runs).all(axis=1)]
    if len(runs) < MIN_SCENARIOS:
        return None
    if len(runs) > max_scenarios:
        runs = runs[np.linspace(0, len(runs) - 1, max_scenarios).round().astype(int)]
    observed = history.reindex(dates).to_numpy(dtype=float)
    unknown = np.isnan(observed)
    design = _harmonics(dates)
    normals = fit.predict(design)
    temperatures = np.where(unknown, normals + spread(dates) * runs, observed)
    normal_sd = np.sqrt(np.einsum("ij,jk,ik->i", design, fit.cov_params(), design))
    return WeatherScenarios(
        temperatures, np.where(unknown, normal_sd, 0.0), np.where(unknown, normals, observed)
    )
