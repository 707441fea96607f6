"""PEAK_TIME: when a home's usage peaks and what shifting part of it off-peak would save (the
maths: :mod:`insights.analytics.peak`)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.utils.translation import gettext as _

from insights.analytics import peak
from insights.analytics.context import RECENT_DAYS, MeterContext, decimal
from insights.datasets import hourly_frame
from insights.drafts import InsightDraft
from metadata.catalog import InsightType

TYPE = InsightType.PEAK_TIME.name
VERSION = "peak-time/1.1"


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
    values = {"start": words.hour(hour), "end": words.hour(hour + 1), "share": words.percent(share)}
    summary = (
        _("On an average day %(share)s of your usage falls between %(start)s and %(end)s.") % values
    )
    if saving is not None and saving > 0:
        summary += " " + _(
            "Moving a fifth of your peak-rate usage to the cheapest hours would save about "
            "%(saving)s a month."
        ) % {"saving": words.money(decimal(saving))}
    elif saving is not None:
        summary += " " + _(
            "Your tariff charges the same at every hour, so shifting would not lower your bill."
        )
    return [
        ctx.draft(
            TYPE,
            VERSION,
            first,
            end,
            title=_("Your usage peaks between %(start)s and %(end)s") % values,
            summary=summary,
            data={
                "peakHour": hour,
                "peakShare": round(share, 3),
                "shiftableSavingPerMonth": ctx.money(saving),
                "timeOfUse": bool(ctx.meter.tariff and ctx.meter.tariff.time_of_use),
            },
        )
    ]
