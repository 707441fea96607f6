"""Daily weather files (``import_weather``): CSV ``region,date,meanTemperatureC``, checked in
full before anything is stored, so a file with one bad line changes nothing."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

HEADER = ("region", "date", "meanTemperatureC")
#: Plausible daily means on Earth (records: about -70 °C and +45 °C), with some margin.
TEMPERATURE_RANGE_C = (Decimal(-90), Decimal(60))
_REGION = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Errors listed in the message before "and N more".
_SHOWN_ERRORS = 5


@dataclass(frozen=True)
class WeatherRow:
    region: str
    date: date
    mean_temperature_c: Decimal


class WeatherFileInvalid(Exception):
    """The file was refused; the message lists the offending lines."""


def _region(value: str) -> str:
    if not _REGION.fullmatch(value):
        raise ValueError(
            f"region {value!r} must be 1-32 letters, digits, '_', '.' or '-' "
            "(as the premises' weatherRegion names it)"
        )
    return value


def _date(value: str) -> date:
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"date {value!r} is not a date (YYYY-MM-DD)") from None


def _temperature(value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"meanTemperatureC {value!r} is not a number") from None
    low, high = TEMPERATURE_RANGE_C
    if not number.is_finite() or not low <= number <= high:
        raise ValueError(f"meanTemperatureC {value!r} is not between {low} and {high} °C")
    if number.as_tuple().exponent < -2:
        raise ValueError(f"meanTemperatureC {value!r} has more than 2 decimals")
    return number


def weather_csv_parse(*, text: str) -> list[WeatherRow]:
    """The rows of a weather CSV, or :class:`WeatherFileInvalid` naming every bad line (the
    header is line 1). Columns may come in any order; each (region, date) at most once."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise WeatherFileInvalid("the file is empty (a header line is required)")
    if sorted(header) != sorted(HEADER):
        raise WeatherFileInvalid(
            f"line 1: header must name the columns {','.join(HEADER)}, got {','.join(header)}"
        )
    position = {name: header.index(name) for name in HEADER}
    rows: list[WeatherRow] = []
    errors: list[str] = []
    seen: dict[tuple[str, date], int] = {}
    for fields in reader:
        line = reader.line_num
        if len(fields) != len(HEADER):
            errors.append(f"line {line}: expected {len(HEADER)} fields, got {len(fields)}")
            continue
        try:
            row = WeatherRow(
                region=_region(fields[position["region"]]),
                date=_date(fields[position["date"]]),
                mean_temperature_c=_temperature(fields[position["meanTemperatureC"]]),
            )
        except ValueError as error:
            errors.append(f"line {line}: {error}")
            continue
        key = (row.region, row.date)
        if key in seen:
            errors.append(f"line {line}: {row.region} {row.date} repeats line {seen[key]}")
            continue
        seen[key] = line
        rows.append(row)
    if errors:
        more = len(errors) - _SHOWN_ERRORS
        shown = "; ".join(errors[:_SHOWN_ERRORS])
        raise WeatherFileInvalid(shown + (f" (and {more} more)" if more > 0 else ""))
    if not rows:
        raise WeatherFileInvalid("no rows after the header")
    return rows
