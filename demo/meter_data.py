"""Demo meter data: a year and more of synthetic readings for the demo utility's meters.

Generated with ``usage.synthetic`` (weather-driven, DST-correct, with gaps, estimates and
injected anomalies) and loaded through ``readings_upsert``, the same validation, upsert and
rollup catch-up path as an imported file.
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
from usage.imports import readings_upsert
from usage.models import Quality


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
    series: synthetic.SyntheticSeries, before: datetime
) -> Iterator[tuple[datetime, Decimal, None, str]]:
    """The series' readings that have ended by ``before`` (a meter reports whole intervals)."""
    cutoff = before.timestamp() - series.interval_seconds
    for start, quantity, estimated in zip(
        series.starts.tolist(), series.quantities.tolist(), series.estimated.tolist(), strict=True
    ):
        if start > cutoff:
            return
        yield (
            datetime.fromtimestamp(start, UTC),
            Decimal(f"{quantity:.{series.decimals}f}"),
            None,
            Quality.ESTIMATED if estimated else Quality.ACTUAL,
        )


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

    Each home's profile comes from the seed, so re-running with the same seed upserts
    identical readings (nothing changes).
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
        generate = (
            synthetic.gas_intervals
            if meter.service_type == ServiceType.GAS
            else synthetic.electric_intervals
        )
        series = generate(
            profile=profile,
            start_utc=local_date_start(zone(meter.timezone), first_day),
            days=days,
            tz=meter.timezone,
            temperatures=temperatures,
            seed=seed * 100_003 + index * 2 + (meter.service_type == ServiceType.GAS),
        )
        result = readings_upsert(meter=meter, readings=_rows(series, before=now))
        loaded.append(DemoMeterData(meter, result.rows, series.ground_truth))
        if progress is not None:
            progress(1)
    return loaded
