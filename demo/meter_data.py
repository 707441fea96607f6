"""Demo meter data: a year and more of synthetic readings for the demo utility's meters.

Generated with ``usage.synthetic`` (weather-driven, DST-correct, with gaps, estimates and
injected anomalies) and loaded through ``readings_upsert``, the same validation, upsert and
rollup catch-up path as an imported file. A solar home's meter records both ways (its load net
of its rooftop array, interval by interval); a billing-read gas meter reports the register's
advance once per read period of 27-35 days.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.utils import timezone

from customers.models import Meter, ServiceType, Utility
from usage import synthetic
from usage.calendar import local_date_start, zone
from usage.imports import NewReading, readings_upsert
from usage.models import Direction, Quality

#: A monthly read comes every 27-35 days (a meter reader's round, or a drive-by).
_READ_PERIOD_DAYS = (27, 35)
#: Streams of a home's seed for what the load model does not draw: its rooftop array and
#: the days its gas meter is read.
_SOLAR_STREAM, _READ_DAYS_STREAM = 1, 2
#: A register that is never down: the monthly read sees every hour's gas.
_NO_IMPERFECTIONS = synthetic.Imperfections(
    outages_per_year=0, estimated_share=0, anomalies_per_year=0
)


@dataclass(frozen=True)
class DemoMeterData:
    meter: Meter
    readings: int
    ground_truth: synthetic.GroundTruth


def _profile(seed: int, index: int, meter: Meter, gas: bool) -> synthetic.HomeProfile:
    """A home profile for the meter's premise: its home type and floor area, and gas heating
    exactly when the account has a gas meter. Deterministic for (seed, account)."""
    rng = np.random.default_rng([seed, index])
    profile = synthetic.random_profile(rng)
    while profile.has_gas != gas:
        profile = synthetic.random_profile(rng)
    premise = meter.account.premise
    return dataclasses.replace(
        profile,
        home_type=premise.home_type,
        floor_area_sqm=premise.floor_area_sqm or profile.floor_area_sqm,
    )


def _rows(
    series: synthetic.SyntheticSeries,
    before: datetime,
    direction: Direction = Direction.DELIVERED,
) -> Iterator[NewReading]:
    """The series' readings that have ended by ``before`` (a meter reports whole intervals)."""
    cutoff = before.timestamp() - series.interval_seconds
    for start, quantity, estimated in zip(
        series.starts.tolist(), series.quantities.tolist(), series.estimated.tolist(), strict=True
    ):
        if start > cutoff:
            return
        yield NewReading(
            start=datetime.fromtimestamp(start, UTC),
            quantity=Decimal(f"{quantity:.{series.decimals}f}"),
            quality=Quality.ESTIMATED if estimated else Quality.ACTUAL,
            direction=direction,
        )


def _solar_rows(
    load: synthetic.SyntheticSeries,
    *,
    region: str,
    seed: int,
    index: int,
    before: datetime,
) -> Iterator[NewReading]:
    """Both channels of a solar home's meter: ``load`` net of the home's rooftop array (sized
    to what it uses), DELIVERED where the home needs more than the roof gives, RECEIVED where
    the roof gives more, interval by interval (0 at night, so RECEIVED has every interval)."""
    rng = np.random.default_rng([seed, index, _SOLAR_STREAM])
    generation = synthetic.solar_intervals(
        array=synthetic.sized_solar_array(rng, load=load, region=region),
        region=region,
        starts=load.starts,
        interval_seconds=load.interval_seconds,
        seed=int(rng.integers(2**32)),
    )
    delivered, received = synthetic.net_metered(load, generation)
    yield from _rows(delivered, before)
    yield from _rows(received, before, Direction.RECEIVED)


def _read_periods(
    hourly: synthetic.SyntheticSeries, *, tz: str, seed: int, index: int, before: datetime
) -> Iterator[NewReading]:
    """The monthly reads of a gas meter whose hourly use is ``hourly``: read at local midnight
    every 27-35 days from the series' first day, each the advance of a whole-therm register (so
    the reads add up to the gas used), the last one ended by ``before``."""
    rng = np.random.default_rng([seed, index, _READ_DAYS_STREAM])
    tzinfo = zone(tz)
    day = hourly.ground_truth.first_local_date
    register = np.concatenate([[0.0], np.cumsum(hourly.quantities)])
    start = local_date_start(tzinfo, day)
    shown = 0.0
    while True:
        day += timedelta(days=int(rng.integers(_READ_PERIOD_DAYS[0], _READ_PERIOD_DAYS[1] + 1)))
        end = local_date_start(tzinfo, day)
        if end > before:
            return
        reading = float(np.floor(register[np.searchsorted(hourly.starts, end.timestamp())]))
        yield NewReading(start=start, quantity=Decimal(round(reading - shown)), end=end)
        start, shown = end, reading


def demo_weather(*, utility: Utility, days: int, seed: int) -> dict[str, tuple[date, np.ndarray]]:
    """Each weather region of ``utility``'s premises: its first local date and the daily mean
    °C of the ``days`` local days up to today (what the demo's usage will follow)."""
    regions = (
        Meter.objects.filter(utility=utility)
        .values_list("account__premise__weather_region", "timezone")
        .distinct()
        .order_by("account__premise__weather_region")
    )
    weather: dict[str, tuple[date, np.ndarray]] = {}
    for region, timezone_name in regions:
        if region not in weather:
            first_day = _first_day(timezone_name, days)
            weather[region] = (
                first_day,
                synthetic.weather_series(region=region, start=first_day, days=days, seed=seed),
            )
    return weather


def _first_day(timezone_name: str, days: int) -> date:
    return timezone.now().astimezone(zone(timezone_name)).date() - timedelta(days=days - 1)


def demo_usage_seed(
    *,
    utility: Utility,
    weather: dict[str, tuple[date, np.ndarray]],
    days: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> list[DemoMeterData]:
    """Readings for every meter of ``utility`` over the ``days`` local days up to now, following
    ``weather`` (from :func:`demo_weather`).

    Each home's profile (and rooftop array, and read days) comes from the seed, so re-running
    with the same seed upserts identical readings (nothing changes).
    """
    now = timezone.now()
    meters = list(
        Meter.objects.filter(utility=utility)
        .select_related("account__premise", "tariff")
        .order_by("meter_number")
    )
    gas_accounts = {m.account_id for m in meters if m.service_type == ServiceType.GAS}
    # By account number (the customer's position): the same home for a seed on any install.
    numbers = {m.account_id: m.account.account_number for m in meters}
    account_index = {
        account_id: index
        for index, account_id in enumerate(sorted(numbers, key=numbers.__getitem__))
    }
    loaded = []
    for meter in meters:
        first_day, temperatures = weather[meter.account.premise.weather_region]
        index = account_index[meter.account_id]
        profile = _profile(seed, index, meter, meter.account_id in gas_accounts)
        gas = meter.service_type == ServiceType.GAS
        billing_read = meter.billing_read
        series = (synthetic.gas_intervals if gas else synthetic.electric_intervals)(
            profile=profile,
            start_utc=local_date_start(zone(meter.timezone), first_day),
            days=days,
            tz=meter.timezone,
            temperatures=temperatures,
            seed=seed * 100_003 + index * 2 + gas,
            imperfections=_NO_IMPERFECTIONS if billing_read else synthetic.DEFAULT_IMPERFECTIONS,
        )
        if billing_read:
            rows = list(
                _read_periods(series, tz=meter.timezone, seed=seed, index=index, before=now)
            )
        elif meter.bidirectional:
            rows = _solar_rows(
                series,
                region=meter.account.premise.weather_region,
                seed=seed,
                index=index,
                before=now,
            )
        else:
            rows = _rows(series, before=now)
        # A series shorter than a read period has no reads (and an import of nothing is refused).
        stored = 0 if rows == [] else readings_upsert(meter=meter, readings=rows).rows
        loaded.append(DemoMeterData(meter, stored, series.ground_truth))
        if progress is not None:
            progress(1)
    return loaded
