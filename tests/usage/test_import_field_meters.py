"""import_readings for meters as they are in the field (contract section 10): two directions,
read periods of billing-read meters, and what each rule rejects (naming the line)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError

from customers.models import Meter
from usage.imports import NewReading, ReadingsRejected, readings_upsert
from usage.models import Direction, Reading, RollupDirtyRange

from .conftest import greenbutton_file
from .test_import_csv import run_import
from .test_import_espi import import_espi

ESPI = {"espi": "http://naesb.org/espi"}
D, R = Direction.DELIVERED, Direction.RECEIVED


@pytest.fixture
def csv_file(tmp_path):
    def write(body: str, name: str = "readings.csv"):
        path = tmp_path / name
        path.write_text(body, encoding="utf-8")
        return path

    return write


@pytest.fixture
def solar(new_meter) -> Meter:
    """A bidirectional 15-minute meter in New York."""
    return new_meter(meter_number="SOLAR-1", bidirectional=True)


@pytest.fixture
def gas(new_gas_meter) -> Meter:
    """A billing-read gas meter in New York."""
    return new_gas_meter()


def readings(meter: Meter) -> list[tuple]:
    return list(
        Reading.objects.filter(meter=meter)
        .order_by("start", "direction")
        .values_list("direction", "start", "end", "quantity")
    )


def rejection(caught: pytest.ExceptionInfo) -> str:
    error = str(caught.value)
    assert "\n" not in error
    assert not Reading.objects.exists(), "a rejected file wrote readings"
    assert not RollupDirtyRange.objects.exists()
    return error


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- directions (10.1) ---------------------------------------------------------------------


def test_csv_direction_column_keeps_both_channels_apart(solar, csv_file):
    path = csv_file(
        "meterNumber,start,quantity,direction\n"
        "SOLAR-1,2026-06-01T12:00:00Z,0.4,\n"
        "SOLAR-1,2026-06-01T12:00:00Z,1.7,RECEIVED\n"
        "SOLAR-1,2026-06-01T12:15:00Z,0.3,DELIVERED\n"
    )

    assert "3 readings for 1 meter(s)" in run_import(path)
    run_import(path)  # re-importing never duplicates

    noon = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert readings(solar) == [
        (D, noon, None, Decimal("0.4")),
        (R, noon, None, Decimal("1.7")),
        (D, noon + timedelta(minutes=15), None, Decimal("0.3")),
    ]


def test_a_received_correction_leaves_the_delivered_reading_alone(solar, csv_file):
    run_import(csv_file("meterNumber,start,quantity,direction\nSOLAR-1,2026-06-01T12:00:00Z,1,\n"))
    run_import(
        csv_file("meterNumber,start,quantity,direction\nSOLAR-1,2026-06-01T12:00:00Z,2,RECEIVED\n")
    )
    run_import(
        csv_file("meterNumber,start,quantity,direction\nSOLAR-1,2026-06-01T12:00:00Z,3,RECEIVED\n")
    )

    assert [(d, q) for d, _, _, q in readings(solar)] == [(D, Decimal(1)), (R, Decimal(3))]


def test_received_on_a_meter_that_is_not_bidirectional_rejects_the_file(alice, csv_file):
    path = csv_file(
        "meterNumber,start,quantity,direction\n"
        "E-ALICE-1,2026-06-01T12:00:00Z,1,DELIVERED\n"
        "E-ALICE-1,2026-06-01T12:00:00Z,1,RECEIVED\n"
    )
    with pytest.raises(CommandError) as caught:
        run_import(path)

    assert (
        "(1 error): line 3: a RECEIVED reading, but meter E-ALICE-1 is not bidirectional"
        in rejection(caught)
    )


def assert_only_line_4_refused(path, message: str) -> None:
    """The import of ``path`` refuses the whole file for one error, on line 4: ``message``."""
    with pytest.raises(CommandError) as caught:
        run_import(path)

    error = rejection(caught)
    assert re.search(f"\\(1 error\\): line 4: [^;]*{re.escape(message)}", error), error


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("SOLAR-1,2026-06-01T12:30:00Z,1,received,", "direction 'received' is not DELIVERED or"),
        ("SOLAR-1,2026-06-01T12:30:00Z,1,NET,", "direction 'NET' is not DELIVERED or RECEIVED"),
        ("SOLAR-1,2026-06-01T12:00:00Z,5,RECEIVED,", "same meter, direction and start as line 3"),
        (
            "SOLAR-1,2026-06-01T12:30:00Z,1,,2026-06-01T12:40:00Z",
            "reading lasts 600 s but meter SOLAR-1 records every 900 s",
        ),
        (
            "SOLAR-1,2026-06-01T12:30:00Z,1,,2026-06-01T13:00:00Z",
            "reading lasts 1800 s but meter SOLAR-1 records every 900 s",
        ),
        ("SOLAR-1,2026-06-01T12:30:00Z,1,,tomorrow", "end 'tomorrow' is not an RFC 3339"),
    ],
)
def test_bad_direction_or_end_rejects_the_whole_file_naming_its_line(solar, csv_file, row, message):
    path = csv_file(
        "meterNumber,start,quantity,direction,end\n"
        "SOLAR-1,2026-06-01T12:00:00Z,1,,\n"
        "SOLAR-1,2026-06-01T12:00:00Z,1,RECEIVED,2026-06-01T12:15:00Z\n" + row + "\n"
    )
    assert_only_line_4_refused(path, message)


def test_an_interval_meter_takes_an_end_equal_to_start_plus_its_interval(alice, csv_file):
    run_import(
        csv_file(
            "meterNumber,start,end,quantity\n"
            "E-ALICE-1,2026-03-07T00:00:00-05:00,2026-03-07T00:15:00-05:00,1\n"
            "E-ALICE-1,2026-03-07T00:15:00-05:00,,2\n"
        )
    )

    start = datetime(2026, 3, 7, 5, tzinfo=UTC)
    assert readings(Meter.objects.get(meter_number="E-ALICE-1")) == [
        (D, start, None, Decimal(1)),  # an interval meter's readings keep no end
        (D, start + timedelta(minutes=15), None, Decimal(2)),
    ]


def test_generated_readings_take_a_direction(solar):
    noon = datetime(2026, 6, 1, 12, tzinfo=UTC)
    readings_upsert(
        meter=solar,
        readings=[(noon, Decimal(1), None, "ACTUAL"), NewReading(noon, Decimal(2), direction=R)],
    )

    assert [(d, q) for d, _, _, q in readings(solar)] == [(D, Decimal(1)), (R, Decimal(2))]


# --- billing-read meters (10.2) ------------------------------------------------------------


def test_read_periods_import_with_their_ends_bounds_and_dirty_range(gas, csv_file):
    path = csv_file(
        "meterNumber,start,end,quantity,cost\n"
        "GAS-1,2026-01-05T00:00:00-05:00,2026-02-03T00:00:00-05:00,61.2,88.10\n"
        # a gap between the two reads is allowed
        "GAS-1,2026-02-06T00:00:00-05:00,2026-03-09T00:00:00-04:00,55,\n"
    )

    run_import(path)

    assert readings(gas) == [
        (D, at("2026-01-05T05:00:00Z"), at("2026-02-03T05:00:00Z"), Decimal("61.2")),
        (D, at("2026-02-06T05:00:00Z"), at("2026-03-09T04:00:00Z"), Decimal(55)),
    ]
    gas.refresh_from_db()
    assert (gas.first_reading_at, gas.last_reading_at) == (
        at("2026-01-05T05:00:00Z"),
        at("2026-03-09T04:00:00Z"),  # the last reading's own end
    )
    dirty = RollupDirtyRange.objects.get(meter=gas)
    assert (dirty.start, dirty.end) == (at("2026-01-05T05:00:00Z"), at("2026-03-09T04:00:00Z"))


def test_a_corrected_read_replaces_the_stored_one_and_may_move_its_end(gas, csv_file):
    header = "meterNumber,start,end,quantity,quality\n"
    run_import(csv_file(header + "GAS-1,2026-01-05T05:00:00Z,2026-02-03T05:00:00Z,60,ESTIMATED\n"))
    run_import(csv_file(header + "GAS-1,2026-01-05T05:00:00Z,2026-02-04T05:00:00Z,61,ACTUAL\n"))

    assert readings(gas) == [
        (D, at("2026-01-05T05:00:00Z"), at("2026-02-04T05:00:00Z"), Decimal(61)),
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("GAS-1,2026-03-05T05:00:00Z,,10,", "meter GAS-1 is read per billing period: the reading"),
        (
            "GAS-1,2026-03-05T05:00:00Z,2026-03-05T05:00:00Z,10,",
            "end 2026-03-05T05:00:00+00:00 is not after start 2026-03-05T05:00:00+00:00",
        ),
        (
            "GAS-1,2026-03-05T05:00:00Z,2026-02-05T05:00:00Z,10,",
            "end 2026-02-05T05:00:00+00:00 is not after start",
        ),
        (
            "GAS-1,2026-03-05T05:00:00Z,2099-01-01T00:00:00Z,10,",
            "end 2099-01-01T00:00:00+00:00 is out",
        ),
        (
            "GAS-1,2026-02-01T05:00:00Z,2026-02-03T05:00:00Z,10,",
            "read period 2026-02-01T05:00:00+00:00 to 2026-02-03T05:00:00+00:00 overlaps line 2's "
            "(2026-01-05T05:00:00+00:00 to 2026-02-03T05:00:00+00:00)",
        ),
        (
            "GAS-1,2026-01-05T05:00:00Z,2026-01-20T05:00:00Z,10,",
            "same meter, direction and start as",
        ),
        (
            "GAS-1,2026-03-05T05:00:00Z,2026-04-05T04:00:00Z,10,RECEIVED",
            "a RECEIVED reading, but meter GAS-1 is not bidirectional",
        ),
    ],
)
def test_a_bad_read_period_rejects_the_whole_file_naming_its_line(gas, csv_file, row, message):
    path = csv_file(
        "meterNumber,start,end,quantity,direction\n"
        "GAS-1,2026-01-05T05:00:00Z,2026-02-03T05:00:00Z,61,\n"
        "GAS-1,2026-02-03T05:00:00Z,2026-03-05T05:00:00Z,55,\n" + row + "\n"
    )
    assert_only_line_4_refused(path, message)


def test_a_read_period_overlapping_a_stored_one_rejects_the_file(gas, csv_file):
    header = "meterNumber,start,end,quantity\n"
    run_import(
        csv_file(
            header + "GAS-1,2026-01-05T05:00:00Z,2026-02-03T05:00:00Z,61\n"
            "GAS-1,2026-02-03T05:00:00Z,2026-03-05T05:00:00Z,55\n",
            "first.csv",
        )
    )
    before = readings(gas)
    # Line 2 replaces the first read (same start) but now runs into the second one; line 3
    # starts inside the second one; line 4, after both, is fine.
    path = csv_file(
        header + "GAS-1,2026-01-05T05:00:00Z,2026-02-10T05:00:00Z,70\n"
        "GAS-1,2026-02-20T05:00:00Z,2026-03-20T04:00:00Z,40\n"
        "GAS-1,2026-03-20T04:00:00Z,2026-04-20T04:00:00Z,30\n",
        "second.csv",
    )

    with pytest.raises(CommandError) as caught:
        run_import(path)

    error = str(caught.value)
    assert "(2 errors)" in error
    assert (
        "line 2: read period 2026-01-05T05:00:00+00:00 to 2026-02-10T05:00:00+00:00 overlaps "
        "the stored one 2026-02-03T05:00:00+00:00 to 2026-03-05T05:00:00+00:00" in error
    )
    assert "line 3: read period 2026-02-20T05:00:00+00:00 to" in error
    assert readings(gas) == before


def test_the_channels_of_a_bidirectional_billing_read_meter_are_checked_apart(
    new_gas_meter, csv_file
):
    meter = new_gas_meter("NET-1", bidirectional=True)
    path = csv_file(
        "meterNumber,start,end,quantity,direction\n"
        "NET-1,2026-01-05T05:00:00Z,2026-02-03T05:00:00Z,400,\n"
        "NET-1,2026-01-05T05:00:00Z,2026-02-03T05:00:00Z,90,RECEIVED\n"
        "NET-1,2026-01-20T05:00:00Z,2026-02-20T05:00:00Z,80,RECEIVED\n"
    )
    with pytest.raises(CommandError, match="line 4: RECEIVED read period 2026-01-20T05:00:00"):
        run_import(path)

    path.write_text(path.read_text().replace("2026-01-20", "2026-02-03"))
    run_import(path)

    assert [(d, q) for d, _, _, q in readings(meter)] == [
        (D, Decimal(400)),
        (R, Decimal(90)),
        (R, Decimal(80)),
    ]


def test_generated_read_periods_need_an_end(gas):
    start = datetime(2026, 1, 5, 5, tzinfo=UTC)

    with pytest.raises(ReadingsRejected, match="line 1: meter GAS-1 is read per billing period"):
        readings_upsert(meter=gas, readings=[(start, Decimal(3), None, "ACTUAL")])
    readings_upsert(
        meter=gas, readings=[NewReading(start, Decimal(3), end=start + timedelta(days=30))]
    )

    assert readings(gas) == [(D, start, start + timedelta(days=30), Decimal(3))]


# --- the export's CSV columns ----------------------------------------------------------------


def test_a_file_for_one_meter_may_leave_out_the_meter_number(alice, csv_file):
    path = csv_file(
        "start,end,quantity,unitOfMeasure,cost,currency,quality,direction\n"
        "2026-03-07T00:00:00-05:00,2026-03-07T00:15:00-05:00,0.25,kWh,0.04,USD,ACTUAL,DELIVERED\n"
    )
    with pytest.raises(CommandError, match="line 1: the header must name meterNumber, start"):
        run_import(path)

    run_import(path, "--meter", "E-ALICE-1")

    assert Reading.objects.values_list("quantity", "cost").get() == (
        Decimal("0.25"),
        Decimal("0.04"),
    )


@pytest.mark.parametrize(
    ("unit", "currency", "message"),
    [
        ("Wh", "USD", "unitOfMeasure 'Wh' is not meter E-ALICE-1's (kWh)"),
        ("kWh", "EUR", "currency 'EUR' is not meter E-ALICE-1's (USD)"),
    ],
)
def test_unit_and_currency_columns_must_be_the_meters(alice, csv_file, unit, currency, message):
    path = csv_file(
        "meterNumber,start,quantity,unitOfMeasure,cost,currency\n"
        "E-ALICE-1,2026-03-07T05:00:00Z,1,,,\n"
        f"E-ALICE-1,2026-03-07T05:15:00Z,1,{unit},1.00,{currency}\n"
    )
    with pytest.raises(CommandError) as caught:
        run_import(path)

    assert f"(1 error): line 3: {message}" in rejection(caught)


# --- Green Button (ESPI) -------------------------------------------------------------------


def test_opower_gas_feed_imports_into_a_billing_read_meter_with_its_totals(gas):
    path = greenbutton_file("gas_direct.xml")
    expected = _gas_totals(path)

    import_espi(path, "GAS-1")

    stored = list(Reading.objects.filter(meter=gas).order_by("start"))
    assert [(r.start, r.end) for r in stored] == expected["periods"]
    assert sum(r.quantity for r in stored) == expected["therms"] == Decimal(140)
    assert sum(r.cost for r in stored) == expected["cost"] == Decimal("206.24")
    assert {r.direction for r in stored} == {D}
    gas.refresh_from_db()
    assert (gas.first_reading_at, gas.last_reading_at) == (
        expected["periods"][0][0],
        expected["periods"][-1][1],
    )

    import_espi(path, "GAS-1")  # re-importing changes nothing
    assert list(Reading.objects.filter(meter=gas).order_by("start")) == stored


def _gas_totals(path) -> dict:
    """The gas feed summed with ElementTree: therms (uom 169) x 10^-3, cost in 1e-5 USD."""
    root = ET.parse(path).getroot()  # noqa: S314 (trusted test data)
    reading_type = root.find(".//espi:ReadingType", ESPI)
    assert reading_type.findtext("espi:uom", namespaces=ESPI) == "169"
    multiplier = int(reading_type.findtext("espi:powerOfTenMultiplier", "0", ESPI))
    periods, therms, cost = [], Decimal(0), Decimal(0)
    for reading in root.iter("{http://naesb.org/espi}IntervalReading"):
        start = int(reading.findtext("espi:timePeriod/espi:start", namespaces=ESPI))
        duration = int(reading.findtext("espi:timePeriod/espi:duration", namespaces=ESPI))
        periods.append(
            (datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + duration, UTC))
        )
        therms += Decimal(reading.findtext("espi:value", namespaces=ESPI)).scaleb(multiplier)
        cost += Decimal(reading.findtext("espi:cost", namespaces=ESPI)).scaleb(-5)
    return {"periods": sorted(periods), "therms": therms, "cost": cost}


def channel_feed(channels: list[tuple[int | None, str]]) -> str:
    """An ESPI feed with one MeterReading (and ReadingType of that flowDirection, None: no
    flowDirection element) per channel, each with the given IntervalReadings; Wh, 10^0."""
    entries = []
    for n, (flow, readings_xml) in enumerate(channels, start=1):
        flow_xml = "" if flow is None else f"<flowDirection>{flow}</flowDirection>"
        entries.append(
            f"""
  <entry>
    <link href="/v1/UsagePoint/1/MeterReading/{n}" rel="self"/>
    <link href="/v1/ReadingType/{n}" rel="related"/>
    <content><MeterReading xmlns="http://naesb.org/espi"/></content>
  </entry>
  <entry>
    <link href="/v1/ReadingType/{n}" rel="self"/>
    <content><ReadingType xmlns="http://naesb.org/espi">
      {flow_xml}<powerOfTenMultiplier>0</powerOfTenMultiplier><uom>72</uom>
    </ReadingType></content>
  </entry>
  <entry>
    <link href="/v1/UsagePoint/1/MeterReading/{n}/IntervalBlock/1" rel="self"/>
    <content><IntervalBlock xmlns="http://naesb.org/espi">
{readings_xml}
    </IntervalBlock></content>
  </entry>"""
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        + "".join(entries)
        + "\n</feed>\n"
    )


def reading_xml(start: datetime, value: int, duration: int = 900) -> str:
    return (
        f"<IntervalReading><timePeriod><duration>{duration}</duration>"
        f"<start>{int(start.timestamp())}</start></timePeriod><value>{value}</value>"
        "</IntervalReading>\n"
    )


NOON = datetime(2026, 6, 1, 16, tzinfo=UTC)  # local noon in New York


def test_one_feed_holds_both_channels_by_flow_direction(solar, tmp_path):
    path = tmp_path / "solar.xml"
    path.write_text(
        channel_feed(
            [
                (None, reading_xml(NOON, 400) + reading_xml(NOON + timedelta(minutes=15), 300)),
                (19, reading_xml(NOON, 1700)),
                (1, reading_xml(NOON + timedelta(minutes=30), 200)),
            ]
        )
    )

    import_espi(path, "SOLAR-1")

    assert [(d, s - NOON, q) for d, s, _, q in readings(solar)] == [
        (D, timedelta(0), Decimal("0.4")),
        (R, timedelta(0), Decimal("1.7")),
        (D, timedelta(minutes=15), Decimal("0.3")),
        (D, timedelta(minutes=30), Decimal("0.2")),
    ]


def test_a_received_channel_on_a_one_way_meter_rejects_the_feed_naming_lines(alice, tmp_path):
    path = tmp_path / "solar.xml"
    feed = channel_feed([(1, reading_xml(NOON, 400)), (19, reading_xml(NOON, 1700))])
    path.write_text(feed)
    line = 1 + feed[: feed.index("<value>1700")].count("\n")

    with pytest.raises(CommandError) as caught:
        import_espi(path, "E-ALICE-1")

    assert (
        f"(1 error): line {line}: a RECEIVED reading, but meter E-ALICE-1 is not bidirectional"
        in rejection(caught)
    )


def test_a_net_channel_rejects_the_feed(solar, tmp_path):
    path = tmp_path / "net.xml"
    path.write_text(channel_feed([(1, reading_xml(NOON, 400)), (4, reading_xml(NOON, 100))]))

    with pytest.raises(CommandError) as caught:
        import_espi(path, "SOLAR-1")

    assert "ReadingType has flowDirection 4; only 1 (delivered) and 19 (received)" in rejection(
        caught
    )


def test_espi_read_periods_of_any_length_and_their_overlaps(gas, tmp_path):
    day = datetime(2026, 1, 5, 5, tzinfo=UTC)
    path = tmp_path / "gas.xml"
    # uom 72 (Wh) does not fit a therm meter: the gas feeds use 169.
    periods = reading_xml(day, 30, duration=29 * 86400) + reading_xml(
        day + timedelta(days=29), 40, duration=33 * 86400
    )
    path.write_text(channel_feed([(1, periods)]).replace("<uom>72</uom>", "<uom>169</uom>"))

    import_espi(path, "GAS-1")

    assert [(s, e) for _, s, e, _ in readings(gas)] == [
        (day, day + timedelta(days=29)),
        (day + timedelta(days=29), day + timedelta(days=62)),
    ]

    overlapping = reading_xml(day + timedelta(days=40), 10, duration=30 * 86400)
    path.write_text(channel_feed([(1, overlapping)]).replace("<uom>72</uom>", "<uom>169</uom>"))
    with pytest.raises(CommandError, match="overlaps the stored one 2026-02-03T05:00:00"):
        import_espi(path, "GAS-1")
