"""PEAK_TIME: when a home's usage peaks and what shifting part of it off-peak would save (the
maths: :mod:`insights.analytics.peak`)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from insights.analytics import peak
from insights.analytics.context import RECENT_DAYS, MeterContext, decimal
from insights.datasets import hourly_frame
from insights.drafts import InsightDraft
from metadata.catalog import InsightType

TYPE = InsightType.PEAK_TIME.name
VERSION = "peak-time/1.0"


def drafts(ctx: MeterContext) -> list[InsightDraft]:
    if ctx.meter.interval_seconds > 3600:
        return []
    first = ctx.last_day - timedelta(days=RECENT_DAYS - 1)
    end = ctx.last_day + timedelta(days=1)
    hours = hourly_frame(meter=ctx.meter, first_day=first, end_day=end)
    hours = hours[hours["complete"]]
    if hours["date"].nunique() < RECENT_DAYS // 2:
        return []
    hour, share = peak.peak_hour(hours["hour"].to_numpy(), hours["quantity"].to_numpy())
    prices = np.array(
        [
            float(ctx.grid.get((d, h), np.nan))
            for d, h in zip(hours["isoweekday"], hours["hour"], strict=True)
        ]
    )
    priced = np.isfinite(prices)
    saving = (
        peak.shift_saving(
            hours["quantity"].to_numpy()[priced], prices[priced], days=hours["date"].nunique()
        )
        if priced.any()
        else None
    )
    words = ctx.wording
    if saving is None:
        saving_words = ""
    elif saving > 0:
        saving_words = (
            f" Moving a fifth of your peak-rate usage to the cheapest hours would save about "
            f"{words.money(decimal(saving))} a month."
        )
    else:
        saving_words = (
            " Your tariff charges the same at every hour, so shifting would not lower your bill."
        )
    return [
        ctx.draft(
            TYPE,
            VERSION,
            ctx.instant(first),
            ctx.instant(end),
            title=f"Your usage peaks between {hour:02d}:00 and {(hour + 1) % 24:02d}:00",
            summary=(
                f"On an average day {words.percent(share)} of your usage falls between "
                f"{hour:02d}:00 and {(hour + 1) % 24:02d}:00.{saving_words}"
            ),
            data={
                "peakHour": hour,
                "peakShare": round(share, 3),
                "shiftableSavingPerMonth": ctx.money(saving),
                "timeOfUse": bool(ctx.meter.tariff and ctx.meter.tariff.time_of_use),
            },
        )
    ]
