"""Unusual usage: days far above what the model expected, or with a run of intervals far above
the same intervals of the home's own days like it.

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


#: Days before the scanned ones whose intervals, with the scanned days', are the references:
#: eight weeks, so a day of unusual weather (the first cold days of autumn) still finds days
#: of like expected totals among them.
PROFILE_DAYS = 56
#: A day whose total is under this share of its expectation is no reference either (a day
#: away: only the always-on power and the heating or cooling), however wide the scatter of
#: the home's days makes its robust z.
AWAY_SHARE = 0.6
#: An interval is expected from the same interval of this many other days of the same kind
#: (weekday or weekend) whose expected totals are nearest its day's: days of like weather and
#: level, so a cold day's heat pump cycles are compared with other cold days', not the month's.
REFERENCE_DAYS = 8
#: Fewer days with their intervals read than this and runs are not scored.
MIN_SCORED_DAYS = 14
#: A day needs this share of its intervals measured to be scored or be a reference.
MIN_INTERVAL_SHARE = 0.9
#: Lengths of the runs scored, in hours: an extra load "for several hours".
RUN_HOURS = range(2, 13)
#: An interval's standardised excess counts at most this much (either way), so one kettle's or
#: compressor's burst cannot make a run; a constant extra load lifts every interval of its run.
INTERVAL_Z_CAP = 3.0
#: An interval's spread is the MAD of the reference days' deviations from their median over
#: the intervals within this many minutes either side (eight days' deviations of one interval
#: alone are too few for a stable scale).
SPREAD_HALF_WINDOW_MINUTES = 30
#: Least spread of an interval, as a share of the day's expected mean interval (a home whose
#: reference days read the same to the Wh would otherwise have a spread of zero).
MIN_SPREAD_SHARE = 0.05
#: A day's best run, standardised against every scored day's best run of the same length,
#: above this is unusual ... (this, the share below and the saturation rule: the best F1 on
#: a tuning set of synthetic homes, seeds 11, 2 and 3; docs/insights.md)
RUN_THRESHOLD = 4.5
#: ... and so is a run of at least this many intervals whose intervals are at least this high
#: on average (capped at :data:`INTERVAL_Z_CAP`, so a run of n intervals scores at most
#: 3·√n: a four-hour load of 15-minute intervals far above every interval's spread scores 12
#: against every day's best of about 3 ± 2.5, under the threshold however large it is; a
#: kettle's bursts or a busy evening do not lift nearly every one of 16 intervals; 16 hourly
#: intervals are longer than any run scored, so an hourly meter has no saturated run: four
#: hours at the cap are far weaker evidence there, and on the demo's gas meters they were
#: mostly false alarms) ...
SATURATED_INTERVALS = 16
SATURATED_MEAN_Z = 2.6
#: ... provided it also stands this far out of every day's best run of its length.
SATURATED_RUN_Z = 2.5
#: ... provided it added at least this share of the day's expectation.
MIN_RUN_EXCESS_SHARE = 0.2
#: A constant extra load (a heater left on) lifts the home's floor: every interval of its hours
#: reads at least the load, where an ordinary busy evening is a scatter of appliance bursts
#: over a floor that stays put. So runs are scored a second time on each interval's floor, the
#: least of the intervals of the hour around it (a meter read hourly has nothing to take a
#: floor over), and a day is "lifted" when a run of at least :data:`SATURATED_INTERVALS`
#: floor intervals averages :data:`LIFTED_MEAN_Z` (nearly every one of them at the cap: its
#: floor above its reference days' by three spreads) and stands :data:`SATURATED_RUN_Z` out of
#: every day's best floor run of its length. A 1 kW heater in a busy evening, under the
#: threshold on the intervals themselves, is lifted (recall on the tuning seeds 11, 2 and 3:
#: 0.86-0.89 -> 0.89-0.91 at a precision of 0.94; docs/insights.md).
LIFTED_MEAN_Z = 2.99


def ordinary_days(scores: pd.DataFrame) -> pd.Series:
    """Whether each day of :func:`daily_scores` may stand for the home's ordinary days: not
    far below its expectation, by robust z or by share (a day away, whose intervals say
    nothing of a day at home)."""
    return (scores["z"] > -DAY_THRESHOLD) & (scores["actual"] >= AWAY_SHARE * scores["expected"])


def _pooled_spread(deviation: np.ndarray, half_window: int) -> np.ndarray:
    """Per interval (column), the median of ``deviation`` (days x intervals) over the days and
    the ``half_window`` intervals either side, scaled as a standard deviation."""
    padded = np.pad(deviation, ((0, 0), (half_window, half_window)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half_window + 1, axis=1)
    pooled = windows.transpose(1, 0, 2).reshape(deviation.shape[1], -1)
    return _MAD_TO_SD * np.nanmedian(pooled, axis=1)


def _hourly_floor(grid: np.ndarray, per_hour: int) -> np.ndarray:
    """Each interval of ``grid`` (days x intervals) at the least of the ``per_hour`` intervals
    of the hour around it (NaN left out; NaN where all are)."""
    before = (per_hour - 1) // 2
    padded = np.pad(grid, ((0, 0), (before, per_hour - 1 - before)), constant_values=np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, per_hour, axis=1)
    floor = np.fmin.reduce(np.where(np.isnan(windows), np.inf, windows), axis=2)
    return np.where(np.isfinite(floor), floor, np.nan)


def _deviations(
    grid: np.ndarray,
    totals: np.ndarray,
    weekend: np.ndarray,
    ordinary: np.ndarray,
    scored: np.ndarray,
    half_window: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Each scored day's excess over its reference days (days x intervals) and its spread:
    see :func:`run_scores`."""
    slots = grid.shape[1]
    excess = np.full_like(grid, np.nan)
    spread = np.full_like(grid, np.nan)
    candidates = np.flatnonzero(ordinary)
    for day in np.flatnonzero(scored):
        others = candidates[(candidates != day) & (weekend[candidates] == weekend[day])]
        nearest = others[np.argsort(np.abs(totals[others] - totals[day]), kind="stable")]
        reference = grid[nearest[:REFERENCE_DAYS]]
        if len(reference) < 2:
            continue
        typical = np.nanmedian(reference, axis=0)
        excess[day] = grid[day] - typical
        spread[day] = np.maximum(
            _pooled_spread(np.abs(reference - typical), half_window),
            MIN_SPREAD_SHARE * totals[day] / slots,
        )
    return excess, spread


def _standardised_runs(
    excess: np.ndarray, spread: np.ndarray, lengths: list[int], ordinary: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best run of each length of each day (:func:`_runs` of the capped z of ``excess``
    over ``spread``), its first interval, and it standardised against the ``ordinary`` days'
    best runs of that length."""
    z = np.nan_to_num(np.clip(excess / spread, -INTERVAL_Z_CAP, INTERVAL_Z_CAP))
    best, first = _runs(z, lengths)
    centre = np.median(best[ordinary], axis=0)
    scale = _MAD_TO_SD * np.median(np.abs(best[ordinary] - centre), axis=0)
    return best, first, (best - centre) / np.where(scale > 0, scale, np.inf)


def _saturated(
    best: np.ndarray, standardised: np.ndarray, lengths: list[int], mean_z: float
) -> np.ndarray:
    """Whether a day's best run of :data:`SATURATED_INTERVALS` or more averages ``mean_z`` per
    interval and stands :data:`SATURATED_RUN_Z` out (by day)."""
    sizes = np.asarray(lengths)
    long = sizes >= SATURATED_INTERVALS
    return (
        (best[:, long] / np.sqrt(sizes[long]) >= mean_z) & (standardised[:, long] > SATURATED_RUN_Z)
    ).any(axis=1)


def _runs(z: np.ndarray, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The best run of each length in each row of ``z`` (days x intervals): Σz/√length of the
    run (days x lengths) and its first interval."""
    cumulative = np.concatenate([np.zeros((len(z), 1)), np.cumsum(z, axis=1)], axis=1)
    best = np.full((len(z), len(lengths)), -np.inf)
    first = np.zeros((len(z), len(lengths)), dtype=np.int64)
    for k, length in enumerate(lengths):
        if length > z.shape[1]:
            continue
        sums = (cumulative[:, length:] - cumulative[:, :-length]) / np.sqrt(length)
        first[:, k] = np.argmax(sums, axis=1)
        best[:, k] = sums[np.arange(len(z)), first[:, k]]
    return best, first


def run_scores(
    intervals: pd.DataFrame,
    expected: pd.Series,
    usual: pd.Series,
    scan_from: pd.Timestamp,
    per_hour: int,
) -> pd.DataFrame:
    """Each day from ``scan_from``'s most unusual run of intervals against the home's own days.

    ``intervals`` holds the measured intervals (``date``, ``slot``: the interval's place in its
    local day, ``quantity``), ``per_hour`` of them an hour; ``expected`` each date's expected
    total (the daily model's, at the home's current level); ``usual`` whether a date may stand
    for the home's ordinary days (not one far below its expectation: a day away, whose
    intervals say nothing of a day at home). The days are the :data:`PROFILE_DAYS` before
    ``scan_from`` and the scanned ones.

    Each interval is expected at the median of the same interval on :data:`REFERENCE_DAYS`
    other days of the same kind (weekday or weekend) whose expected totals are nearest its
    day's, with their MAD over the intervals within :data:`SPREAD_HALF_WINDOW_MINUTES` as its
    spread (at least :data:`MIN_SPREAD_SHARE` of the day's mean interval); its excess over
    that, standardised and capped at ±:data:`INTERVAL_Z_CAP`, is summed over runs of
    :data:`RUN_HOURS`, over √length (a scan statistic). Longer runs gather
    more of a day's ordinary swings (a busy evening, a cold morning), so each length's best
    run is standardised (robust z) against the best runs of that length of every scored day,
    and the highest is the day's. Returns, by date: ``run_z``, ``run_start`` and ``run_end``
    (local hours, the run rounded out to whole hours), ``run_excess`` and ``saturated`` (a
    best run of :data:`SATURATED_INTERVALS` or more whose intervals average
    :data:`SATURATED_MEAN_Z` and that stands :data:`SATURATED_RUN_Z` out: see
    :func:`unusual_runs`) and ``lifted`` (the same of the runs of each interval's hourly floor,
    at :data:`LIFTED_MEAN_Z`; never for an hourly meter).
    """
    columns = ["run_z", "run_start", "run_end", "run_excess", "saturated", "lifted"]
    frame = intervals[intervals["date"] >= scan_from - pd.Timedelta(days=PROFILE_DAYS)]
    slots = 24 * per_hour
    days = pd.DatetimeIndex(sorted(frame["date"].unique()))
    totals = expected.reindex(days).to_numpy(dtype=float)
    grid = np.full((len(days), slots), np.nan)
    inside = frame["slot"].to_numpy() < slots
    rows = days.get_indexer(frame["date"])[inside]
    # A fall-back day's repeated hour is one slot read twice: its mean.
    sums = np.zeros_like(grid)
    counts = np.zeros_like(grid)
    np.add.at(sums, (rows, frame["slot"].to_numpy()[inside]), frame["quantity"].to_numpy()[inside])
    np.add.at(counts, (rows, frame["slot"].to_numpy()[inside]), 1)
    np.divide(sums, counts, out=grid, where=counts > 0)
    scored = (np.isfinite(grid).mean(axis=1) >= MIN_INTERVAL_SHARE) & (totals > 0)
    ordinary = scored & usual.reindex(days, fill_value=False).to_numpy(dtype=bool)
    if ordinary.sum() < MIN_SCORED_DAYS:
        return pd.DataFrame(columns=columns, dtype=float)
    weekend = np.asarray(days.day_of_week >= 5)
    half_window = SPREAD_HALF_WINDOW_MINUTES * per_hour // 60
    excess, spread = _deviations(grid, totals, weekend, ordinary, scored, half_window)
    lengths = [hours * per_hour for hours in RUN_HOURS]
    scored &= np.isfinite(excess).any(axis=1)
    ordinary &= scored
    best, first, standardised = _standardised_runs(excess, spread, lengths, ordinary)
    saturated = _saturated(best, standardised, lengths, SATURATED_MEAN_Z)
    lifted = np.zeros(len(days), dtype=bool)
    if per_hour > 1:
        floor = _hourly_floor(grid, per_hour)
        lift, lift_spread = _deviations(floor, totals, weekend, ordinary, scored, half_window)
        floor_best, _, floor_standardised = _standardised_runs(lift, lift_spread, lengths, ordinary)
        lifted = _saturated(floor_best, floor_standardised, lengths, LIFTED_MEAN_Z)
    pick = np.argmax(standardised, axis=1)
    day_index = np.arange(len(days))
    start = first[day_index, pick]
    end = start + np.asarray(lengths)[pick]
    cumulative = np.concatenate(
        [np.zeros((len(days), 1)), np.cumsum(np.nan_to_num(excess), axis=1)], axis=1
    )
    result = pd.DataFrame(
        {
            "run_z": standardised[day_index, pick],
            "run_start": start // per_hour,
            "run_end": -(-end // per_hour),
            "run_excess": cumulative[day_index, end] - cumulative[day_index, start],
            "saturated": saturated,
            "lifted": lifted,
        },
        index=days,
    )
    return result[scored & (days >= scan_from)]


def unusual_runs(runs: pd.DataFrame) -> pd.Series:
    """Which days of :func:`run_scores` have an unusual run: standardised over
    :data:`RUN_THRESHOLD`, or saturated (NaN, a day not scored: False)."""
    return (runs["run_z"] > RUN_THRESHOLD) | runs["saturated"].eq(True)


def lifted_days(runs: pd.DataFrame, days: pd.DataFrame) -> pd.Series:
    """Which days of :func:`run_scores` have a ``lifted`` floor on a day (``days``: ``actual``,
    ``expected``, as :func:`daily_scores`) at least :data:`MIN_RUN_EXCESS_SHARE` above its
    expectation: a floor lifted on a day no higher than that is use moved, not added."""
    added = days["actual"] - days["expected"] >= MIN_RUN_EXCESS_SHARE * days["expected"]
    return runs["lifted"].eq(True) & added
