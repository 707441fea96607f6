"""Green Button (NAESB ESPI) Atom feeds of one meter, streamed through a SAX parser.

Each IntervalBlock is read in its MeterReading's ReadingType: ``uom`` and
``powerOfTenMultiplier`` scale its values, ``flowDirection`` 19 makes its readings RECEIVED
(1 or none: DELIVERED), so one feed may hold both channels. A reading covers its
``timePeriod`` (start and duration), checked against the meter like any other reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import BinaryIO
from xml.sax import SAXParseException, handler
from xml.sax.expatreader import ExpatLocator

from defusedxml import DefusedXmlException
from defusedxml.expatreader import create_parser

from customers.models import Meter
from usage import espi
from usage.imports.validation import Batch, Errors, NewReading, RowsBuilder, fatal, shown
from usage.models import Direction, Quality

#: An ESPI integer: at most 18 digits (an int64), so no text can make a huge number.
INTEGER = re.compile(r"[+-]?\d{1,18}")
#: Deeper elements reject a feed (an ESPI feed nests about ten deep).
MAX_DEPTH = 32
#: Longer text in one element rejects a feed (ESPI values are short).
MAX_TEXT_CHARS = 1 << 16

# (parent, element) pairs of an IntervalReading that the import reads.
_READING_FIELDS = {
    ("timePeriod", "start"),
    ("timePeriod", "duration"),
    ("IntervalReading", "value"),
    ("IntervalReading", "cost"),
}


@dataclass(frozen=True)
class _ReadingType:
    uom: int
    power_of_ten: int
    currency: int | None
    flow_direction: int


@dataclass(frozen=True)
class _Block:
    """How to read the IntervalReadings of the IntervalBlock being parsed."""

    factor: Decimal  # value x factor = quantity in the meter's unit
    direction: Direction
    cost_problem: str | None  # why its costs cannot be taken, if they cannot


class _EspiHandler(handler.ContentHandler):
    """SAX handler turning an ESPI Atom feed's IntervalReadings into staged readings.

    Streaming: it keeps only the feed's ReadingTypes and MeterReading links, and hands each
    reading to ``rows`` as soon as its element closes. Elements nested deeper than MAX_DEPTH
    and text longer than MAX_TEXT_CHARS reject the feed (no feed needs them; a bomb does).
    """

    def __init__(self, *, source: str, meter: Meter, rows: RowsBuilder) -> None:
        super().__init__()
        self.source = source
        self.meter = meter
        self.rows = rows
        self.errors = rows.errors
        self._text_chars = 0
        self.readings_seen = 0
        self._locator = None
        self._stack: list[str] = []
        self._text: list[str] = []
        self._links: list[tuple[str, str]] = []
        self._resource: str | None = None
        self._type_fields: dict[str, str] = {}
        self._reading_types: dict[str, _ReadingType] = {}
        self._meter_reading_types: dict[str, str] = {}
        self._block: _Block | None = None
        self._reading: dict[str, str | int | list[str]] | None = None

    def setDocumentLocator(self, locator) -> None:
        self._locator = locator

    @property
    def line(self) -> int:
        return self._locator.getLineNumber() if self._locator else 0

    def characters(self, content: str) -> None:
        self._text_chars += len(content)
        if self._text_chars > MAX_TEXT_CHARS:
            raise fatal(self.source, self.line, f"text longer than {MAX_TEXT_CHARS:,} characters")
        self._text.append(content)

    def startElementNS(self, name, qname, attrs) -> None:
        local = name[1]
        parent = self._stack[-1] if self._stack else None
        self._stack.append(local)
        if len(self._stack) > MAX_DEPTH:
            raise fatal(self.source, self.line, f"elements nested more than {MAX_DEPTH} deep")
        self._text = []
        self._text_chars = 0
        if local == "entry":
            self._links = []
        elif local == "link" and "entry" in self._stack:
            self._links.append((attrs.get((None, "rel"), ""), attrs.get((None, "href"), "")))
        elif parent == "content" and local in ("ReadingType", "MeterReading", "IntervalBlock"):
            self._resource = local
            self._type_fields = {}
            if local == "IntervalBlock":
                self._block = self._block_start()
        elif local == "IntervalReading" and self._resource == "IntervalBlock":
            self._reading = {"line": self.line, "quality": []}

    def endElementNS(self, name, qname) -> None:
        local = name[1]
        text = "".join(self._text).strip()
        self._text = []
        self._text_chars = 0
        self._stack.pop()
        parent = self._stack[-1] if self._stack else None
        reading = self._reading
        if self._resource == "ReadingType" and parent == "ReadingType":
            self._type_fields[local] = text
        elif reading is not None:
            if (parent, local) in _READING_FIELDS:
                reading[local] = text
            elif parent == "ReadingQuality" and local == "quality":
                reading["quality"].append(text)
            elif local == "IntervalReading":
                self._reading = None
                self.readings_seen += 1
                self._add(reading)
        if parent == "content" and local == self._resource:
            self._end_resource(local)

    def _self_href(self) -> str:
        return next((href for rel, href in self._links if rel == "self"), "")

    def _end_resource(self, local: str) -> None:
        if local == "ReadingType":
            fields = self._type_fields
            try:
                self._reading_types[self._self_href()] = _ReadingType(
                    uom=int(fields["uom"]),
                    power_of_ten=int(fields.get("powerOfTenMultiplier") or 0),
                    currency=int(fields["currency"]) if fields.get("currency") else None,
                    flow_direction=int(fields.get("flowDirection") or Direction.DELIVERED),
                )
            except (KeyError, ValueError):
                raise fatal(
                    self.source,
                    self.line,
                    "ReadingType needs an integer uom (and multiplier, flowDirection)",
                ) from None
        elif local == "MeterReading":
            related = [href for rel, href in self._links if rel == "related"]
            reading_type = next((href for href in related if "/ReadingType/" in href), None)
            if reading_type:
                self._meter_reading_types[self._self_href()] = reading_type
        self._resource = None
        self._block = None

    def _block_start(self) -> _Block:
        """How to read the IntervalBlock starting here, from its ReadingType.

        Found through the block's MeterReading (its href prefix); a feed with a single
        ReadingType needs no links.
        """
        reading_type = None
        for rel, href in self._links:
            if rel in ("self", "up") and "/IntervalBlock" in href:
                meter_reading = href.split("/IntervalBlock")[0]
                reading_type = self._reading_types.get(
                    self._meter_reading_types.get(meter_reading, "")
                )
                if reading_type:
                    break
        if reading_type is None and len(set(self._reading_types.values())) == 1:
            reading_type = next(iter(self._reading_types.values()))
        if reading_type is None:
            raise fatal(
                self.source,
                self.line,
                "cannot tell which ReadingType this IntervalBlock is in: the feed must give "
                "the ReadingType (linked from the block's MeterReading) before the blocks",
            )
        unit = self.meter.unit_of_measure
        factor = espi.UOM_TO_METER_UNIT.get((reading_type.uom, unit))
        if factor is None:
            uom = espi.UOM_NAMES.get(reading_type.uom, "an unsupported unit")
            raise fatal(
                self.source,
                self.line,
                f"the feed's values are in {uom} (uom {reading_type.uom}), which meter "
                f"{self.meter.meter_number} (in {unit}) cannot take",
            )
        if reading_type.flow_direction not in Direction.values:
            raise fatal(
                self.source,
                self.line,
                f"the IntervalBlock's ReadingType has flowDirection {reading_type.flow_direction}"
                f"; only {Direction.DELIVERED} (delivered) and {Direction.RECEIVED} (received) "
                "can be imported",
            )
        billed_in = self.meter.account.customer.billing_currency
        currency = reading_type.currency
        cost_problem = None
        if currency is not None and espi.CURRENCIES.get(currency) != billed_in:
            cost_problem = (
                f"costs are in currency {currency} but the customer is billed in {billed_in}"
            )
        return _Block(
            factor=factor * Decimal(1).scaleb(reading_type.power_of_ten),
            direction=Direction(reading_type.flow_direction),
            cost_problem=cost_problem,
        )

    def _add(self, reading: dict) -> None:
        line = reading["line"]
        block = self._block
        assert block is not None
        for key in ("start", "duration", "value"):
            if not INTEGER.fullmatch(str(reading.get(key, ""))):
                self.errors.add(line, f"IntervalReading needs an integer {key}")
                return
        codes = reading["quality"]
        if any(not code.isdigit() for code in codes) or not {int(c) for c in codes} <= (
            espi.ACTUAL_QUALITIES | espi.ESTIMATED_QUALITIES
        ):
            self.errors.add(line, f"unknown ReadingQuality {', '.join(codes)}")
            return
        quality = (
            Quality.ESTIMATED
            if {int(c) for c in codes} & espi.ESTIMATED_QUALITIES
            else Quality.ACTUAL
        )
        cost = None
        if reading.get("cost"):
            if not INTEGER.fullmatch(reading["cost"]):
                self.errors.add(line, f"cost {shown(reading['cost'])} is not an integer")
                return
            if block.cost_problem:
                self.errors.add(line, block.cost_problem)
                return
            cost = Decimal(int(reading["cost"])).scaleb(espi.COST_EXPONENT)
        try:
            start = datetime.fromtimestamp(int(reading["start"]), UTC)
        except (ValueError, OverflowError, OSError):
            self.errors.add(line, f"start {reading['start']} is out of range")
            return
        try:
            end = start + timedelta(seconds=int(reading["duration"]))
        except OverflowError:
            self.errors.add(line, f"duration {reading['duration']} is out of range")
            return
        quantity = Decimal(int(reading["value"])) * block.factor
        self.rows.add(
            line=line,
            meter=0,
            reading=NewReading(start, quantity, cost, quality, block.direction, end),
        )


def espi_batches(stream: BinaryIO, *, source: str, meter: Meter, errors: Errors) -> Iterator[Batch]:
    """Readings of an ESPI feed for ``meter`` (index 0), parsed by a SAX parser that refuses
    entities and external references (defusedxml)."""
    parser = create_parser()
    parser.setFeature(handler.feature_namespaces, True)
    rows = RowsBuilder(errors=errors)
    feed = _EspiHandler(source=source, meter=meter, rows=rows)
    parser.setContentHandler(feed)
    feed.setDocumentLocator(ExpatLocator(parser))  # parse() would; feed() does not
    try:
        while chunk := stream.read(1 << 16):
            parser.feed(chunk)
            if rows.full():
                yield rows.take()
        parser.close()
    except SAXParseException as error:
        message = f"not well-formed XML: {error.getMessage()}"
        raise fatal(source, error.getLineNumber(), message) from None
    except DefusedXmlException as error:
        raise fatal(source, feed.line, f"refused XML construct: {error}") from None
    yield rows.take()
    if feed.readings_seen == 0:
        raise fatal(source, feed.line, "the feed holds no IntervalReading")
