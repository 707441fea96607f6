"""GET /Usage/{meterId}/export of meters as they are in the field (contract section 10): both
channels of a bidirectional meter, the read periods of a billing-read meter, and export ->
import_readings giving back the same readings."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import defusedxml.ElementTree as ET
import pytest
from django.core.management import call_command

from customers.models import Meter
from usage.models import Direction, Quality, Reading
from usage.pricing import priced_readings

from .conftest import write_readings

ATOM = "{http://www.w3.org/2005/Atom}"
ESPI = "{http://naesb.org/espi}"
D, R = Direction.DELIVERED, Direction.RECEIVED
DAY = datetime(2026, 6, 1, 4, tzinfo=UTC)  # local midnight in New York (EDT)
QUARTER = timedelta(minutes=15)


@pytest.fixture
def solar(new_meter) -> Meter:
    """A bidirectional 15-minute meter with a day of readings both ways: 0.25 kWh delivered
    every quarter hour, 1.5 kWh received (one estimated) from 10:00 to 14:00 local."""
    meter = new_meter(meter_number="SOLAR-1", bidirectional=True)
    write_readings(meter, [(DAY + n * QUARTER, Decimal("0.25"), None, "ACTUAL") for n in range(96)])
    Reading.objects.bulk_create(
        Reading(
            meter=meter,
            direction=R,
            start=DAY + n * QUARTER,
            quantity=Decimal("1.5"),
            quality=Quality.ESTIMATED if n == 41 else Quality.ACTUAL,
            cost=Decimal("0.123450") if n == 42 else None,
        )
        for n in range(40, 56)
    )
    return meter


@pytest.fixture
def gas(new_gas_meter) -> Meter:
    """A billing-read gas meter with three read periods (27-35 days, a gap before the last)."""
    meter = new_gas_meter()
    periods = [
        ("2026-01-05T05:00Z", "2026-02-03T05:00Z", "61.123456"),
        ("2026-02-03T05:00Z", "2026-03-10T04:00Z", "55.5"),
        ("2026-03-12T04:00Z", "2026-04-08T04:00Z", "20"),
    ]
    Reading.objects.bulk_create(
        Reading(
            meter=meter,
            start=datetime.fromisoformat(start),
            end=datetime.fromisoformat(end),
            quantity=Decimal(quantity),
            cost=Decimal("88.10") if n == 0 else None,
        )
        for n, (start, end, quantity) in enumerate(periods)
    )
    return meter


def export(client, meter: Meter, fmt: str, start: str, end: str) -> bytes:
    response = client.get(
        f"/usage/v1/Usage/{meter.id}/export", {"format": fmt, "start": start, "end": end}
    )
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def priced(meter: Meter) -> list:
    """The meter's readings of the first half of 2026 (both fixtures' data), priced."""
    lo, hi = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    return list(priced_readings(meter=meter, lo=lo, hi=hi))


def stored(meter: Meter) -> list[tuple]:
    """A meter's readings as (direction, start, end, quantity, quality), end made explicit."""
    return [(r.direction, r.start, r.end, r.quantity, r.quality) for r in priced(meter)]


def costs(meter: Meter) -> list[Decimal | None]:
    return [r.cost for r in priced(meter)]


def reimport(tmp_path, body: bytes, fmt: str, meter: Meter) -> None:
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(body)
    call_command(
        "import_readings",
        str(path),
        "--format",
        fmt,
        "--meter",
        meter.meter_number,
        stdout=io.StringIO(),
        verbosity=0,
    )


def test_csv_export_writes_both_channels_with_a_direction_column(alice_api, solar):
    rows = list(
        csv.reader(
            io.StringIO(export(alice_api, solar, "csv", "2026-06-01", "2026-06-02").decode())
        )
    )

    assert rows[0] == [
        "start",
        "end",
        "quantity",
        "unitOfMeasure",
        "cost",
        "currency",
        "quality",
        "direction",
    ]
    assert len(rows) == 1 + 96 + 16
    assert rows[41:43] == [  # 10:00 local: delivered, then received
        [
            "2026-06-01T10:00:00-04:00",
            "2026-06-01T10:15:00-04:00",
            "0.25",
            "kWh",
            "0.04",
            "USD",
            "ACTUAL",
            "DELIVERED",
        ],
        # Credit at the import tariff (no export tariff: net metering), positive.
        [
            "2026-06-01T10:00:00-04:00",
            "2026-06-01T10:15:00-04:00",
            "1.5",
            "kWh",
            "0.23",
            "USD",
            "ACTUAL",
            "RECEIVED",
        ],
    ]


def test_espi_export_writes_one_meter_reading_per_channel(alice_api, solar):
    feed = ET.fromstring(export(alice_api, solar, "espi", "2026-06-01", "2026-06-02"))

    channels = {}
    for entry in feed.iter(f"{ATOM}entry"):
        content = entry.find(f"{ATOM}content")[0]
        if content.tag == f"{ESPI}ReadingType":
            flow = content.findtext(f"{ESPI}flowDirection")
            power = int(content.findtext(f"{ESPI}powerOfTenMultiplier"))
            channels[entry.find(f"{ATOM}link[@rel='self']").get("href")] = (flow, power)
    assert sorted(flow for flow, _ in channels.values()) == ["1", "19"]
    by_flow: dict[str, Decimal] = {"1": Decimal(0), "19": Decimal(0)}
    meter_readings = {}
    for entry in feed.iter(f"{ATOM}entry"):
        content = entry.find(f"{ATOM}content")[0]
        links = [link.get("href") for link in entry.findall(f"{ATOM}link")]
        if content.tag == f"{ESPI}MeterReading":
            meter_readings[links[0]] = channels[next(h for h in links if "/ReadingType/" in h)]
        if content.tag == f"{ESPI}IntervalBlock":
            flow, power = meter_readings[links[0].split("/IntervalBlock")[0]]
            by_flow[flow] += sum(
                Decimal(value.text).scaleb(power) for value in content.iter(f"{ESPI}value")
            )
    assert by_flow == {"1": Decimal(24_000), "19": Decimal(24_000)}  # Wh: 96 x 250, 16 x 1500


def test_a_meter_that_is_not_bidirectional_exports_one_channel(alice_api, new_meter):
    meter = new_meter(meter_number="ONE-WAY")
    write_readings(meter, [(DAY, Decimal(1), None, "ACTUAL")])

    feed = ET.fromstring(export(alice_api, meter, "espi", "2026-06-01", "2026-06-02"))

    flows = [element.text for element in feed.iter(f"{ESPI}flowDirection")]
    assert flows == ["1"]


@pytest.mark.parametrize("fmt", ["espi", "csv"])
def test_a_bidirectional_export_imports_back_into_the_same_readings(
    alice_api, solar, new_meter, tmp_path, fmt
):
    copy = new_meter(meter_number="SOLAR-COPY", bidirectional=True)

    reimport(tmp_path, export(alice_api, solar, fmt, "2026-06-01", "2026-06-02"), fmt, copy)

    assert stored(copy) == stored(solar)
    assert {d for d, *_ in stored(copy)} == {D, R}
    if fmt == "espi":  # costs in hundred-thousandths: exact (the CSV rounds them to cents)
        assert costs(copy) == costs(solar)
        assert Decimal("0.12345") in costs(copy)


def test_billing_read_export_writes_the_read_periods(alice_api, gas):
    rows = list(
        csv.reader(io.StringIO(export(alice_api, gas, "csv", "2026-01-01", "2026-05-01").decode()))
    )

    assert [row[:3] + row[4:5] for row in rows[1:]] == [
        ["2026-01-05T00:00:00-05:00", "2026-02-03T00:00:00-05:00", "61.123456", "88.10"],
        # priced by the meter's tariff (0.15 a therm) at the period's local start
        ["2026-02-03T00:00:00-05:00", "2026-03-10T00:00:00-04:00", "55.5", "8.33"],
        ["2026-03-12T00:00:00-04:00", "2026-04-08T00:00:00-04:00", "20", "3.00"],
    ]
    feed = ET.fromstring(export(alice_api, gas, "espi", "2026-01-01", "2026-05-01"))
    durations = [int(d.text) for d in feed.iterfind(f".//{ESPI}timePeriod/{ESPI}duration")]
    assert durations == [29 * 86400, 35 * 86400 - 3600, 27 * 86400]
    assert [element.text for element in feed.iter(f"{ESPI}intervalLength")] == []


@pytest.mark.parametrize("fmt", ["espi", "csv"])
def test_a_billing_read_export_imports_back_into_the_same_read_periods(
    alice_api, gas, new_gas_meter, tmp_path, fmt
):
    copy = new_gas_meter("GAS-COPY")

    reimport(tmp_path, export(alice_api, gas, fmt, "2026-01-01", "2026-05-01"), fmt, copy)

    assert stored(copy) == stored(gas)
    assert Decimal("61.123456") in [quantity for *_, quantity, _ in stored(copy)]
