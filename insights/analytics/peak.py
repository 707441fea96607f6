"""When usage peaks, and what moving part of the peak-priced usage off-peak would save."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Share of peak-priced usage a household can move (laundry, dishwasher, EV charging).
SHIFTABLE_SHARE = 0.2
#: Average days in a month, to scale a window's saving to a month.
DAYS_PER_MONTH = 365.25 / 12


def peak_hour(hour: np.ndarray, quantity: np.ndarray) -> tuple[int, float]:
    """The local hour (0-23) with the highest average usage, and its share of a typical day."""
    profile = pd.Series(np.asarray(quantity, dtype=float)).groupby(np.asarray(hour)).mean()
    peak = int(profile.idxmax())
    return peak, float(profile[peak] / profile.sum())


def shift_saving(quantity: np.ndarray, price: np.ndarray, *, days: float) -> float:
    """Monthly saving from moving :data:`SHIFTABLE_SHARE` of the usage priced at the tariff's
    top rate to its cheapest rate. ``price`` is each interval's price; one price: zero."""
    quantity = np.asarray(quantity, dtype=float)
    price = np.asarray(price, dtype=float)
    if quantity.size == 0 or days <= 0:
        return 0.0
    top, bottom = float(price.max()), float(price.min())
    if top <= bottom:
        return 0.0
    peak_usage = float(quantity[price == top].sum())
    return SHIFTABLE_SHARE * peak_usage * (top - bottom) * DAYS_PER_MONTH / days
