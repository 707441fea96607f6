"""The backtest behind ``evaluate_insights``: the insight models scored on the data loaded.

* Bill forecast: for every complete billing period with enough history, forecast the period's
  total as of its day 10 — exactly as the nightly pipeline would have (model trained on the
  year before, weather of the days still to come unknown: the days of the period after day 10
  are removed from the weather, so normals stand in for them) — and score it against what was
  used, next to two baselines: run-rate extrapolation (the first ten days' daily average for
  every remaining day) and the same period last year (its days, in order). MAPE is over period
  totals; ASHRAE Guideline 14 CV(RMSE) and NMBE are over the daily predictions of the remaining
  days, per meter (units differ between meters), then averaged over meters.
* Anomalies: the daily scan run month by month over the history (each month with a model
  trained on the year up to its end, as the nightly run sees it), flagged days against the
  days ``seed_demo`` injected an anomaly on (``MeterGroundTruth``).
* Always-on: the baseload estimated every 30 days against the generator's true always-on power.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from customers.models import Customer, Meter
from insights.analytics import metrics
from insights.analytics.always_on import estimate_baseload
from insights.analytics.bill import COMPLETE_COVERAGE, fit_as_of, forecast_period
from insights.analytics.context import MeterContext, meter_context, year_earlier
from insights.analytics.usage_anomaly import ANOMALY_SCAN_DAYS, scan_daily_anomalies
from insights.models import MeterGroundTruth
from metadata.catalog import ENERGY_UNITS_TO_KW

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
    """Predictions of one method: period totals, and daily predictions per meter."""

    totals: list[tuple[float, float]] = field(default_factory=list)
    daily: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    hits: int = 0

    def add(
        self, meter: str, total: tuple[float, float], actual: np.ndarray, predicted: np.ndarray
    ):
        self.totals.append(total)
        self.daily.setdefault(meter, []).append((actual, predicted))


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
        if not scores.totals:
            return cls(method, 0, None, None, None)
        actual, predicted = (np.array(values) for values in zip(*scores.totals, strict=True))
        per_meter = [
            (np.concatenate([a for a, _ in days]), np.concatenate([p for _, p in days]))
            for days in scores.daily.values()
        ]
        return cls(
            method=method,
            periods=len(scores.totals),
            mape=metrics.mape(actual, predicted),
            cv_rmse=float(np.mean([metrics.cv_rmse(a, p) for a, p in per_meter])),
            nmbe=float(np.mean([metrics.nmbe(a, p) for a, p in per_meter])),
            interval_hit_rate=scores.hits / len(scores.totals) if interval else None,
        )


@dataclass(frozen=True)
class AnomalyScore:
    meters: int
    injected: int
    flagged: int
    correct: int
    precision: float | None
    recall: float | None


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


def _complete(ctx: MeterContext, first: date, end: date) -> bool:
    if first < ctx.history.first_day or end > ctx.last_day + timedelta(days=1):
        return False
    return bool((ctx.rows(first, end)["coverage"] >= COMPLETE_COVERAGE).all())


def _billing_periods(ctx: MeterContext) -> list[tuple[date, date]]:
    periods = []
    first, end = ctx.billing_period(ctx.history.first_day)
    while end <= ctx.last_day + timedelta(days=1):
        periods.append((first, end))
        first, end = end, ctx.billing_period(end)[1]
    return periods


def _backtest_forecasts(ctx: MeterContext, scores: dict[tuple[str, str], _Scores]) -> None:
    key = str(ctx.meter.pk)
    weather = ctx.history.weather
    for first, end in _billing_periods(ctx):
        as_of = first + timedelta(days=KNOWN_DAYS - 1)
        if (
            not _complete(ctx, first, end)
            or (as_of - ctx.history.first_day).days < MIN_HISTORY_DAYS
        ):
            continue
        unknown = (weather.index > pd.Timestamp(as_of)) & (weather.index < pd.Timestamp(end))
        forecast = forecast_period(
            daily=ctx.daily, weather=weather[~unknown], first=first, end=end, as_of=as_of
        )
        if forecast is None:
            continue
        quantity = ctx.rows(first, end)["quantity"].to_numpy(dtype=float)
        actual_total = float(quantity.sum())
        used = float(quantity[:KNOWN_DAYS].sum())
        remaining = quantity[KNOWN_DAYS:]
        predictions = {
            OURS: forecast.remaining.to_numpy(),
            RUN_RATE: np.full(len(remaining), used / KNOWN_DAYS),
        }
        year_first, year_end = ctx.billing_period(year_earlier(first))
        if _complete(ctx, year_first, year_end):
            year = ctx.rows(year_first, year_end)["quantity"].to_numpy(dtype=float)
            padding = np.full(max(0, len(quantity) - len(year)), year.mean())
            predictions[YEAR_AGO] = np.concatenate([year, padding])[KNOWN_DAYS : len(quantity)]
        subsets = ["all"] + (["year"] if YEAR_AGO in predictions else [])
        for subset in subsets:
            for method, predicted in predictions.items():
                if method == YEAR_AGO and subset == "all":
                    continue
                total = used + float(predicted.sum())
                if method == OURS:
                    total = forecast.quantity
                    scores[(subset, method)].hits += forecast.low <= actual_total <= forecast.high
                scores[(subset, method)].add(key, (actual_total, total), remaining, predicted)


def _backtest_anomalies(ctx: MeterContext, truth: set[date]) -> tuple[set[date], set[date]]:
    """Days flagged over the scanned history, and the injected days within it."""
    flagged: set[date] = set()
    scan_from = ctx.history.first_day + timedelta(days=MIN_HISTORY_DAYS)
    scanned_from = scan_from
    while scan_from <= ctx.last_day:
        scan_end = min(ctx.last_day, scan_from + timedelta(days=ANOMALY_SCAN_DAYS - 1))
        model = fit_as_of(ctx.daily, scan_end)
        if model is not None:
            window = ctx.daily.loc[model.training_dates[0] : pd.Timestamp(scan_end)]
            found = scan_daily_anomalies(
                daily=window, weather=ctx.history.weather, model=model, scan_from=scan_from
            )
            flagged |= {day.date() for day in found.index[found["anomalous"]]}
        scan_from = scan_end + timedelta(days=1)
    injected = {day for day in truth if scanned_from <= day <= ctx.last_day}
    return flagged, injected


def _backtest_baseload(ctx: MeterContext, true_watts: float) -> list[float]:
    """Relative errors of the baseload estimated every :data:`BASELOAD_STEP_DAYS` days."""
    errors = []
    as_of = ctx.history.first_day + timedelta(days=BASELOAD_STEP_DAYS)
    while as_of <= ctx.last_day:
        estimate = estimate_baseload(ctx, last_day=as_of)
        if estimate is not None:
            errors.append(estimate / true_watts - 1)
        as_of += timedelta(days=BASELOAD_STEP_DAYS)
    return errors


def insights_evaluate(*, customers: Iterable[Customer], progress=None) -> EvaluationReport:
    """Backtests every meter of ``customers``; ``progress(1)`` is called per meter."""
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
    baseload_meters = evaluated = 0
    for customer in customers:
        meters = Meter.objects.filter(account__customer=customer).select_related(
            "account__premise", "tariff", "utility"
        )
        for meter in meters.order_by("meter_number"):
            ctx = meter_context(customer=customer, meter=meter)
            if progress is not None:
                progress(1)
            if ctx is None:
                continue
            evaluated += 1
            _backtest_forecasts(ctx, scores)
            truth = MeterGroundTruth.objects.filter(meter=meter).first()
            if truth is None:
                continue
            injected_days = {date.fromisoformat(a["date"]) for a in truth.anomalies}
            flagged, injected = _backtest_anomalies(ctx, injected_days)
            anomaly_meters += 1
            flagged_total += len(flagged)
            injected_total += len(injected)
            correct += len(flagged & injected)
            if truth.baseload_watts and meter.unit_of_measure in ENERGY_UNITS_TO_KW:
                baseload_meters += 1
                baseload_errors.extend(_backtest_baseload(ctx, truth.baseload_watts))
    precision = correct / flagged_total if flagged_total else None
    recall = correct / injected_total if injected_total else None
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
        anomalies=AnomalyScore(
            anomaly_meters, injected_total, flagged_total, correct, precision, recall
        ),
        baseload=BaseloadScore(
            meters=baseload_meters,
            estimates=len(errors),
            mape=float(np.mean(np.abs(errors)) * 100) if len(errors) else None,
            bias_percent=float(np.mean(errors) * 100) if len(errors) else None,
        ),
    )


def _number(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def render_report(report: EvaluationReport) -> str:
    """The report as plain-text tables."""
    lines = [
        f"Backtest of {report.meters} meter(s)",
        "",
        f"Bill forecast at day {KNOWN_DAYS} of each complete billing period",
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
    a = report.anomalies
    lines += [
        "",
        "Usage anomalies (days) against the injected ground truth",
        f"{'meters':>6} {'injected':>9} {'flagged':>8} {'correct':>8} {'precision':>10} "
        f"{'recall':>7}",
        f"{a.meters:>6} {a.injected:>9} {a.flagged:>8} {a.correct:>8} "
        f"{_number(a.precision, 2):>10} {_number(a.recall, 2):>7}",
        "",
        "Always-on power against the generator's true baseload",
        f"{'meters':>6} {'estimates':>10} {'MAPE %':>7} {'bias %':>7}",
        f"{report.baseload.meters:>6} {report.baseload.estimates:>10} "
        f"{_number(report.baseload.mape):>7} {_number(report.baseload.bias_percent):>7}",
    ]
    return "\n".join(lines)
