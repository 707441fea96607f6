"""The data the insight models read, as pandas frames: DAY and HOUR rollups and the weather.

Models read rollups: they are exact totals per local bucket, and cheap, and read them net
(delivered - received, contract 10.1): a solar home's forecasts, comparisons and anomalies are
of what it draws from the grid less what it sends back. A bucket of a bidirectional meter is
as complete as the less complete of its two channels. The one exception is
always-on power, which needs the night-time intervals themselves (an hour's total hides the
heat pump's off-cycles): :func:`night_interval_demand` reads the raw readings of at most
:data:`~insights.analytics.baseload.WINDOW_DAYS` chosen nights, five hours each.
Dates are the meter's local calendar dates, as naive pandas Timestamps at midnight.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import reduce

import numpy as np
import pandas as pd
from django.db.models import Case, Count, F, Q, QuerySet, Sum, When
from django.db.models.functions import ExtractHour, Least
from django.utils import timezone

from customers.models import Meter
from insights.analytics.baseload import LOOKBACK_DAYS, NIGHT_HOURS
from insights.models import WeatherDay
from metadata.catalog import ENERGY_UNITS_TO_KW, Granularity
from usage.calendar import local_date_start, zone
from usage.models import NET_COST, NET_QUANTITY, Direction, Quality, Reading, Rollup


def meter_weather_region(meter: Meter) -> str:
    """The weather region of the meter's premise ('' when it has none)."""
    premise = getattr(meter.account, "premise", None)
    return premise.weather_region if premise is not None else ""


def region_weather(region: str) -> pd.Series:
    """Every daily mean temperature (°C) known for ``region``, by date; empty without one."""
    rows = (
        WeatherDay.objects.filter(region=region)
        .order_by("date")
        .values_list("date", "mean_temperature_c")
        if region
        else []
    )
    dates, values = zip(*rows, strict=True) if rows else ((), ())
    return pd.Series(
        np.asarray(values, dtype=float), index=pd.DatetimeIndex(dates), name="temperature"
    )


@dataclass(frozen=True)
class MeterHistory:
    """A meter's whole daily history, ready for the models."""

    meter: Meter
    daily: pd.DataFrame
    """One row per local date from the first day with data to ``last_day``: ``quantity``,
    ``cost`` (NaN where unpriced or unread), ``coverage`` (0-1), ``temperature`` (°C or NaN)."""
    weather: pd.Series
    """The premise region's whole weather history (may reach past ``last_day``: forecasts)."""
    last_day: date
    """The last local date with data, never today or later (today is still being read)."""

    @property
    def first_day(self) -> date:
        return self.daily.index[0].date()


def net_rollups(meter: Meter, granularity: Granularity) -> QuerySet[Rollup]:
    """The meter's rollups of ``granularity`` annotated with their net ``net_quantity`` and
    ``net_cost`` and ``present``, the readings of the less complete channel (only the delivered
    one on a meter that is not bidirectional)."""
    present = F("actual_count") + F("estimated_count")
    if meter.bidirectional:
        present = Least(present, F("received_actual_count") + F("received_estimated_count"))
    return Rollup.objects.filter(meter=meter, granularity=granularity.name).annotate(
        net_quantity=NET_QUANTITY, net_cost=NET_COST, present=present
    )


def meter_history(*, meter: Meter, today: date | None = None) -> MeterHistory | None:
    """The meter's DAY rollups (net) and weather as a frame; None when it has no complete day
    yet (nor ever, for a billing-read meter: its rollups are read periods)."""
    tz = zone(meter.timezone)
    today = today or timezone.now().astimezone(tz).date()
    rows = list(
        net_rollups(meter, Granularity.DAY)
        .filter(start__lt=local_date_start(tz, today))
        .order_by("start")
        .values_list("start", "net_quantity", "net_cost", "present", "expected_count")
    )
    if not rows:
        return None
    daily = _daily_frame(meter, rows)
    weather = region_weather(meter_weather_region(meter))
    daily["temperature"] = weather.reindex(daily.index).to_numpy()
    return MeterHistory(meter=meter, daily=daily, weather=weather, last_day=daily.index[-1].date())


def delivered_daily(history: MeterHistory) -> pd.DataFrame:
    """``history``'s daily frame of what its meter drew from the grid: the DELIVERED channel
    alone (its ``quantity``, ``cost`` and ``coverage``), on the same dates and temperatures.
    The same as ``history.daily`` for a meter that is not bidirectional."""
    tz = zone(history.meter.timezone)
    rows = list(
        Rollup.objects.filter(
            meter=history.meter,
            granularity=Granularity.DAY.name,
            start__gte=local_date_start(tz, history.first_day),
            start__lt=local_date_start(tz, history.last_day + timedelta(days=1)),
        )
        .annotate(present=F("actual_count") + F("estimated_count"))
        .order_by("start")
        .values_list("start", "quantity", "cost", "present", "expected_count")
    )
    daily = _daily_frame(history.meter, rows).reindex(history.daily.index)
    daily["coverage"] = daily["coverage"].fillna(0.0)
    daily["temperature"] = history.daily["temperature"]
    return daily


def _daily_frame(meter: Meter, rows: list[tuple]) -> pd.DataFrame:
    """DAY rollup ``rows`` of (start, quantity, cost, present, expected count) as a frame by
    local date from the first to the last: ``quantity``, ``cost`` and ``coverage`` (0 on
    a date without a rollup)."""
    tz = zone(meter.timezone)
    frame = pd.DataFrame(
        [
            (
                start.astimezone(tz).date(),
                float(quantity),
                np.nan if cost is None else float(cost),
                min(1.0, present / float(expected)),
            )
            for start, quantity, cost, present, expected in rows
        ],
        columns=["date", "quantity", "cost", "coverage"],
    )
    frame["date"] = pd.to_datetime(frame["date"])
    index = pd.date_range(frame["date"].iloc[0], frame["date"].iloc[-1], freq="D")
    daily = frame.set_index("date").reindex(index)
    daily["coverage"] = daily["coverage"].fillna(0.0)
    return daily


#: What is read of an HOUR rollup (of :func:`net_rollups`).
_HOUR_FIELDS = ("start", "end", "net_quantity", "net_cost", "present", "expected_count")


def _hour_frame(meter: Meter, rows: Iterable[dict]) -> pd.DataFrame:
    """A frame of HOUR rollup ``rows`` (dicts of :data:`_HOUR_FIELDS`)."""
    tz = zone(meter.timezone)
    records = []
    for row in rows:
        start, end, cost = row["start"], row["end"], row["net_cost"]
        local = start.astimezone(tz)
        records.append(
            (
                start,
                end,
                pd.Timestamp(local.date()),
                local.hour,
                local.isoweekday(),
                float(row["net_quantity"]),
                np.nan if cost is None else float(cost),
                (end - start).total_seconds() / 3600,
                row["present"] >= row["expected_count"],
            )
        )
    frame = pd.DataFrame(
        records,
        columns=[
            "start",
            "end",
            "date",
            "hour",
            "isoweekday",
            "quantity",
            "cost",
            "hours",
            "complete",
        ],
    )
    frame["date"] = pd.to_datetime(frame["date"])
    frame["complete"] = frame["complete"].astype(bool)
    return frame


def hourly_frame(*, meter: Meter, first_day: date, end_day: date) -> pd.DataFrame:
    """The meter's HOUR rollups on local dates ``[first_day, end_day)``: ``date``, ``hour``
    (local wall hour), ``isoweekday``, ``quantity``, ``cost``, ``hours`` (the bucket's real
    length) and ``complete`` (every interval read)."""
    tz = zone(meter.timezone)
    rows = (
        net_rollups(meter, Granularity.HOUR)
        .filter(start__gte=local_date_start(tz, first_day), start__lt=local_date_start(tz, end_day))
        .order_by("start")
        .values(*_HOUR_FIELDS)
    )
    return _hour_frame(meter, list(rows))


def night_demand(*, meter: Meter, last_day: date) -> pd.DataFrame:
    """Average demand (W) of each complete night-time hour in the year up to ``last_day``:
    ``date`` and ``watts``. Empty for meters whose unit is not energy (gas, water)."""
    kw_per_unit = ENERGY_UNITS_TO_KW.get(meter.unit_of_measure)
    if kw_per_unit is None:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "watts": []})
    tz = zone(meter.timezone)
    rows = (
        net_rollups(meter, Granularity.HOUR)
        .filter(
            start__gte=local_date_start(tz, last_day - timedelta(days=LOOKBACK_DAYS)),
            start__lt=local_date_start(tz, last_day + timedelta(days=1)),
        )
        .annotate(local_hour=ExtractHour("start", tzinfo=tz))
        .filter(local_hour__in=sorted(NIGHT_HOURS))
        .order_by("start")
        .values(*_HOUR_FIELDS)
    )
    hours = _hour_frame(meter, list(rows))
    hours = hours[hours["complete"]]
    watts = hours["quantity"] * kw_per_unit * 1000 / hours["hours"]
    return pd.DataFrame({"date": hours["date"], "watts": watts})


def _measured_intervals(
    meter: Meter, spans: Q, delivered: bool = False
) -> list[tuple[datetime, Decimal]]:
    """``(start, net quantity)`` of the meter's measured (ACTUAL) intervals within ``spans``,
    by start; an interval of a bidirectional meter only when both its readings are measured.
    ``delivered``: the DELIVERED readings alone (what a bidirectional meter drew)."""
    if delivered:
        return list(
            Reading.objects.filter(
                spans, meter=meter, quality=Quality.ACTUAL, direction=Direction.DELIVERED
            )
            .order_by("start")
            .values_list("start", "quantity")
        )
    return list(
        Reading.objects.filter(spans, meter=meter, quality=Quality.ACTUAL)
        .values("start")
        .annotate(
            net=Sum(
                Case(When(direction=Direction.RECEIVED, then=-F("quantity")), default="quantity")
            ),
            channels=Count("direction"),
        )
        .filter(channels=2 if meter.bidirectional else 1)
        .order_by("start")
        .values_list("start", "net")
    )


def night_interval_demand(*, meter: Meter, nights: Iterable[pd.Timestamp]) -> pd.DataFrame:
    """Average net demand (W) of each measured (ACTUAL) night-time interval of ``nights`` (local
    dates): ``date`` and ``watts``. Raw readings, so at the meter's own resolution; estimated
    reads are left out (a utility's interpolation is not a measurement of the off-cycles), and
    so is an interval of a bidirectional meter without a measured reading in both directions."""
    kw_per_unit = ENERGY_UNITS_TO_KW.get(meter.unit_of_measure)
    nights = sorted({pd.Timestamp(night).date() for night in nights})
    if kw_per_unit is None or not nights:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "watts": []})
    tz = zone(meter.timezone)
    night_end = max(NIGHT_HOURS) + 1
    spans = reduce(
        operator.or_,
        (
            Q(
                start__gte=local_date_start(tz, night),
                start__lt=datetime.combine(night, time(night_end), tzinfo=tz),
            )
            for night in nights
        ),
    )
    watts_per_unit = kw_per_unit * 1000 * 3600 / meter.interval_seconds
    records = []
    for start, quantity in _measured_intervals(meter, spans):
        local = start.astimezone(tz)
        if local.hour in NIGHT_HOURS:
            records.append((pd.Timestamp(local.date()), float(quantity) * watts_per_unit))
    frame = pd.DataFrame(records, columns=["date", "watts"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def interval_frame(
    *, meter: Meter, first_day: date, end_day: date, delivered: bool = False
) -> pd.DataFrame:
    """The meter's measured intervals (as :func:`night_interval_demand` takes them: ACTUAL,
    net; ``delivered``: of the DELIVERED channel alone) on local dates ``[first_day,
    end_day)``: ``date``, ``slot`` (the interval's place in its local day by the wall clock:
    minutes since midnight // the interval's minutes) and ``quantity``. Raw readings: an
    hour's total hides what a constant extra load looks like next to a compressor's or a
    kettle's bursts."""
    tz = zone(meter.timezone)
    rows = _measured_intervals(
        meter,
        Q(start__gte=local_date_start(tz, first_day), start__lt=local_date_start(tz, end_day)),
        delivered,
    )
    starts = pd.to_datetime([start for start, _ in rows], utc=True).tz_convert(tz)
    minutes = starts.hour * 60 + starts.minute
    return pd.DataFrame(
        {
            "date": starts.normalize().tz_localize(None),
            "slot": np.asarray(minutes // (meter.interval_seconds // 60), dtype=np.int64),
            "quantity": np.array([float(quantity) for _, quantity in rows]),
        }
    )


def read_periods(*, meter: Meter) -> pd.DataFrame:
    """A billing-read meter's read periods (its BILLING_PERIOD rollups, one per reading), in
    order: ``start`` and ``end`` (UTC instants), ``quantity`` and ``cost`` (net; NaN where
    unpriced)."""
    rows = (
        net_rollups(meter, Granularity.BILLING_PERIOD)
        .order_by("start")
        .values_list("start", "end", "net_quantity", "net_cost")
    )
    return pd.DataFrame(
        [
            (start, end, float(quantity), np.nan if cost is None else float(cost))
            for start, end, quantity, cost in rows
        ],
        columns=["start", "end", "quantity", "cost"],
    )


def billing_period_rollups(*, meter: Meter, starts: Iterable[datetime]) -> dict[datetime, Rollup]:
    """The meter's BILLING_PERIOD rollups (billing periods, or read periods of a billing-read
    meter) starting at ``starts``, by start; a period without readings is missing."""
    rollups = Rollup.objects.filter(
        meter=meter, granularity=Granularity.BILLING_PERIOD.name, start__in=list(starts)
    )
    return {rollup.start: rollup for rollup in rollups}
