"""Usage-test helpers: meters of alice in any zone, interval and billing cycle, a TOU tariff,
readings written straight to the table, two weeks of a home (and of a net-metered one) across
a DST change, every page of a read, and the Green Button sample files."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from customers.models import Customer, Meter, Tariff, TariffRate, Weekday
from tests.conftest import BILLING_GAS, make_account, make_meter
from usage.models import Direction, Quality, Reading
from usage.rollups import rollups_rebuild

GREENBUTTON = Path(__file__).parents[2] / ".." / "shared" / "data" / "greenbutton"

_numbers = itertools.count(1)


def greenbutton_file(name: str) -> Path:
    """A shared Green Button sample file; the test is skipped where they are not available."""
    path = GREENBUTTON / name
    if not path.is_file():
        pytest.skip(f"Green Button sample {name} not available at {GREENBUTTON}")
    return path


@pytest.fixture
def new_meter(alice: Customer) -> Callable[..., Meter]:
    """Makes a meter of alice on a fresh account (so each can have its own billing cycle day)."""

    def make(*, billing_cycle_day: int = 1, **fields) -> Meter:
        n = next(_numbers)
        account = make_account(alice, f"U{n:08d}", billing_cycle_day=billing_cycle_day)
        meter = make_meter(account, fields.pop("meter_number", f"M-{n}"), **fields)
        return Meter.objects.select_related("account__customer", "tariff").get(pk=meter.pk)

    return make


@pytest.fixture
def new_gas_meter(new_meter) -> Callable[..., Meter]:
    """Makes a billing-read gas meter of alice (therm, one reading per read period)."""

    def make(meter_number: str = "GAS-1", **fields) -> Meter:
        return new_meter(meter_number=meter_number, **BILLING_GAS, **fields)

    return make


@pytest.fixture
def tou_tariff(acme) -> Tariff:
    """Peak 0.31 on weekdays 16:00-21:00 local, else 0.12 (contract section 8's example)."""
    tariff = Tariff.objects.create(utility=acme, code="TOU-1", name="Time of use", currency="USD")
    weekdays = Weekday.MON | Weekday.TUE | Weekday.WED | Weekday.THU | Weekday.FRI
    TariffRate.objects.create(
        tariff=tariff, position=0, price="0.31", weekdays=weekdays, from_hour=16, to_hour=21
    )
    TariffRate.objects.create(
        tariff=tariff, position=1, price="0.12", weekdays=127, from_hour=0, to_hour=24
    )
    return tariff


def write_readings(
    meter: Meter, rows: Iterable[tuple[datetime, Decimal, Decimal | None, str]]
) -> None:
    """Readings straight into the table (no import, no rollup queueing)."""
    Reading.objects.bulk_create(
        Reading(meter=meter, start=start, quantity=quantity, cost=cost, quality=quality)
        for start, quantity, cost, quality in rows
    )


QUARTER = timedelta(minutes=15)
#: Local midnight in New York on 2026-03-01; two weeks from it hold the 23-hour day of
#: 2026-03-08.
MARCH = datetime(2026, 3, 1, 5, tzinfo=UTC)


def quarters(meter, direction: Direction, start: datetime, count: int, quality=Quality.ACTUAL):
    """``count`` readings of ``direction`` from ``start``, each 0.1 kWh more than the last
    modulo 1.7 (so days differ, costs need rounding and peaks move)."""
    Reading.objects.bulk_create(
        Reading(
            meter=meter,
            direction=direction,
            start=start + index * QUARTER,
            quantity=Decimal(index % 17) / 10 + Decimal("0.0005"),
            quality=quality,
        )
        for index in range(count)
    )


def series_pages(client, meter, query: dict) -> list[bytes]:
    """Every page of a Usage read, following the page tokens; each body's bytes without its
    token's value (a token records when it was issued)."""
    bodies = []
    while True:
        response = client.get(f"/usage/v1/Usage/{meter.id}", query)
        assert response.status_code == 200, response.content
        bodies.append(re.sub(rb'"nextPageToken":"[^"]+"', b'"nextPageToken":""', response.content))
        token = response.json().get("nextPageToken")
        if token is None:
            return bodies
        query = {**query, "pageToken": token}


@pytest.fixture
def home(new_meter, either_path):
    """Two weeks of 15-minute readings in New York across the spring-forward day, with an
    estimated stretch (an ESTIMATED and a MIXED day) and a gap of a day."""
    meter = new_meter()
    day = timedelta(days=1)
    quarters(meter, Direction.DELIVERED, MARCH, 96 * 5)
    quarters(meter, Direction.DELIVERED, MARCH + 5 * day, 96 + 48, Quality.ESTIMATED)
    quarters(meter, Direction.DELIVERED, MARCH + 6.5 * day, 48 + 96 * 2)
    quarters(meter, Direction.DELIVERED, MARCH + 9 * day + timedelta(hours=23), 96 * 4 + 4)
    rollups_rebuild(meter=meter)
    return meter


@pytest.fixture
def solar_home(new_meter):
    """A net-metered home: readings both ways over the same two weeks."""
    meter = new_meter(bidirectional=True)
    quarters(meter, Direction.DELIVERED, MARCH, 96 * 14)
    quarters(meter, Direction.RECEIVED, MARCH + timedelta(hours=3), 96 * 12)
    rollups_rebuild(meter=meter)
    return meter


ACTUAL = Quality.ACTUAL
ESTIMATED = Quality.ESTIMATED


class _ReportedAs:
    """The default connection, reporting another vendor."""

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor

    def __getattr__(self, name: str):
        return getattr(connection, name)


@pytest.fixture(params=["postgresql", "python"])
def either_path(request, monkeypatch):
    """Runs a test with rollups computed and readings priced in SQL, and on the pure-Python
    path (SQLite's): the rollup and pricing modules see a SQLite connection; reads still
    query PostgreSQL in its dialect."""
    if request.param == "python":
        for module in ("usage.rollups", "usage.pricing"):
            monkeypatch.setattr(f"{module}.connection", _ReportedAs("sqlite"))
    return request.param
