"""import_readings --format espi: real Green Button files against an independent parse."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from usage.models import Reading, Rollup
from usage.rollups import rollups_rebuild

from .conftest import greenbutton_file

ESPI = {"espi": "http://naesb.org/espi"}


@dataclass(frozen=True)
class FeedTotals:
    count: int
    kwh: Decimal
    cost: Decimal | None
    first: datetime
    last_end: datetime


def independent_totals(path: Path) -> FeedTotals:
    """Sums the feed with ElementTree: Wh (uom 72) x 10^multiplier, cost in 1e-5 dollars."""
    root = ET.parse(path).getroot()  # noqa: S314 (trusted test data)
    reading_type = root.find(".//espi:ReadingType", ESPI)
    assert reading_type.findtext("espi:uom", namespaces=ESPI) == "72"
    multiplier = int(reading_type.findtext("espi:powerOfTenMultiplier", "0", ESPI))
    wh = Decimal(0)
    costs = []
    starts = []
    for reading in root.iter("{http://naesb.org/espi}IntervalReading"):
        wh += Decimal(reading.findtext("espi:value", namespaces=ESPI)).scaleb(multiplier)
        if reading.findtext("espi:cost", namespaces=ESPI) is not None:
            costs.append(Decimal(reading.findtext("espi:cost", namespaces=ESPI)))
        start = int(reading.findtext("espi:timePeriod/espi:start", namespaces=ESPI))
        duration = int(reading.findtext("espi:timePeriod/espi:duration", namespaces=ESPI))
        starts.append((start, duration))
    first = min(s for s, _ in starts)
    last_start, last_duration = max(starts)
    return FeedTotals(
        count=len(starts),
        kwh=wh / 1000,
        cost=sum(costs, Decimal(0)).scaleb(-5) if costs else None,
        first=datetime.fromtimestamp(first, UTC),
        last_end=datetime.fromtimestamp(last_start + last_duration, UTC),
    )


def import_espi(path: Path, meter_number: str) -> str:
    out = io.StringIO()
    call_command("import_readings", str(path), "--meter", meter_number, stdout=out, verbosity=0)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "timezone"),
    [
        (
            "Coastal_Multi_Family_12hr_Jan_1_2011_to_Jan_1_2012_RetailCustomer_3.xml",
            "America/Los_Angeles",
        ),
        ("TestGBDataHourlyNineDaysBinnedDaily.xml", "America/New_York"),
    ],
)
def test_sample_feed_totals_equal_an_independent_sum(new_meter, name, timezone):
    path = greenbutton_file(name)
    expected = independent_totals(path)
    meter = new_meter(interval_seconds=3600, timezone=timezone, meter_number="GB-1")

    import_espi(path, "GB-1")

    readings = Reading.objects.filter(meter=meter)
    assert readings.count() == expected.count
    assert sum(readings.values_list("quantity", flat=True)) == expected.kwh
    costs = list(readings.exclude(cost=None).values_list("cost", flat=True))
    assert (sum(costs) if costs else None) == expected.cost
    meter.refresh_from_db()
    assert (meter.first_reading_at, meter.last_reading_at) == (expected.first, expected.last_end)

    # Rollups over the whole feed carry the same totals, at every granularity.
    rollups_rebuild(meter=meter)
    for granularity in ("HOUR", "DAY", "WEEK", "MONTH", "BILLING_PERIOD"):
        rows = Rollup.objects.filter(meter=meter, granularity=granularity)
        assert sum(rows.values_list("quantity", flat=True)) == expected.kwh, granularity
        assert sum(rows.values_list("actual_count", flat=True)) == expected.count, granularity
        if expected.cost is not None:
            assert sum(rows.values_list("cost", flat=True)) == expected.cost, granularity

    # Re-importing the same feed changes nothing.
    before = list(Reading.objects.filter(meter=meter).order_by("start").values())
    import_espi(path, "GB-1")
    assert list(Reading.objects.filter(meter=meter).order_by("start").values()) == before


def test_a_feed_with_one_bad_row_writes_nothing_and_names_its_line(new_meter, tmp_path):
    source = greenbutton_file("TestGBDataHourlyNineDaysBinnedDaily.xml").read_text()
    lines = source.splitlines(keepends=True)
    # Break the 40th IntervalReading: a negative value.
    reading_lines = [i for i, line in enumerate(lines) if "<IntervalReading>" in line]
    bad = reading_lines[39]
    value_line = next(i for i in range(bad, bad + 12) if "<value>" in lines[i])
    lines[value_line] = "          <value>-273</value>\n"
    path = tmp_path / "broken.xml"
    path.write_text("".join(lines))
    new_meter(interval_seconds=3600, meter_number="GB-1")

    with pytest.raises(CommandError) as caught:
        import_espi(path, "GB-1")

    assert f"line {bad + 1}: quantity -0.273 is negative" in str(caught.value)
    assert "(1 error)" in str(caught.value)
    assert not Reading.objects.exists()


def test_a_reading_longer_than_the_meter_interval_rejects_the_file(new_meter):
    path = greenbutton_file("gas_direct.xml")
    new_meter(
        service_type="GAS", unit_of_measure="therm", interval_seconds=86400, meter_number="G-1"
    )

    with pytest.raises(CommandError) as caught:
        import_espi(path, "G-1")

    error = str(caught.value)
    assert "reading lasts 3024000 s but meter G-1 records every 86400 s" in error
    assert "(5 errors)" in error
    assert not Reading.objects.exists()


def espi_feed(readings: str, *, uom: int = 169, multiplier: int = -3, currency: int = 840) -> str:
    """A small ESPI feed in the shape utilities publish, with the given IntervalReadings."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <entry>
    <link href="/v1/User/1/UsagePoint/1/MeterReading/1" rel="self"/>
    <link href="/v1/ReadingType/0" rel="related"/>
    <content><MeterReading xmlns="http://naesb.org/espi"/></content>
  </entry>
  <entry>
    <link href="/v1/ReadingType/0" rel="self"/>
    <title>kWh</title>
    <content>
      <ReadingType xmlns="http://naesb.org/espi">
        <currency>{currency}</currency>
        <powerOfTenMultiplier>{multiplier}</powerOfTenMultiplier>
        <uom>{uom}</uom>
      </ReadingType>
    </content>
  </entry>
  <entry>
    <link href="/v1/User/1/UsagePoint/1/MeterReading/1/IntervalBlock/1" rel="self"/>
    <content>
      <espi:IntervalBlock xmlns:espi="http://naesb.org/espi">
{readings}
      </espi:IntervalBlock>
    </content>
  </entry>
</feed>
"""


def interval_reading(start: datetime, value: int, cost: int | None = None, quality=None) -> str:
    cost_xml = f"<espi:cost>{cost}</espi:cost>" if cost is not None else ""
    quality_xml = (
        f"<espi:ReadingQuality><espi:quality>{quality}</espi:quality></espi:ReadingQuality>"
        if quality is not None
        else ""
    )
    return (
        f"<espi:IntervalReading>{cost_xml}{quality_xml}<espi:timePeriod>"
        f"<espi:duration>86400</espi:duration><espi:start>{int(start.timestamp())}</espi:start>"
        f"</espi:timePeriod><espi:value>{value}</espi:value></espi:IntervalReading>"
    )


def test_codes_not_titles_scale_values_costs_and_qualities(new_meter, tmp_path):
    meter = new_meter(
        service_type="GAS",
        unit_of_measure="therm",
        interval_seconds=86400,
        timezone="America/New_York",
        meter_number="G-1",
    )
    day = datetime(2024, 1, 10, 5, tzinfo=UTC)  # local midnight in New York
    path = tmp_path / "gas.xml"
    path.write_text(
        espi_feed(
            interval_reading(day, 3125, cost=412345, quality=14)
            + interval_reading(day + timedelta(days=1), 2000, quality=9)
        )
    )

    import_espi(path, "G-1")

    rows = list(
        Reading.objects.filter(meter=meter)
        .order_by("start")
        .values_list("quantity", "cost", "quality")
    )
    assert rows == [
        (Decimal("3.125"), Decimal("4.12345"), "ACTUAL"),
        (Decimal("2.000"), None, "ESTIMATED"),
    ]


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        (
            espi_feed(interval_reading(datetime(2024, 1, 10, 5, tzinfo=UTC), 1), uom=72),
            "the feed's values are in Wh (uom 72), which meter G-1 (in therm) cannot take",
        ),
        (
            espi_feed(
                interval_reading(datetime(2024, 1, 10, 5, tzinfo=UTC), 1, cost=5), currency=978
            ),
            "costs are in currency 978 but the customer is billed in USD",
        ),
        (
            espi_feed(interval_reading(datetime(2024, 1, 10, 5, tzinfo=UTC), 1, quality=99)),
            "unknown ReadingQuality 99",
        ),
        (
            espi_feed(interval_reading(datetime(2024, 1, 10, 6, tzinfo=UTC), 1)),
            "not on meter G-1's 86400-second grid",
        ),
        (espi_feed(""), "the feed holds no IntervalReading"),
        ("<feed><entry></feed>", "not well-formed XML: mismatched tag"),
        (
            '<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaa">]><feed>&a;</feed>',
            "refused XML construct",
        ),
    ],
)
def test_bad_feeds_are_refused_with_a_clear_reason(new_meter, tmp_path, feed, message):
    new_meter(
        service_type="GAS",
        unit_of_measure="therm",
        interval_seconds=86400,
        timezone="America/New_York",
        meter_number="G-1",
    )
    path = tmp_path / "feed.xml"
    path.write_text(feed)

    with pytest.raises(CommandError) as caught:
        import_espi(path, "G-1")

    assert message in str(caught.value)
    assert not Reading.objects.exists()


def test_espi_needs_a_meter(alice, tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text(espi_feed(""))

    with pytest.raises(CommandError, match="--meter is required with --format espi"):
        call_command("import_readings", str(path), verbosity=0)
