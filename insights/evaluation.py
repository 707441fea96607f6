"""The backtest behind ``evaluate_insights``: the insight models scored on loaded or generated
meters (:mod:`insights.backtest`).

* Bill forecast: for every complete billing period with enough history, forecast the period's
  total as of its day 10 — exactly as the nightly pipeline would have (model trained on the
  year before, weather of the days still to come unknown: the days of the period after day 10
  are removed from the weather, so normals and weather scenarios stand in for them) — and
  score it against what was used, next to two baselines: run-rate extrapolation (the first ten
  days' daily average for every remaining day) and the same period last year (its days, in
  order). Scores are over period totals, as ASHRAE Guideline 14 scores a monthly model: MAPE;
  CV(RMSE) = √(mean e²) and NMBE = mean e with each period's error e = (actual - predicted) /
  its meter's mean period total (so meters of different units and sizes pool), in %.
* Anomalies: the scan run month by month over the history (each month with a model trained on
  the year up to its end, as the nightly run sees it); flagged days against the days an
  anomaly was injected on, leaving out the first days of a lasting change
  (:data:`~insights.backtest.SETTLING_DAYS`).
* Always-on: the baseload estimated every 30 days against the generator's true always-on power.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from insights.analytics import metrics
from insights.analytics.bill import COMPLETE_COVERAGE, fit_as_of, forecast_period
from insights.analytics.context import year_earlier
from insights.analytics.usage_anomaly import ANOMALY_SCAN_DAYS, scan_anomalies
from insights.backtest import BacktestMeter

#: The forecast is made knowing this many days of the period.
KNOWN_DAYS = 10
#: History a meter needs before its first forecast or anomaly scan is scored.
MIN_HISTORY_DAYS = 60
#: Days between two scored baseload estimates.
BASELOAD_STEP_DAYS = 30

OURS = "degree-day model (ours)"
RUN_RATE = "run-rate extrapolation"
YEAR_AGO = "same period last year"


@dataclass
class _Scores:
    """Period totals (actual, predicted) of one method, by meter."""

    totals: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    hits: int = 0

    def add(self, meter: str, actual: float, predicted: float) -> None:
        self.totals.setdefault(meter, []).append((actual, predicted))


@dataclass(frozen=True)
class MethodScore:
    method: str
    periods: int
    mape: float | None
    cv_rmse: float | None
    nmbe: float | None
    interval_hit_rate: float | None = None

    @classmethod
    def of(cls, method: str, scores: _Scores, interval: bool = False) -> MethodScore:
        pairs = [pair for totals in scores.totals.values() for pair in totals]
        if not pairs:
            return cls(method, 0, None, None, None)
        actual, predicted = (np.array(values) for values in zip(*pairs, strict=True))
        scale = np.concatenate(
            [np.full(len(t), np.mean([a for a, _ in t])) for t in scores.totals.values()]
        )
        return cls(
            method=method,
            periods=len(pairs),
            mape=metrics.mape(actual, predicted),
            cv_rmse=metrics.cv_rmse(actual / scale, predicted / scale),
            nmbe=metrics.nmbe(actual / scale, predicted / scale),
            interval_hit_rate=scores.hits / len(pairs) if interval else None,
        )


@dataclass(frozen=True)
class AnomalyScore:
    meters: int
    injected: int
    flagged: int
    correct: int

    @property
    def precision(self) -> float | None:
        return self.correct / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.injected if self.injected else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        return None if p is None or r is None or p + r == 0 else 2 * p * r / (p + r)


@dataclass(frozen=True)
class BaseloadScore:
    meters: int
    estimates: int
    mape: float | None
    bias_percent: float | None


@dataclass(frozen=True)
class EvaluationReport:
    meters: int
    all_periods: list[MethodScore]
    year_ago_periods: list[MethodScore]
    anomalies: AnomalyScore
    baseload: BaseloadScore
    net_metered: int = 0
    """Meters whose forecasts were left out (``BacktestMeter.net_metered``)."""

    @property
    def forecast_beats_baselines(self) -> bool | None:
        """Ours has the lowest MAPE and CV(RMSE) on each set of periods; None if unscored."""
        verdicts = []
        for scores in (self.all_periods, self.year_ago_periods):
            scored = [s for s in scores if s.periods]
            if len(scored) < 2:
                continue
            ours, *baselines = scored
            verdicts.append(all(ours.mape < b.mape and ours.cv_rmse < b.cv_rmse for b in baselines))
        return all(verdicts) if verdicts else None


def _complete(meter: BacktestMeter, first: date, end: date) -> bool:
    if first < meter.first_day or end > meter.last_day + timedelta(days=1):
        return False
    rows = meter.daily.reindex(pd.date_range(first, end - timedelta(days=1)))
    return bool((rows["coverage"] >= COMPLETE_COVERAGE).all())


def _billing_periods(meter: BacktestMeter) -> list[tuple[date, date]]:
    periods = []
    first, end = meter.billing_period(meter.first_day)
    while end <= meter.last_day + timedelta(days=1):
        periods.append((first, end))
        first, end = end, meter.billing_period(end)[1]
    return periods


def _quantities(meter: BacktestMeter, first: date, end: date) -> np.ndarray:
    days = pd.date_range(first, end - timedelta(days=1))
    return meter.daily["quantity"].reindex(days).to_numpy(dtype=float)


def _backtest_forecasts(meter: BacktestMeter, scores: dict[tuple[str, str], _Scores]) -> None:
    weather = meter.weather
    for first, end in _billing_periods(meter):
        as_of = first + timedelta(days=KNOWN_DAYS - 1)
        if not _complete(meter, first, end) or (as_of - meter.first_day).days < MIN_HISTORY_DAYS:
            continue
        unknown = (weather.index > pd.Timestamp(as_of)) & (weather.index < pd.Timestamp(end))
        known_weather = weather[~unknown]
        daily = meter.daily.loc[: pd.Timestamp(as_of)].copy()
        forecast = forecast_period(
            daily=daily, weather=known_weather, first=first, end=end, as_of=as_of
        )
        if forecast is None:
            continue
        quantity = _quantities(meter, first, end)
        actual = float(quantity.sum())
        used = float(quantity[:KNOWN_DAYS].sum())
        totals = {
            OURS: forecast.quantity,
            RUN_RATE: used / KNOWN_DAYS * len(quantity),
        }
        year_first, year_end = meter.billing_period(year_earlier(first))
        if _complete(meter, year_first, year_end):
            year = _quantities(meter, year_first, year_end)
            padding = np.full(max(0, len(quantity) - len(year)), year.mean())
            totals[YEAR_AGO] = used + float(
                np.concatenate([year, padding])[KNOWN_DAYS : len(quantity)].sum()
            )
        hit = forecast.low <= actual <= forecast.high
        for subset in ["all"] + (["year"] if YEAR_AGO in totals else []):
            for method, total in totals.items():
                if method == YEAR_AGO and subset == "all":
                    continue
                scores[(subset, method)].add(meter.key, actual, total)
                if method == OURS:
                    scores[(subset, method)].hits += hit


def _backtest_anomalies(meter: BacktestMeter) -> tuple[set[date], set[date]]:
    """Days flagged over the scanned history and the injected days within it, both without
    the days the truth leaves unscored."""
    truth = meter.truth
    flagged: set[date] = set()
    scanned_from = scan_from = meter.first_day + timedelta(days=MIN_HISTORY_DAYS)
    while scan_from <= meter.last_day:
        scan_end = min(meter.last_day, scan_from + timedelta(days=ANOMALY_SCAN_DAYS - 1))
        model = fit_as_of(meter.anomaly_daily, scan_end)
        if model is not None:
            window = meter.anomaly_daily.loc[model.training_dates[0] : pd.Timestamp(scan_end)]
            scores = scan_anomalies(
                daily=window,
                weather=meter.weather,
                model=model,
                scan_from=scan_from,
                intervals=meter.intervals,
                interval_seconds=meter.interval_seconds,
            )
            flagged |= {day.date() for day in scores.index[scores["anomalous"]]}
        scan_from = scan_end + timedelta(days=1)
    injected = {day for day in truth.anomaly_days if scanned_from <= day <= meter.last_day}
    return flagged - truth.unscored_days, injected - truth.unscored_days


def _backtest_baseload(meter: BacktestMeter) -> list[float]:
    """Relative errors of the baseload estimated every :data:`BASELOAD_STEP_DAYS` days."""
    errors = []
    as_of = meter.first_day + timedelta(days=BASELOAD_STEP_DAYS)
    while as_of <= meter.last_day:
        recent = {as_of - timedelta(days=k) for k in range(BASELOAD_STEP_DAYS)}
        true_watts = meter.truth.baseload_watts(as_of)
        if true_watts and not recent & meter.truth.unscored_days:
            estimate = meter.baseload(as_of)
            if estimate is not None:
                errors.append(estimate / true_watts - 1)
        as_of += timedelta(days=BASELOAD_STEP_DAYS)
    return errors


def insights_evaluate(*, meters: Iterable[BacktestMeter], progress=None) -> EvaluationReport:
    """Backtests every one of ``meters``; ``progress(1)`` is called per meter."""
    scores = {
        key: _Scores()
        for key in [
            ("all", OURS),
            ("all", RUN_RATE),
            ("year", OURS),
            ("year", RUN_RATE),
            ("year", YEAR_AGO),
        ]
    }
    flagged_total = injected_total = correct = anomaly_meters = 0
    baseload_errors: list[float] = []
    baseload_meters = evaluated = net_metered = 0
    for meter in meters:
        if progress is not None:
            progress(1)
        evaluated += 1
        if meter.net_metered:
            net_metered += 1
        else:
            _backtest_forecasts(meter, scores)
        if meter.truth is None:
            continue
        flagged, injected = _backtest_anomalies(meter)
        anomaly_meters += 1
        flagged_total += len(flagged)
        injected_total += len(injected)
        correct += len(flagged & injected)
        if meter.baseload is not None and meter.truth.baseload_watts(meter.last_day):
            baseload_meters += 1
            baseload_errors.extend(_backtest_baseload(meter))
    errors = np.array(baseload_errors)
    return EvaluationReport(
        meters=evaluated,
        all_periods=[
            MethodScore.of(OURS, scores[("all", OURS)], interval=True),
            MethodScore.of(RUN_RATE, scores[("all", RUN_RATE)]),
        ],
        year_ago_periods=[
            MethodScore.of(OURS, scores[("year", OURS)], interval=True),
            MethodScore.of(RUN_RATE, scores[("year", RUN_RATE)]),
            MethodScore.of(YEAR_AGO, scores[("year", YEAR_AGO)]),
        ],
        anomalies=AnomalyScore(anomaly_meters, injected_total, flagged_total, correct),
        baseload=BaseloadScore(
            meters=baseload_meters,
            estimates=len(errors),
            mape=float(np.mean(np.abs(errors)) * 100) if len(errors) else None,
            bias_percent=float(np.mean(errors) * 100) if len(errors) else None,
        ),
        net_metered=net_metered,
    )


def _number(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def render_report(report: EvaluationReport, heading: str) -> str:
    """The report as plain-text tables under ``heading``."""
    lines = [
        f"{heading}: {report.meters} meter(s)",
        "",
        f"Bill forecast at day {KNOWN_DAYS} of each complete billing period (period totals)",
        f"{'periods':<22} {'method':<26} {'n':>4} {'MAPE %':>7} {'CV(RMSE) %':>11} "
        f"{'NMBE %':>7} {'80% range hit':>14}",
    ]
    for label, scores in (
        ("all", report.all_periods),
        ("with a year-ago period", report.year_ago_periods),
    ):
        for index, score in enumerate(scores):
            hits = score.interval_hit_rate
            lines.append(
                f"{label if index == 0 else '':<22} {score.method:<26} {score.periods:>4} "
                f"{_number(score.mape):>7} {_number(score.cv_rmse):>11} {_number(score.nmbe):>7} "
                f"{_number(None if hits is None else hits * 100, 0, ' %'):>14}"
            )
    verdict = report.forecast_beats_baselines
    lines.append(
        "Our forecast beats both baselines (MAPE and CV(RMSE)): "
        + {True: "yes", False: "NO", None: "not enough data to tell"}[verdict]
    )
    if report.net_metered:
        lines.append(
            f"Left out: {report.net_metered} net-metered meter(s), whose period totals (net of "
            "export) can be near or below zero, where a percentage error means nothing"
        )
    a = report.anomalies
    lines += [
        "",
        "Usage anomalies (days) against the injected ground truth",
        f"{'meters':>6} {'injected':>9} {'flagged':>8} {'correct':>8} {'precision':>10} "
        f"{'recall':>7} {'F1':>5}",
        f"{a.meters:>6} {a.injected:>9} {a.flagged:>8} {a.correct:>8} "
        f"{_number(a.precision, 2):>10} {_number(a.recall, 2):>7} {_number(a.f1, 2):>5}",
        "",
        "Always-on power against the generator's true baseload",
        f"{'meters':>6} {'estimates':>10} {'MAPE %':>7} {'bias %':>7}",
        f"{report.baseload.meters:>6} {report.baseload.estimates:>10} "
        f"{_number(report.baseload.mape):>7} {_number(report.baseload.bias_percent):>7}",
    ]
    return "\n".join(lines)
