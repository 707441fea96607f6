"""Always-on power: a low quantile of night-time demand.

At night a home's occupants sleep and what still draws power is the fridge, the router, the
standby of everything: the baseload. On a cold night an electrically heated home runs its heat
pump all night too, so nights that needed heating or cooling are avoided: the recent mild
nights are used, or when the last month had too few (deep winter, high summer), the most
recent mild ones of the past year; failing that, the mildest nights available.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

#: Local hours counted as night (00:00-04:59).
NIGHT_HOURS = frozenset(range(5))
#: The low quantile of night-time demand taken as the baseload (5-10 % is customary).
QUANTILE = 0.1
#: The window an ALWAYS_ON insight is about.
WINDOW_DAYS = 30
#: How far back mild nights are looked for when the window has too few.
LOOKBACK_DAYS = 365
#: Nights needed for an estimate.
MIN_NIGHTS = 10
#: A night is mild when its day needed at most this many degree days of heating or cooling.
MILD_DEGREE_DAYS = 1.0
#: Hours in a year, over 1000: W x 8.76 = kWh a year.
KWH_PER_WATT_YEAR = 8.76


def _chosen_nights(nights: pd.Index, last_day: date, degree_days: pd.Series | None) -> pd.Index:
    recent = nights[nights > pd.Timestamp(last_day - timedelta(days=WINDOW_DAYS))]
    if degree_days is None:
        return recent
    need = degree_days.reindex(nights)
    mild = nights[(need <= MILD_DEGREE_DAYS).to_numpy()]
    recent_mild = mild[mild > pd.Timestamp(last_day - timedelta(days=WINDOW_DAYS))]
    if len(recent_mild) >= MIN_NIGHTS:
        return recent_mild
    if len(mild) >= MIN_NIGHTS:
        return mild.sort_values()[-2 * MIN_NIGHTS :]
    return need.sort_values(kind="stable").index[:MIN_NIGHTS]


def baseload_watts(
    night_demand: pd.DataFrame, *, last_day: date, degree_days: pd.Series | None
) -> float | None:
    """Baseload (W) from ``night_demand``: rows of ``date`` (local, Timestamp) and ``watts``
    (average demand of one night-time interval or hour), from up to a year before
    ``last_day``. ``degree_days`` (HDD + CDD per date) picks the mild nights; None treats
    every night as mild (no weather, or a home whose usage does not follow it)."""
    demand = night_demand[
        night_demand["date"] > pd.Timestamp(last_day - timedelta(days=LOOKBACK_DAYS))
    ]
    nights = pd.Index(demand["date"].unique()).sort_values()
    chosen = _chosen_nights(nights, last_day, degree_days)
    if len(chosen) < MIN_NIGHTS:
        return None
    samples = demand.loc[demand["date"].isin(chosen), "watts"].to_numpy(dtype=float)
    return float(np.quantile(samples, QUANTILE))
