"""Degree days and temperature normals: what the daily models take from the weather."""

from __future__ import annotations

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


def temperature_normals(history: pd.Series, dates: pd.DatetimeIndex) -> pd.Series:
    """Expected daily mean temperature on ``dates`` given the region's ``history`` (°C by date).

    Forecasts need the weather of days that have not happened yet. With most of a year of
    history, a harmonic regression on the day of year (statsmodels OLS) gives the seasonal
    normal; with less, the mean of the last fortnight is the best guess (weather persists).
    With no history at all the result is NaN, and the caller falls back to a calendar model.
    """
    known = history.dropna()
    if len(known) >= NORMALS_MIN_DAYS:
        fit = sm.OLS(known.to_numpy(dtype=float), _harmonics(known.index)).fit()
        return pd.Series(fit.predict(_harmonics(dates)), index=dates)
    if len(known):
        return pd.Series(float(known.iloc[-PERSISTENCE_DAYS:].mean()), index=dates)
    return pd.Series(np.nan, index=dates)
