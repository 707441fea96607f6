"""Unusual usage: days far above what the model expected, or with a run of hours far above
the home's own hourly profile.

Residuals (actual - expected) are scored with a robust z-score, (r - median) / (1.4826·MAD)
(Iglewicz & Hoaglin's modified z), not a z-score on usage itself: usage is seasonal and
skewed, residuals much less so, and the median and MAD ignore the very outliers sought.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Robust z above which a day is unusual. Iglewicz & Hoaglin suggest 3.5; household usage has
#: a heavy right tail (a day of laundry, baking and guests), and on the synthetic homes 3.5
#: flags about as many ordinary days as real anomalies (precision ~0.6, recall ~0.9), 4.5
#: trades a little recall for far fewer false alarms (~0.8 / ~0.7). Alerts must be trusted.
DAY_THRESHOLD = 4.5
#: Days either side whose residuals set a day's robust centre and scale: winter residuals
#: of a heat-pump home are wider than summer ones, so the scale follows the season.
LOCAL_SCALE_HALF_WINDOW = 30
#: ...and a day must also exceed its expectation by this share (no alerts over trifles).
MIN_EXCESS_SHARE = 0.15


#: The MAD's factor to estimate a normal law's standard deviation: 1 / Φ⁻¹(3/4).
_MAD_TO_SD = 1.482602218505602


def _mad(values: np.ndarray) -> float:
    """The MAD of ``values`` (NaN left out), scaled as a standard deviation — scipy's
    ``median_abs_deviation(scale="normal", nan_policy="omit")``, in plain numpy: called for
    every day of every scan, scipy's argument handling was most of the nightly run's time
    (benchmarks/README.md, "Nightly insights")."""
    return float(_MAD_TO_SD * np.nanmedian(np.abs(values - np.nanmedian(values))))


def robust_z(residuals: pd.Series, half_window: int = LOCAL_SCALE_HALF_WINDOW) -> pd.Series:
    """Modified z-score of each residual against the residuals within ``half_window`` days."""
    window = 2 * half_window + 1
    rolling = residuals.rolling(window, center=True, min_periods=min(window, 15))
    centre = rolling.median()
    scale = rolling.apply(_mad, raw=True)
    scale = scale.where(scale > 0)
    return (residuals - centre) / scale


def daily_scores(actual: pd.Series, expected: pd.Series) -> pd.DataFrame:
    """Each day's ``actual``, ``expected``, robust ``z`` and whether it is ``anomalous``: far
    above expectation (z over :data:`DAY_THRESHOLD`) and by a share worth telling. Both Series
    share a date index; days to ignore, such as incomplete ones, are NaN in ``actual``."""
    residuals = actual - expected
    z = robust_z(residuals)
    anomalous = (z > DAY_THRESHOLD) & (residuals > MIN_EXCESS_SHARE * expected)
    return pd.DataFrame(
        {"actual": actual, "expected": expected, "z": z, "anomalous": anomalous.fillna(False)}
    )


#: Days of hours whose median profile an hour is expected from.
PROFILE_DAYS = 28
#: Longest run of hours scored together (an afternoon and evening).
MAX_WINDOW_HOURS = 16
#: A run must be at least this long: a single hour is an appliance run, not an anomaly.
MIN_WINDOW_HOURS = 2
#: An hour's standardised excess counts at most this much towards its run, so a dryer's hour
#: cannot make a run unusual on its own.
HOUR_Z_CAP = 3.0
#: A run of hours whose score (Σ capped z / √hours) exceeds this makes its day unusual ...
#: (this and the share below: the best F1 on a tuning set of synthetic homes, seed 11). With
#: the cap, a run needs six unusual hours to be flagged on its own (3·√6 = 7.3); a shorter one
#: is found only when it makes the day's total unusual.
WINDOW_THRESHOLD = 7.0
#: ... provided it added at least this share of the day's expectation.
MIN_WINDOW_EXCESS_SHARE = 0.3


def _best_window(z: np.ndarray, excess: np.ndarray) -> tuple[float, int, int, float]:
    """The run of consecutive hours with the highest Σz/√n: (score, first, length, excess)."""
    best = (-np.inf, 0, 0, 0.0)
    cz = np.concatenate([[0.0], np.cumsum(z)])
    ce = np.concatenate([[0.0], np.cumsum(excess)])
    for length in range(MIN_WINDOW_HOURS, min(MAX_WINDOW_HOURS, len(z)) + 1):
        sums = (cz[length:] - cz[:-length]) / np.sqrt(length)
        start = int(np.argmax(sums))
        if sums[start] > best[0]:
            best = (float(sums[start]), start, length, float(ce[start + length] - ce[start]))
    return best


def window_scores(hours: pd.DataFrame, scan_from: pd.Timestamp) -> pd.DataFrame:
    """Each day from ``scan_from``'s most unusual run of hours, against the home's own hourly
    profile.

    ``hours`` has one row per complete local hour: ``date``, ``hour``, ``quantity`` and
    ``day_expected`` (the daily model's expectation for the date, at the home's current
    level). An hour is expected at its day's expectation times its typical share of a day (the
    median over the last :data:`PROFILE_DAYS` days and the scanned ones, weekdays and weekends
    apart); its scale is the MAD of those days' residuals at that hour (at least 10 % of the
    expectation). The standardised excess, capped at :data:`HOUR_Z_CAP`, is summed over runs
    of 2-16 hours, over √length (a scan statistic). Returns, by date: ``window_z``,
    ``window_start`` (local hour), ``window_hours`` and ``window_excess``.
    """
    frame = hours.assign(weekend=hours["date"].dt.day_of_week >= 5)
    frame = frame[frame["date"] >= scan_from - pd.Timedelta(days=PROFILE_DAYS)]
    frame = frame[frame["day_expected"] > 0]
    columns = ["window_z", "window_start", "window_hours", "window_excess"]
    if frame.empty:
        return pd.DataFrame(columns=columns, dtype=float)
    keys = [frame["weekend"], frame["hour"]]
    share = (frame["quantity"] / frame["day_expected"]).groupby(keys).transform("median")
    expected = frame["day_expected"] * share
    scale = (frame["quantity"] - expected).groupby(keys).transform(_mad)
    spread = np.maximum(scale.fillna(0.0), 0.1 * expected)
    excess = frame["quantity"] - expected
    frame = frame.assign(excess=excess, z=(excess / spread).clip(upper=HOUR_Z_CAP))
    rows = {}
    for day, group in frame[frame["date"] >= scan_from].groupby("date"):
        group = group.sort_values("hour")
        score, start, length, excess = _best_window(
            group["z"].to_numpy(), group["excess"].to_numpy()
        )
        rows[day] = (score, int(group["hour"].iloc[start]), length, excess)
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)
