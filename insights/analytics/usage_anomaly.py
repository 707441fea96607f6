"""USAGE_ANOMALY: a day or hour when usage was far above what the weather and the home's
habits explain (the scores: :mod:`insights.analytics.anomalies`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pandas as pd
from django.utils.translation import gettext as _

from insights.analytics import anomalies
from insights.analytics.bill import COMPLETE_COVERAGE, expected_daily, recent_level
from insights.analytics.context import MeterContext, decimal, quantity
from insights.analytics.daily_model import DailyModel
from insights.datasets import hourly_frame
from insights.drafts import InsightDraft
from insights.models import Severity
from metadata.catalog import Granularity, InsightType

TYPE = InsightType.USAGE_ANOMALY.name
VERSION = "usage-anomaly/2.1"

#: Days an anomaly scan looks back (a nightly rerun sees each day about 30 times: idempotent).
ANOMALY_SCAN_DAYS = 30


def drafts(ctx: MeterContext) -> list[InsightDraft]:
    if ctx.model is None:
        return []

    def hours(first: date, end: date) -> pd.DataFrame:
        frame = hourly_frame(meter=ctx.meter, first_day=first, end_day=end)
        return frame[frame["complete"]]

    scores = scan_anomalies(
        daily=ctx.daily.loc[ctx.model.training_dates[0] :],
        weather=ctx.history.weather,
        model=ctx.model,
        scan_from=ctx.last_day - timedelta(days=ANOMALY_SCAN_DAYS - 1),
        hours=hours if ctx.meter.interval_seconds <= 3600 else None,
    )
    return [_day_anomaly(ctx, row) for row in scores[scores["anomalous"]].itertuples()]


def scan_anomalies(
    *,
    daily: pd.DataFrame,
    weather: pd.Series,
    model: DailyModel,
    scan_from: date,
    hours: Callable[[date, date], pd.DataFrame] | None,
) -> pd.DataFrame:
    """Scores of the days from ``scan_from`` (the frame's other days are their context).

    A day is expected at the daily model's usage for its weather and weekday plus the home's
    level on the days before it (:func:`~insights.analytics.bill.recent_level`, the forecast's
    recency), and is unusual when its total is far above that (``anomalies.daily_scores``:
    ``actual``, ``expected``, ``z``) or, for a meter with ``hours`` (complete local hours of
    ``[first, end)``), when a run of its hours is far above the home's own hourly profile
    (``anomalies.window_scores``). ``anomalous`` says either.
    """
    complete = daily["coverage"] >= COMPLETE_COVERAGE
    actual = daily["quantity"].where(complete)
    level = recent_level(model, daily).before.reindex(daily.index).ffill().fillna(0.0)
    base = pd.Series(expected_daily(model, weather, daily.index), index=daily.index)
    expected = (base + level).clip(lower=0.0)
    scores = anomalies.daily_scores(actual, expected)
    scores = scores[scores.index >= pd.Timestamp(scan_from)]
    if hours is None or scores.empty:
        return scores.assign(window_z=float("nan"), window_start=-1, window_hours=0)
    frame = hours(
        scan_from - timedelta(days=anomalies.PROFILE_DAYS),
        scores.index[-1].date() + timedelta(days=1),
    )
    frame = frame.assign(day_expected=expected.reindex(frame["date"]).to_numpy())
    windows = anomalies.window_scores(frame, pd.Timestamp(scan_from)).reindex(scores.index)
    unusual_run = (windows["window_z"] > anomalies.WINDOW_THRESHOLD) & (
        windows["window_excess"] >= anomalies.MIN_WINDOW_EXCESS_SHARE * scores["expected"]
    )
    return scores.assign(
        anomalous=scores["anomalous"] | (unusual_run & (scores["actual"] > scores["expected"])),
        window_z=windows["window_z"],
        window_start=windows["window_start"].fillna(-1).astype(int),
        window_hours=windows["window_hours"].fillna(0).astype(int),
        window_excess=windows["window_excess"],
    )


def _day_anomaly(ctx: MeterContext, row) -> InsightDraft:
    day = row.Index.date()
    excess = row.actual - row.expected
    price = ctx.price(day, day + timedelta(days=1))
    words = ctx.wording
    summary = _(
        "You used %(actual)s on %(day)s, %(excess)s (%(share)s) more than expected for the "
        "weather and the day of the week."
    ) % {
        "actual": words.energy(row.actual),
        "day": words.day(day),
        "excess": words.energy(excess),
        "share": words.percent(excess / row.expected),
    }
    if row.window_hours:
        summary += " " + _("Most of it was between %(start)s and %(end)s.") % {
            "start": words.hour(row.window_start),
            "end": words.hour(row.window_start + row.window_hours),
        }
    if price:
        summary += " " + _("It cost about %(cost)s extra.") % {
            "cost": words.money(decimal(excess * price))
        }
    return ctx.draft(
        TYPE,
        VERSION,
        day,
        day + timedelta(days=1),
        severity=Severity.ALERT if excess >= row.expected else Severity.WARNING,
        title=_("Unusually high usage on %(day)s") % {"day": words.day(day)},
        summary=summary,
        data={
            "granularity": Granularity.DAY.name,
            "expectedQuantity": quantity(row.expected),
            "actualQuantity": quantity(row.actual),
            "excessQuantity": quantity(excess),
            "excessCost": ctx.money(None if price is None else excess * price),
            "unitOfMeasure": ctx.meter.unit_of_measure,
        },
    )
