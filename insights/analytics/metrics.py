"""Forecast and detection scores used by the backtest (ASHRAE Guideline 14 and friends)."""

from __future__ import annotations

import numpy as np


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error, %."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    return float(np.mean(np.abs(predicted - actual) / np.abs(actual)) * 100)


def cv_rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """ASHRAE Guideline 14 CV(RMSE) = RMSE / mean(actual), % (n in the denominator: the
    baselines have no fitted parameters to count)."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    return float(np.sqrt(np.mean((actual - predicted) ** 2)) / np.mean(actual) * 100)


def nmbe(actual: np.ndarray, predicted: np.ndarray) -> float:
    """ASHRAE Guideline 14 NMBE = Σ(actual - predicted) / (n · mean(actual)), %. Positive:
    the prediction is too low."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    return float(np.sum(actual - predicted) / (actual.size * np.mean(actual)) * 100)


def precision_recall(flagged: set, truth: set) -> tuple[float | None, float | None]:
    """Share of flagged items that are true, and of true items that were flagged."""
    hits = len(flagged & truth)
    precision = hits / len(flagged) if flagged else None
    recall = hits / len(truth) if truth else None
    return precision, recall
