"""CSV files of readings: ``meterNumber,start,quantity[,quality][,cost]``, streamed row by row."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import TextIO

from django.utils import timezone

from customers.models import Meter
from usage.imports.validation import (
    CSV_COLUMNS,
    CSV_REQUIRED,
    FUTURE_SLACK,
    QUALITIES,
    Errors,
    StagedReading,
    fatal,
    parse_decimal,
    parse_rfc3339,
    reading_problem,
)
from usage.models import Quality


def csv_readings(
    stream: TextIO, *, source: str, lookup: Callable[[str], Meter | str], errors: Errors
) -> Iterator[StagedReading]:
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise fatal(source, 1, f"the file is empty; a header {','.join(CSV_COLUMNS)} is required")
    columns = [name.strip() for name in header]
    unknown = [name for name in columns if name not in CSV_COLUMNS]
    missing = [name for name in CSV_REQUIRED if name not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        raise fatal(
            source,
            1,
            f"the header must name {', '.join(CSV_REQUIRED)} and optionally quality, cost, "
            f"each once (got {','.join(columns)})",
        )
    at = {name: i for i, name in enumerate(columns)}
    latest = timezone.now() + FUTURE_SLACK
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            errors.add(line, f"expected {len(columns)} fields, found {len(row)}")
            continue
        values = {name: row[i].strip() for name, i in at.items()}
        meter = lookup(values["meterNumber"])
        if isinstance(meter, str):
            errors.add(line, meter)
            continue
        try:
            start = parse_rfc3339(values["start"])
            quantity = parse_decimal(values["quantity"], "quantity")
            cost = parse_decimal(values["cost"], "cost") if values.get("cost") else None
        except ValueError as error:
            errors.add(line, str(error))
            continue
        quality = values.get("quality") or Quality.ACTUAL
        if quality not in QUALITIES:
            errors.add(line, f"quality {quality!r} is not ACTUAL or ESTIMATED")
            continue
        problem = reading_problem(
            meter=meter, start=start, quantity=quantity, cost=cost, latest=latest
        )
        if problem:
            errors.add(line, problem)
            continue
        yield StagedReading(line, meter, start, quantity, cost, quality)
