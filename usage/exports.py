"""Green Button "Download My Data": a meter's readings as an ESPI Atom feed or as CSV.

Both stream: rows are produced from a chunked query and written as they come, so an export's
memory stays flat whatever its range. Both write every channel of the meter (DELIVERED, and
RECEIVED on a bidirectional meter) and each reading's own period (a billing-read meter's read
periods as they are), so ``import_readings`` reads an export back into the same readings.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from customers.models import Customer, Meter
from energygrid.money import format_money
from usage import espi
from usage.calendar import local_date_start, zone
from usage.models import Direction
from usage.pricing import PricedReading, channels, priced_readings

CSV_HEADER = [
    "start",
    "end",
    "quantity",
    "unitOfMeasure",
    "cost",
    "currency",
    "quality",
    "direction",
]

#: Decimals of our quantities (Reading.quantity: numeric(18, 6)) that ESPI's integer values keep.
QUANTITY_DECIMALS = 6


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def csv_lines(*, meter: Meter, start: datetime, end: datetime, currency: str) -> Iterator[str]:
    """One line per reading starting in ``[start, end)`` (by start, then direction), times
    with the meter's local offset; a RECEIVED reading's cost is its credit."""
    tz = zone(meter.timezone)
    yield _csv_line(CSV_HEADER)
    for reading in priced_readings(meter=meter, lo=start, hi=end):
        yield _csv_line(
            [
                reading.start.astimezone(tz).isoformat(),
                reading.end.astimezone(tz).isoformat(),
                _plain(reading.quantity),
                meter.unit_of_measure,
                format_money(reading.cost, currency) or "",
                currency,
                reading.quality,
                Direction(reading.direction).name,
            ]
        )


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros (``0.412``, ``3``)."""
    return format(value.normalize(), "f")


def _epoch(instant: datetime) -> int:
    return int(instant.timestamp())


def _dst_rule(transition: datetime) -> str:
    """ESPI DstRuleType for a transition on a fixed date: month (bits 28-31), day of month
    (bits 20-24), hour (bits 12-16), seconds (bits 0-11); operator 0 = that day of month."""
    rule = (transition.month << 28) | (transition.day << 20) | (transition.hour << 12)
    return f"{rule:08X}"


def _local_time_parameters(timezone: str, around: datetime) -> dict[str, str | int]:
    tz = zone(timezone)
    year = around.astimezone(tz).year
    january = datetime(year, 1, 15, 12, tzinfo=UTC).astimezone(tz)
    july = datetime(year, 7, 15, 12, tzinfo=UTC).astimezone(tz)
    standard = min(january.utcoffset(), july.utcoffset())
    daylight = max(january.utcoffset(), july.utcoffset())
    params: dict[str, str | int] = {
        "tzOffset": int(standard.total_seconds()),
        "dstOffset": int((daylight - standard).total_seconds()),
        "dstStartRule": "00000000",
        "dstEndRule": "00000000",
    }
    if daylight != standard:
        hours = [datetime(year, 1, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(8784)]
        changes = [
            (before, after)
            for before, after in pairwise(hours)
            if before.astimezone(tz).utcoffset() != after.astimezone(tz).utcoffset()
        ]
        for before, after in changes:
            local_before = before.astimezone(tz).replace(tzinfo=None)
            key = "dstStartRule" if after.astimezone(tz).utcoffset() == daylight else "dstEndRule"
            params[key] = _dst_rule(local_before + timedelta(hours=1))
    return params


def _entry(self_href: str, title: str, content: str, related: list[str] = ()) -> str:
    links = "".join(f'<link rel="related" href="{escape(href)}"/>' for href in related)
    return (
        f"<entry><id>urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, self_href)}</id>"
        f'<link rel="self" href="{escape(self_href)}"/>{links}'
        f"<title>{escape(title)}</title><content>{content}</content></entry>\n"
    )


def espi_feed(
    *, meter: Meter, start: datetime, end: datetime, currency: str, customer: Customer
) -> Iterator[str]:
    """An ESPI Atom feed (UsagePoint, LocalTimeParameters, MeterReading, ReadingType, one
    IntervalBlock per local day) that Green Button importers accept."""
    return espi_document(
        meters=[meter],
        start=start,
        end=end,
        currency=currency,
        usage_points=f"/espi/1_1/resource/RetailCustomer/{customer.pk}/UsagePoint",
        title=f"Green Button Download My Data: meter {meter.meter_number}",
    )


def espi_document(
    *,
    meters: list[Meter],
    start: datetime,
    end: datetime,
    currency: str,
    usage_points: str,
    title: str,
) -> Iterator[str]:
    """An ESPI Atom feed with one UsagePoint per meter, under the ``usage_points`` href (the
    Download My Data export and the Connect My Data subscription feeds both write this)."""
    yield _feed_start(title)
    for meter in meters:
        yield from _usage_point(meter, start, end, currency, f"{usage_points}/{meter.pk}")
    yield "</feed>\n"


def espi_usage_points(*, meters: list[Meter], usage_points: str, title: str) -> Iterator[str]:
    """An ESPI Atom feed of the meters' UsagePoint entries alone (no readings)."""
    yield _feed_start(title)
    for meter in meters:
        yield _usage_point_entry(meter, f"{usage_points}/{meter.pk}")
    yield "</feed>\n"


def _feed_start(title: str) -> str:
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">'
        f"<id>urn:uuid:{uuid.uuid4()}</id><title>{escape(title)}</title>"
        f"<updated>{now}</updated>\n"
    )


def _usage_point_entry(meter: Meter, base: str) -> str:
    return _entry(
        base,
        f"Meter {meter.meter_number}",
        '<UsagePoint xmlns="http://naesb.org/espi"><ServiceCategory><kind>'
        f"{espi.SERVICE_KINDS.get(meter.service_type, 0)}</kind></ServiceCategory></UsagePoint>",
        [f"{base}/MeterReading", f"/espi/1_1/resource/LocalTimeParameters/{meter.pk}"],
    )


def _usage_point(
    meter: Meter, start: datetime, end: datetime, currency: str, base: str
) -> Iterator[str]:
    """The entries of one meter: UsagePoint, its LocalTimeParameters, then per channel a
    MeterReading, its ReadingType and one IntervalBlock per local day of readings starting in
    ``[start, end)``."""
    local_time = "".join(
        f"<{key}>{value}</{key}>"
        for key, value in _local_time_parameters(meter.timezone, start).items()
    )
    yield _usage_point_entry(meter, base)
    yield _entry(
        f"/espi/1_1/resource/LocalTimeParameters/{meter.pk}",
        meter.timezone,
        f'<LocalTimeParameters xmlns="http://naesb.org/espi">{local_time}</LocalTimeParameters>',
    )
    for direction in channels(meter):
        yield from _meter_reading(meter, direction, start, end, currency, base)


def _reading_type_href(meter: Meter, direction: Direction) -> str:
    """The DELIVERED channel's ReadingType keeps the meter's id (as before there were two);
    the RECEIVED one gets an id derived from it."""
    if direction == Direction.DELIVERED:
        return f"/espi/1_1/resource/ReadingType/{meter.pk}"
    return f"/espi/1_1/resource/ReadingType/{uuid.uuid5(meter.pk, direction.name)}"


def _meter_reading(
    meter: Meter, direction: Direction, start: datetime, end: datetime, currency: str, base: str
) -> Iterator[str]:
    """One channel: its MeterReading (numbered by its flowDirection code), ReadingType and
    IntervalBlocks."""
    uom, meter_units_per_uom = espi.METER_UNIT_TO_UOM.get(meter.unit_of_measure, (0, Decimal(1)))
    # Values in units of 10^power of the uom, so that a quantity's 6 decimals stay whole.
    power = -QUANTITY_DECIMALS - meter_units_per_uom.adjusted()
    scale = 1 / meter_units_per_uom / Decimal(10) ** power
    interval_length = (
        ""
        if meter.interval_seconds is None
        else f"<intervalLength>{meter.interval_seconds}</intervalLength>"
    )
    reading_type = (
        '<ReadingType xmlns="http://naesb.org/espi">'
        "<accumulationBehaviour>4</accumulationBehaviour><commodity>1</commodity>"
        f"<currency>{espi.CURRENCY_CODES.get(currency, 0)}</currency>"
        f"<dataQualifier>12</dataQualifier><flowDirection>{direction.value}</flowDirection>"
        f"{interval_length}<kind>12</kind>"
        f"<phase>769</phase><powerOfTenMultiplier>{power}</powerOfTenMultiplier>"
        f"<timeAttribute>0</timeAttribute><uom>{uom}</uom></ReadingType>"
    )
    meter_reading = f"{base}/MeterReading/{direction.value}"
    reading_type_href = _reading_type_href(meter, direction)
    yield _entry(
        meter_reading,
        f"{direction.name.title()} readings",
        '<MeterReading xmlns="http://naesb.org/espi"/>',
        [f"{meter_reading}/IntervalBlock", reading_type_href],
    )
    yield _entry(reading_type_href, f"Reading type ({direction.name.lower()})", reading_type)
    for block_start, block_end, readings in _by_local_day(meter, direction, start, end):
        body = "".join(_interval_reading(reading, scale) for reading in readings)
        yield _entry(
            f"{meter_reading}/IntervalBlock/{_epoch(block_start)}",
            "",
            '<IntervalBlock xmlns="http://naesb.org/espi"><interval>'
            f"<duration>{_epoch(block_end) - _epoch(block_start)}</duration>"
            f"<start>{_epoch(block_start)}</start></interval>{body}</IntervalBlock>",
        )


def _interval_reading(reading: PricedReading, scale: Decimal) -> str:
    cost = (
        ""
        if reading.cost is None
        else f"<cost>{int(reading.cost.scaleb(-espi.COST_EXPONENT).to_integral_value())}</cost>"
    )
    quality = espi.QUALITY_CODES.get(reading.quality, 0)
    return (
        f"<IntervalReading>{cost}<ReadingQuality><quality>{quality}</quality></ReadingQuality>"
        f"<timePeriod><duration>{_epoch(reading.end) - _epoch(reading.start)}</duration>"
        f"<start>{_epoch(reading.start)}</start></timePeriod>"
        f"<value>{int((reading.quantity * scale).to_integral_value())}</value></IntervalReading>"
    )


def _by_local_day(
    meter: Meter, direction: Direction, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime, list[PricedReading]]]:
    """One channel's readings grouped by the local day they start in, one IntervalBlock each:
    its interval is that day, or the read periods themselves when they run past it."""
    tz = zone(meter.timezone)
    day: list[PricedReading] = []
    day_end = None
    for reading in priced_readings(meter=meter, lo=start, hi=end, direction=direction):
        if day_end is None or reading.start >= day_end:
            if day:
                yield _block_interval(day, tz, day_end)
            day_end = local_date_start(tz, reading.start.astimezone(tz).date() + timedelta(days=1))
            day = []
        day.append(reading)
    if day:
        yield _block_interval(day, tz, day_end)


def _block_interval(
    day: list[PricedReading], tz: ZoneInfo, day_end: datetime
) -> tuple[datetime, datetime, list[PricedReading]]:
    if day[-1].end > day_end:
        return day[0].start, day[-1].end, day
    return local_date_start(tz, day[0].start.astimezone(tz).date()), day_end, day
