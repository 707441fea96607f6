"""Always-on power: a low quantile of night-time demand.

At night a home's occupants sleep and what still draws power is the fridge, the router, the
standby of everything: the baseload. A heat pump or an air conditioner runs at night too, but
in cycles: its compressor starts at rated power for a while, then stops. So the baseload is a
low quantile of the night's demand at the meter's own resolution — for an interval meter (15
minutes), the intervals between the compressor's cycles; an hourly average would mix a cycle
into almost every hour of a cold night and overstate the baseload several times over.

Which nights: those that needed no heating or cooling are preferred, since their intervals are
almost all idle: the recent mild nights, or when the last month had too few (deep winter, high
summer), the most recent mild ones of the past year. Failing that (early history in winter),
the mildest nights available, where the compressor's off-cycles are a minority of the
intervals: there a lower quantile is taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

#: Local hours counted as night (00:00-04:59).
NIGHT_HOURS = frozenset(range(5))
#: The low quantile of night-time demand taken as the baseload (5-10 % is customary).
QUANTILE = 0.1
#: The quantile on the mildest nights when none was mild: their heat pump (or air conditioner)
#: still cycles, so its idle intervals are fewer than on a mild night.
FALLBACK_QUANTILE = 0.05
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


@dataclass(frozen=True)
class NightChoice:
    """The nights a baseload is estimated from, and the quantile to take of their demand."""

    nights: pd.DatetimeIndex
    """Local dates (naive Timestamps), ascending; at most :data:`WINDOW_DAYS` of them."""
    quantile: float
    """:data:`QUANTILE`, or :data:`FALLBACK_QUANTILE` on nights that needed heating or
    cooling."""


def choose_nights(
    nights: pd.Index, *, last_day: date, degree_days: pd.Series | None
) -> NightChoice | None:
    """Which of ``nights`` (local dates with night-time data, up to ``last_day``) to read, or
    None when fewer than :data:`MIN_NIGHTS` of the past year qualify. ``degree_days`` (HDD +
    CDD per date at the home's balance points) picks the mild nights; None treats every night
    as mild (no weather, or a home whose usage does not follow it)."""
    nights = pd.DatetimeIndex(nights).sort_values()
    nights = nights[
        (nights > pd.Timestamp(last_day - timedelta(days=LOOKBACK_DAYS)))
        & (nights <= pd.Timestamp(last_day))
    ]
    recent_start = pd.Timestamp(last_day - timedelta(days=WINDOW_DAYS))
    quantile = QUANTILE
    if degree_days is None:
        chosen = nights[nights > recent_start]
    else:
        need = degree_days.reindex(nights)
        mild = nights[(need <= MILD_DEGREE_DAYS).to_numpy()]
        recent_mild = mild[mild > recent_start]
        if len(recent_mild) >= MIN_NIGHTS:
            chosen = recent_mild
        elif len(mild) >= MIN_NIGHTS:
            chosen = mild[-2 * MIN_NIGHTS :]
        else:
            chosen = need.sort_values(kind="stable").index[:MIN_NIGHTS].sort_values()
            quantile = FALLBACK_QUANTILE
    if len(chosen) < MIN_NIGHTS:
        return None
    return NightChoice(nights=pd.DatetimeIndex(chosen), quantile=quantile)


def low_quantile(watts: np.ndarray, quantile: float) -> float | None:
    """The ``quantile`` of night-time demand samples (W); None without any."""
    watts = np.asarray(watts, dtype=float)
    watts = watts[np.isfinite(watts)]
    return float(np.quantile(watts, quantile)) if len(watts) else None


def baseload_watts(
    night_demand: pd.DataFrame, *, last_day: date, degree_days: pd.Series | None
) -> float | None:
    """Baseload (W) from ``night_demand``: rows of ``date`` (local, Timestamp) and ``watts``
    (average demand of one night-time interval, or hour for an hourly meter), from up to a
    year before ``last_day``. Nights are picked by :func:`choose_nights`."""
    choice = choose_nights(
        pd.Index(night_demand["date"].unique()), last_day=last_day, degree_days=degree_days
    )
    if choice is None:
        return None
    samples = night_demand.loc[night_demand["date"].isin(choice.nights), "watts"]
    return low_quantile(samples.to_numpy(dtype=float), choice.quantile)
