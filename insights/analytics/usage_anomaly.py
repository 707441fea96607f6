"""USAGE_ANOMALY: a day or hour when usage was far above what the weather and the home's
habits explain (the scores: :mod:`insights.analytics.anomalies`)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from insights.analytics import anomalies
from insights.analytics.bill import COMPLETE_COVERAGE, expected_daily
from insights.analytics.context import MeterContext, decimal, quantity
from insights.analytics.daily_model import DailyModel
from insights.datasets import hourly_frame
from insights.drafts import InsightDraft
from insights.models import Severity
from metadata.catalog import Granularity, InsightType
from usage.calendar import zone

TYPE = InsightType.USAGE_ANOMALY.name
VERSION = "usage-anomaly/1.0"

#: Days an anomaly scan looks back (a nightly rerun sees each day about 30 times: idempotent).
ANOMALY_SCAN_DAYS = 30
#: Days the hourly anomaly scan looks back.
HOURLY_SCAN_DAYS = 7


def drafts(ctx: MeterContext) -> list[InsightDraft]:
    if ctx.model is None:
        return []
    scores = scan_daily_anomalies(
        daily=ctx.daily.loc[ctx.model.training_dates[0] :],
        weather=ctx.history.weather,
        model=ctx.model,
        scan_from=ctx.last_day - timedelta(days=ANOMALY_SCAN_DAYS - 1),
    )
    flagged = scores[scores["anomalous"]]
    found = [_day_anomaly(ctx, row) for row in flagged.itertuples()]
    if ctx.meter.interval_seconds <= 3600:
        elevated = scores[(scores["z"] >= anomalies.ELEVATED_DAY_THRESHOLD) & ~scores["anomalous"]]
        found.extend(_hour_anomalies(ctx, days=set(elevated.index)))
    return found


def scan_daily_anomalies(
    *, daily: pd.DataFrame, weather: pd.Series, model: DailyModel, scan_from: date
) -> pd.DataFrame:
    """Scores (see ``anomalies.daily_scores``) of the days from ``scan_from``.

    The robust scale is taken over the whole frame given (the model's training year), so the
    first scanned day has a month of residuals either side of it as context.
    """
    complete = daily["coverage"] >= COMPLETE_COVERAGE
    actual = daily["quantity"].where(complete)
    expected = pd.Series(expected_daily(model, weather, daily.index), index=daily.index)
    scores = anomalies.daily_scores(actual, expected)
    return scores[scores.index >= pd.Timestamp(scan_from)]


def _day_anomaly(ctx: MeterContext, row) -> InsightDraft:
    day = row.Index.date()
    excess = row.actual - row.expected
    price = ctx.price(day, day + timedelta(days=1))
    words = ctx.wording
    cost_words = f", costing about {words.money(decimal(excess * price))} extra" if price else ""
    return ctx.draft(
        TYPE,
        VERSION,
        ctx.instant(day),
        ctx.instant(day + timedelta(days=1)),
        severity=Severity.ALERT if excess >= row.expected else Severity.WARNING,
        title=f"Unusually high usage on {words.day(day)}",
        summary=(
            f"You used {words.energy(row.actual)} on {words.day(day)}, "
            f"{words.energy(excess)} ({words.percent(excess / row.expected)}) more than "
            f"expected for the weather and the day of the week{cost_words}."
        ),
        data={
            "granularity": Granularity.DAY.name,
            "expectedQuantity": quantity(row.expected),
            "actualQuantity": quantity(row.actual),
            "excessQuantity": quantity(excess),
            "excessCost": ctx.money(None if price is None else excess * price),
            "unitOfMeasure": ctx.meter.unit_of_measure,
        },
    )


def _hour_anomalies(ctx: MeterContext, days: set[pd.Timestamp]) -> list[InsightDraft]:
    """Unusual hours of the last week's ``days`` (those somewhat, not very, unusual)."""
    scan_from = ctx.last_day - timedelta(days=HOURLY_SCAN_DAYS - 1)
    if not any(day >= pd.Timestamp(scan_from) for day in days):
        return []
    first = scan_from - timedelta(days=anomalies.HOUR_BASELINE_DAYS)
    hours = hourly_frame(meter=ctx.meter, first_day=first, end_day=ctx.last_day + timedelta(days=1))
    hours = hours[hours["complete"]]
    if hours.empty:
        return []
    dates = pd.DatetimeIndex(hours["date"].unique())
    day_expected = pd.Series(expected_daily(ctx.model, ctx.history.weather, dates), index=dates)
    hours = hours.assign(day_expected=day_expected.reindex(hours["date"]).to_numpy())
    flagged = anomalies.hourly_anomalies(hours, pd.Timestamp(scan_from))
    flagged = flagged[flagged["date"].isin(days)]
    words = ctx.wording
    tz = zone(ctx.meter.timezone)
    found = []
    for row in flagged.itertuples():
        excess = row.quantity - row.expected
        price = row.cost / row.quantity if row.quantity > 0 and np.isfinite(row.cost) else None
        local = row.start.astimezone(tz)
        when = f"{words.day(local.date())} at {local:%H:%M}"
        found.append(
            ctx.draft(
                TYPE,
                VERSION,
                row.start,
                row.end,
                severity=Severity.WARNING,
                title=f"Unusually high usage on {when}",
                summary=(
                    f"You used {words.energy(row.quantity)} in the hour from {when}, about "
                    f"{words.energy(excess)} more than usual for that hour."
                ),
                data={
                    "granularity": Granularity.HOUR.name,
                    "expectedQuantity": quantity(row.expected),
                    "actualQuantity": quantity(row.quantity),
                    "excessQuantity": quantity(excess),
                    "excessCost": ctx.money(None if price is None else excess * price),
                    "unitOfMeasure": ctx.meter.unit_of_measure,
                },
            )
        )
    return found
