"""Insight-test helpers: synthetic meter data loaded the way production holds it (readings,
rollups rebuilt from them, the weather it was generated from, its ground truth)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from customers.models import Meter
from insights.services import ground_truth_record, weather_upsert
from insights.weather import WeatherRow
from tests.conftest import make_account, make_meter
from usage.calendar import local_date_start, zone
from usage.models import Direction, Quality, Reading
from usage.rollups import rollups_rebuild
from usage.synthetic import (
    SyntheticSeries,
    electric_intervals,
    gas_intervals,
    random_profile,
    weather_series,
)

REGION = "BOS"
TIMEZONE = "America/New_York"


def store_weather(region: str, start: date, temperatures: np.ndarray) -> None:
    weather_upsert(
        rows=[
            WeatherRow(region, start + timedelta(days=i), Decimal(f"{t:.1f}"))
            for i, t in enumerate(temperatures)
        ]
    )


def store_readings(
    meter: Meter, series: SyntheticSeries, direction: Direction = Direction.DELIVERED
) -> None:
    """Readings of ``series`` on ``meter`` in ``direction`` (no rollups)."""
    quality = np.where(series.estimated, Quality.ESTIMATED, Quality.ACTUAL)
    Reading.objects.bulk_create(
        (
            Reading(
                meter=meter,
                start=datetime.fromtimestamp(int(start), tz=zone("UTC")),
                quantity=Decimal(f"{quantity:.{series.decimals}f}"),
                quality=q,
                direction=direction,
            )
            for start, quantity, q in zip(series.starts, series.quantities, quality, strict=True)
        ),
        batch_size=5000,
    )


def store_series(meter: Meter, series: SyntheticSeries) -> None:
    """Readings of ``series`` on ``meter``, its rollups, and its ground truth."""
    store_readings(meter, series)
    rollups_rebuild(meter=Meter.objects.select_related("account").get(pk=meter.pk))
    truth = series.ground_truth
    ground_truth_record(meter=meter, baseload_watts=truth.baseload_watts, anomalies=truth.anomalies)


def synthetic_home(
    customer,
    *,
    seed: int,
    start: date,
    days: int,
    gas: bool = False,
    tariff=None,
    account_number: str | None = None,
    billing_cycle_day: int = 5,
) -> tuple[Meter, SyntheticSeries]:
    """A home of ``customer`` in Boston with ``days`` of synthetic electric (or gas) data."""
    rng = np.random.default_rng(seed)
    profile = random_profile(rng)
    while gas and not profile.has_gas:
        profile = random_profile(rng)
    temperatures = weather_series(region=REGION, start=start, days=days, seed=1)
    store_weather(REGION, start, temperatures)
    account = make_account(
        customer, account_number or f"S{seed:08d}", billing_cycle_day=billing_cycle_day
    )
    fields = {"tariff": tariff} if tariff is not None else {}
    if gas:
        fields.update(service_type="GAS", unit_of_measure="therm", interval_seconds=3600)
    meter = make_meter(account, f"{'G' if gas else 'E'}-SYN-{seed}", **fields)
    generate = gas_intervals if gas else electric_intervals
    series = generate(
        profile=profile,
        start_utc=local_date_start(zone(TIMEZONE), start),
        days=days,
        tz=TIMEZONE,
        temperatures=temperatures,
        seed=seed,
    )
    store_series(meter, series)
    return meter, series


@pytest.fixture
def synthetic(alice):
    """Makes homes of alice with synthetic data: ``synthetic(seed=..., start=..., days=...)``."""

    def make(**kwargs):
        return synthetic_home(alice, **kwargs)

    return make
