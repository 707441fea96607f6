"""Usage-test helpers: meters of alice in any zone, interval and billing cycle, a TOU tariff,
readings written straight to the table, and the Green Button sample files."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from customers.models import Customer, Meter, Tariff, TariffRate, Weekday
from tests.conftest import BILLING_GAS, make_account, make_meter
from usage.models import Quality, Reading

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
