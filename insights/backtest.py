"""What the backtest of ``evaluate_insights`` reads of a meter, whether loaded or generated.

A :class:`BacktestMeter` holds a meter's daily frame (as :mod:`insights.datasets` builds it),
its region's weather, its billing periods, its measured intervals and a baseload estimator, and the
ground truth where the data is synthetic. :func:`loaded_meter` builds one from the database
(the demo's meters carry their generator's truth in ``MeterGroundTruth``);
:func:`synthetic_meters` generates homes with :mod:`usage.synthetic` straight into frames, with
no database at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from insights.analytics import baseload
from insights.analytics.always_on import estimate_baseload, model_degree_days
from insights.analytics.bill import fit_as_of
from insights.analytics.context import MeterContext
from insights.analytics.usage_anomaly import scanned_usage
from insights.models import MeterGroundTruth
from metadata.catalog import ENERGY_UNITS_TO_KW
from usage import synthetic

#: Days after a lasting change of a home's use (a car, an occupant, an appliance) that are not
#: scored as anomalies or baseload: a new habit is news on its first days, and a model can
#: only learn it from the days that show it.
SETTLING_DAYS = 14


@dataclass(frozen=True)
class Truth:
    """What the generator put into the data."""

    anomaly_days: frozenset[date]
    baseload_watts: Callable[[date], float | None]
    unscored_days: frozenset[date] = frozenset()


@dataclass(frozen=True)
class BacktestMeter:
    key: str
    daily: pd.DataFrame
    """One row per local date: ``quantity``, ``coverage``, ``temperature``."""
    weather: pd.Series
    billing_period: Callable[[date], tuple[date, date]]
    intervals: Callable[[date, date], pd.DataFrame] | None
    """The measured intervals of local dates ``[first, end)``: ``date``, ``slot``,
    ``quantity`` (:func:`insights.datasets.interval_frame`); None for a meter read less often
    than hourly."""
    interval_seconds: int
    baseload: Callable[[date], float | None] | None
    """The always-on power (W) estimated as of a date; None for a meter without one."""
    truth: Truth | None = None
    net_metered: bool = False
    """A bidirectional meter: its totals are net of what it exported, near zero or below zero
    in sunny months, where a percentage error means nothing, so its forecasts are not scored."""
    scanned: pd.DataFrame | None = None
    """The daily frame the anomaly scan reads, where it is not ``daily``: a bidirectional
    meter's DELIVERED channel (:func:`~insights.analytics.usage_anomaly.scanned_usage`; its
    ``intervals`` are of that channel too)."""

    @property
    def anomaly_daily(self) -> pd.DataFrame:
        return self.daily if self.scanned is None else self.scanned

    @property
    def first_day(self) -> date:
        return self.daily.index[0].date()

    @property
    def last_day(self) -> date:
        return self.daily.index[-1].date()


def loaded_meter(ctx: MeterContext) -> BacktestMeter:
    """The backtest's view of a meter in the database."""
    meter = ctx.meter
    hourly = meter.interval_seconds <= 3600
    scanned, intervals = scanned_usage(ctx)
    stored = MeterGroundTruth.objects.filter(meter=meter).first()
    truth = None
    if stored is not None:
        watts = stored.baseload_watts
        truth = Truth(
            anomaly_days=frozenset(date.fromisoformat(a["date"]) for a in stored.anomalies),
            baseload_watts=lambda _day: watts,
        )
    energy = meter.unit_of_measure in ENERGY_UNITS_TO_KW and hourly
    return BacktestMeter(
        key=str(meter.pk),
        daily=ctx.daily,
        weather=ctx.history.weather,
        billing_period=ctx.billing_period,
        intervals=intervals if hourly else None,
        interval_seconds=meter.interval_seconds,
        baseload=(lambda day: estimate_baseload(ctx, last_day=day)) if energy else None,
        truth=truth,
        net_metered=meter.bidirectional,
        scanned=scanned if meter.bidirectional else None,
    )


#: Regions the synthetic homes are spread over: cold, mixed, hot and mild climates.
SYNTHETIC_REGIONS = ("BOS", "CHI", "NYC", "ATL", "DEN", "SEA", "PHX")
#: Days of data per synthetic home: a year of history and then some, so periods have a
#: year-ago twin; weather starts two years earlier (a region's history outlives any home's).
SYNTHETIC_DAYS = 550
SYNTHETIC_WEATHER_LEAD_DAYS = 730
SYNTHETIC_START = date(2024, 6, 1)
#: Anomalies of several sizes, "an extra load of a few kW for several hours": from a 1 kW
#: heater for four hours (4 kWh) to 3.5 kW for twelve (42 kWh).
SYNTHETIC_IMPERFECTIONS = synthetic.Imperfections(
    anomalies_per_year=6.0, anomaly_hours=(4.0, 12.0), anomaly_rate=(1.0, 3.5)
)


def _local(starts: np.ndarray, tz: str, first: date) -> tuple[np.ndarray, np.ndarray]:
    """Each start's local day (from ``first``) and local second of that day."""
    local = starts + synthetic.utc_offsets(starts, tz)
    day = local // 86_400 - (first.toordinal() - date(1970, 1, 1).toordinal())
    return day.astype(np.int64), (local % 86_400).astype(np.int64)


def _series_frames(
    series: synthetic.SyntheticSeries, tz: str, days: int, weather: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The daily frame, the measured intervals and the night intervals' demand of a series."""
    truth = series.ground_truth
    first = truth.first_local_date
    zone = ZoneInfo(tz)
    begin = int(datetime.combine(first, datetime.min.time(), zone).timestamp())
    end = int(datetime.combine(first + timedelta(days=days), datetime.min.time(), zone).timestamp())
    grid = np.arange(begin, end, series.interval_seconds, dtype=np.int64)
    grid_day = _local(grid, tz, first)[0]
    day, second = _local(series.starts, tz, first)
    expected = np.bincount(grid_day, minlength=days)
    read = np.bincount(day, minlength=days)
    quantity = np.bincount(day, weights=series.quantities, minlength=days)
    dates = pd.date_range(first, periods=days, freq="D")
    daily = pd.DataFrame(
        {
            "quantity": np.where(read > 0, quantity, np.nan),
            "coverage": np.minimum(1.0, read / expected),
        },
        index=dates,
    )
    daily["temperature"] = weather.reindex(dates).to_numpy()
    measured = ~series.estimated
    intervals = pd.DataFrame(
        {
            "date": dates[day[measured]],
            "slot": second[measured] // series.interval_seconds,
            "quantity": series.quantities[measured],
        }
    )
    night = np.isin(second // 3600, sorted(baseload.NIGHT_HOURS)) & measured
    kw_per_unit = ENERGY_UNITS_TO_KW.get(series.unit)
    watts_per_unit = (kw_per_unit or 0.0) * 1000 * 3600 / series.interval_seconds
    nights = pd.DataFrame(
        {"date": dates[day[night]], "watts": series.quantities[night] * watts_per_unit}
    )
    return daily, intervals, nights


def synthetic_meter(index: int, seed: int) -> BacktestMeter:
    """Home ``index`` of the synthetic set ``seed``: an electric meter (15 minutes) in one of
    :data:`SYNTHETIC_REGIONS`, with drifting habits (:data:`usage.synthetic.DRIFTING`)."""
    rng = np.random.default_rng([seed, index])
    region = SYNTHETIC_REGIONS[index % len(SYNTHETIC_REGIONS)]
    tz = synthetic.WEATHER_REGIONS[region].timezone
    weather_start = SYNTHETIC_START - timedelta(days=SYNTHETIC_WEATHER_LEAD_DAYS)
    temperatures = synthetic.weather_series(
        region=region,
        start=weather_start,
        days=SYNTHETIC_WEATHER_LEAD_DAYS + SYNTHETIC_DAYS,
        seed=seed,
    )
    weather = pd.Series(
        temperatures, index=pd.date_range(weather_start, periods=len(temperatures), freq="D")
    )
    series = synthetic.electric_intervals(
        profile=synthetic.random_profile(rng),
        start_utc=datetime.combine(SYNTHETIC_START, datetime.min.time(), ZoneInfo(tz)),
        days=SYNTHETIC_DAYS,
        tz=tz,
        temperatures=temperatures[SYNTHETIC_WEATHER_LEAD_DAYS:],
        seed=int(rng.integers(2**31)),
        imperfections=SYNTHETIC_IMPERFECTIONS,
        behaviour=synthetic.DRIFTING,
    )
    daily, intervals, nights = _series_frames(series, tz, SYNTHETIC_DAYS, weather)
    truth = series.ground_truth

    def intervals_of(first: date, end: date) -> pd.DataFrame:
        dates = intervals["date"]
        return intervals[(dates >= pd.Timestamp(first)) & (dates < pd.Timestamp(end))]

    def baseload_as_of(day: date) -> float | None:
        model = fit_as_of(daily, day)
        return baseload.baseload_watts(
            nights[nights["date"] <= pd.Timestamp(day)],
            last_day=day,
            degree_days=None if model is None else model_degree_days(model, daily),
        )

    def month(day: date) -> tuple[date, date]:
        first = day.replace(day=1)
        return first, (first + timedelta(days=32)).replace(day=1)

    settling = frozenset(
        change.local_date + timedelta(days=k)
        for change in truth.changes
        for k in range(SETTLING_DAYS)
    )
    return BacktestMeter(
        key=f"synthetic-{seed}-{index}",
        daily=daily,
        weather=weather,
        billing_period=month,
        intervals=intervals_of,
        interval_seconds=series.interval_seconds,
        baseload=baseload_as_of,
        truth=Truth(
            anomaly_days=frozenset(a.local_date for a in truth.anomalies),
            baseload_watts=truth.baseload_watts_on,
            unscored_days=settling,
        ),
    )
