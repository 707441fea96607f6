"""USAGE_ANOMALY: a day when usage was far above what the weather and the home's habits
explain, in its total or over a run of hours (the scores: :mod:`insights.analytics.anomalies`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pandas as pd
from django.utils.translation import gettext as _

from insights.analytics import anomalies
from insights.analytics.bill import COMPLETE_COVERAGE, expected_daily, fit_as_of, recent_level
from insights.analytics.context import MeterContext, decimal, quantity
from insights.analytics.daily_model import DailyModel
from insights.datasets import delivered_daily, interval_frame
from insights.drafts import InsightDraft
from insights.models import Severity
from metadata.catalog import Granularity, InsightType

TYPE = InsightType.USAGE_ANOMALY.name
VERSION = "usage-anomaly/3.7"

#: Days an anomaly scan looks back (a nightly rerun sees each day about 30 times: idempotent).
ANOMALY_SCAN_DAYS = 30


def scanned_usage(ctx: MeterContext) -> tuple[pd.DataFrame, Callable[[date, date], pd.DataFrame]]:
    """What the scan reads of ``ctx``'s meter: its daily frame and its measured intervals of
    local dates ``[first, end)``. Net usage (``ctx.daily``), but for a bidirectional meter
    what it drew from the grid, its DELIVERED channel alone: its net is the home's use less
    its roof's yield, near or under zero on sunny days, where an expected total is clipped at
    zero and no share of it means anything. What the home draws moves with its own use, but at
    the hours its roof yields, a cloud takes as many kilowatts off the roof for hours as a
    heater adds (on the demo, clouds were 43 of the solar homes' 54 alarms): those intervals
    are neutralised (:func:`_without_roof_hours`)."""
    if not ctx.meter.bidirectional:

        def intervals(first: date, end: date) -> pd.DataFrame:
            return interval_frame(meter=ctx.meter, first_day=first, end_day=end)

        return ctx.daily, intervals

    def drawn(first: date, end: date) -> pd.DataFrame:
        return _without_roof_hours(
            interval_frame(meter=ctx.meter, first_day=first, end_day=end, delivered=True),
            interval_frame(meter=ctx.meter, first_day=first, end_day=end),
        )

    return delivered_daily(ctx.history), drawn


#: An interval of the day is one of the roof's hours when the home sent energy back in it on
#: at least this share of the days read.
ROOF_SLOT_SHARE = 0.1


def _without_roof_hours(drawn: pd.DataFrame, net: pd.DataFrame) -> pd.DataFrame:
    """``drawn`` (intervals: ``date``, ``slot``, ``quantity``) with every interval of the
    roof's hours (``net`` below zero in that slot on :data:`ROOF_SLOT_SHARE` of the days) at
    that slot's median over the days read: no run can stand out there, and the day keeps its
    other hours' evidence (an evening heater)."""
    days = net["date"].nunique()
    if not days:
        return drawn
    exporting = net[net["quantity"] < 0].groupby("slot").size()
    roof = exporting.index[exporting >= ROOF_SLOT_SHARE * days]
    hours = drawn["slot"].isin(roof)
    typical = drawn.groupby("slot")["quantity"].transform("median")
    return drawn.assign(quantity=drawn["quantity"].where(~hours, typical))


def drafts(ctx: MeterContext) -> list[InsightDraft]:
    daily, intervals = scanned_usage(ctx)
    model = fit_as_of(daily, ctx.last_day) if ctx.meter.bidirectional else ctx.model
    if model is None:
        return []
    scores = scan_anomalies(
        daily=daily.loc[model.training_dates[0] :],
        weather=ctx.history.weather,
        model=model,
        scan_from=ctx.last_day - timedelta(days=ANOMALY_SCAN_DAYS - 1),
        intervals=intervals,
        interval_seconds=ctx.meter.interval_seconds,
    )
    return [_day_anomaly(ctx, daily, row) for row in scores[scores["anomalous"]].itertuples()]


def scan_anomalies(
    *,
    daily: pd.DataFrame,
    weather: pd.Series,
    model: DailyModel,
    scan_from: date,
    intervals: Callable[[date, date], pd.DataFrame] | None,
    interval_seconds: int,
) -> pd.DataFrame:
    """Scores of the days from ``scan_from`` (the frame's other days are their context).

    A day is expected at the daily model's usage for its weather and weekday plus the home's
    level on the days before it (:func:`~insights.analytics.bill.recent_level`, the forecast's
    recency). For a meter read hourly or finer (``intervals``: its measured intervals of local
    dates ``[first, end)``, each ``interval_seconds`` long), a day is unusual when a run of its
    intervals is far above the same intervals of the home's days like it (days far below
    their expectation, days away, are no reference: ``anomalies.ordinary_days``;
    ``anomalies.run_scores``: ``run_z``, ``run_start``, ``run_end``, ``run_excess``;
    ``anomalies.unusual_runs``), or when the home's floor was lifted for hours on a day well
    above its expectation (``anomalies.lifted_days``), and added a share of the day worth
    telling, on a day above its expectation (a day with too few of its intervals measured is
    not judged: a utility's estimates are no measurement). For a
    meter read less often, when its total is far above its expectation
    (``anomalies.daily_scores``: ``actual``, ``expected``, ``z``). ``anomalous`` says which.
    """
    complete = daily["coverage"] >= COMPLETE_COVERAGE
    actual = daily["quantity"].where(complete)
    level = recent_level(model, daily).before.reindex(daily.index).ffill().fillna(0.0)
    base = pd.Series(expected_daily(model, weather, daily.index), index=daily.index)
    expected = (base + level).clip(lower=0.0)
    days = anomalies.daily_scores(actual, expected)
    scores = days[days.index >= pd.Timestamp(scan_from)]
    if intervals is None or 3600 % interval_seconds or scores.empty:
        return scores.assign(run_z=float("nan"), run_start=-1, run_end=-1, run_excess=float("nan"))
    frame = intervals(
        scan_from - timedelta(days=anomalies.PROFILE_DAYS),
        scores.index[-1].date() + timedelta(days=1),
    )
    runs = anomalies.run_scores(
        frame,
        expected.where(complete),
        anomalies.ordinary_days(days),
        pd.Timestamp(scan_from),
        3600 // interval_seconds,
    ).reindex(scores.index)
    unusual_run = (
        (anomalies.unusual_runs(runs) | anomalies.lifted_days(runs, scores))
        & (runs["run_excess"] >= anomalies.MIN_RUN_EXCESS_SHARE * scores["expected"])
        & (scores["actual"] > scores["expected"])
    )
    return scores.assign(
        anomalous=unusual_run,
        run_z=runs["run_z"],
        run_start=runs["run_start"].fillna(-1).astype(int),
        run_end=runs["run_end"].fillna(-1).astype(int),
        run_excess=runs["run_excess"],
    )


def _day_anomaly(ctx: MeterContext, daily: pd.DataFrame, row) -> InsightDraft:
    """The draft of a day ``row`` of the scan of ``daily`` (:func:`scanned_usage`) found
    unusual; its excess is priced at what that day's usage cost (on a bidirectional meter,
    what it drew: the import price, not the net's blend with the export credit)."""
    day = row.Index.date()
    excess = row.actual - row.expected
    price = ctx.price(day, day + timedelta(days=1), daily)
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
    if row.run_start >= 0:
        summary += " " + _("Most of it was between %(start)s and %(end)s.") % {
            "start": words.hour(row.run_start),
            "end": words.hour(row.run_end),
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
