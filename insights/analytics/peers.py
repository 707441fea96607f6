"""Peer comparison statistics (the Opower Home Energy Report's neighbour comparison).

Only statistics of the cohort ever leave this module, and only for cohorts of at least
:data:`MIN_OTHER_HOMES` other homes: with fewer, a mean or a percentile could reveal a
neighbour's usage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import percentileofscore

MIN_OTHER_HOMES = 10
#: "Efficient neighbours" use no more than this percentile of the cohort.
EFFICIENT_PERCENTILE = 20
#: Floor-area bands (m²) homes are grouped in: [lower, upper).
FLOOR_AREA_BANDS: tuple[tuple[int, int | None], ...] = (
    (0, 60),
    (60, 100),
    (100, 150),
    (150, 250),
    (250, None),
)


def floor_area_band(area_sqm: int) -> tuple[int, int | None]:
    for lower, upper in FLOOR_AREA_BANDS:
        if upper is None or area_sqm < upper:
            return lower, upper
    raise AssertionError("the last band is open-ended")


@dataclass(frozen=True)
class PeerStatistics:
    percentile: float
    """Share of the other homes (%) that used less than you; ties count half."""
    cohort_size: int
    average: float
    efficient: float


def peer_statistics(yours: float, others: np.ndarray) -> PeerStatistics | None:
    """Where ``yours`` stands among ``others``; None below :data:`MIN_OTHER_HOMES`."""
    others = np.asarray(others, dtype=float)
    if others.size < MIN_OTHER_HOMES:
        return None
    return PeerStatistics(
        percentile=float(percentileofscore(others, yours, kind="mean")),
        cohort_size=int(others.size),
        average=float(others.mean()),
        efficient=float(np.percentile(others, EFFICIENT_PERCENTILE)),
    )
