"""``readings_import`` (a CSV or ESPI file) and ``readings_upsert`` (generated readings): the
validated rows are staged, checked for duplicates and upserted in one transaction; the meters'
reading bounds move and a rollup catch-up is queued after commit for what changed."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from customers.models import Meter, Utility
from usage.imports.csvfile import csv_readings
from usage.imports.greenbutton import espi_readings
from usage.imports.staging import PostgresStage, SqliteStage
from usage.imports.validation import (
    FUTURE_SLACK,
    QUALITIES,
    Errors,
    ImportResult,
    ReadingsImportError,
    StagedReading,
    reading_problem,
)
from usage.models import RollupDirtyRange
from usage.partitions import reading_partitions_ensure
from usage.tasks import rollups_catch_up


def _extend_meter_bounds(
    ranges: list[tuple[uuid.UUID, datetime, datetime, int]], meters: dict[uuid.UUID, Meter]
) -> None:
    """First reading's start and last reading's end, widened to what the file brought."""
    for meter_id, lo, hi, _ in ranges:
        end = hi + timedelta(seconds=meters[meter_id].interval_seconds)
        first, last = (
            Meter.objects.select_for_update()
            .filter(pk=meter_id)
            .values_list("first_reading_at", "last_reading_at")
            .get()
        )
        Meter.objects.filter(pk=meter_id).update(
            first_reading_at=lo if first is None else min(first, lo),
            last_reading_at=end if last is None else max(last, end),
        )


def _queue_rollups(
    changed: list[tuple[uuid.UUID, datetime, datetime, int]], meters: dict[uuid.UUID, Meter]
) -> None:
    """Records each changed range and queues its catch-up once the readings are committed."""
    for meter_id, lo, hi, _ in changed:
        end = hi + timedelta(seconds=meters[meter_id].interval_seconds)
        RollupDirtyRange.objects.create(meter_id=meter_id, start=lo, end=end)
        rollups_catch_up.delay_on_commit(str(meter_id), lo.isoformat(), end.isoformat())


def _load(readings: Iterable[StagedReading], *, source: str, errors: Errors) -> ImportResult:
    with transaction.atomic():
        stage = PostgresStage() if connection.vendor == "postgresql" else SqliteStage()
        rows, meters = stage.load(readings)
        duplicates = stage.duplicates()
        if errors.total or duplicates.total:
            raise errors.rejection(source, duplicates)
        if rows == 0:
            raise ReadingsImportError(f"{source}: no readings in the file")
        ranges = stage.ranges()
        start = min(lo for _, lo, _, _ in ranges)
        end = max(hi for _, _, hi, _ in ranges)
        reading_partitions_ensure(start=start, end=end)
        changed = stage.upsert()
        stage.drop()
        _extend_meter_bounds(ranges, meters)
        _queue_rollups(changed, meters)
    longest = max(meter.interval_seconds for meter in meters.values())
    return ImportResult(
        rows=rows,
        changed=sum(n for _, _, _, n in changed),
        meters=len(ranges),
        start=start,
        end=end + timedelta(seconds=longest),
    )


class _CountingReader(io.RawIOBase):
    """Passes bytes through, advancing a progress bar by how many were read."""

    def __init__(self, raw: BinaryIO, bar: tqdm) -> None:
        self.raw = raw
        self.bar = bar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.raw.readinto(buffer)
        self.bar.update(count or 0)
        return count


class _MeterLookup:
    """Meter numbers to meters, within a utility when given; remembered per import."""

    def __init__(self, *, utility: Utility | None, only: Meter | None) -> None:
        self.utility = utility
        self.only = only
        self.known: dict[str, Meter | str] = {}

    def __call__(self, number: str) -> Meter | str:
        if number not in self.known:
            self.known[number] = self._find(number)
        return self.known[number]

    def _find(self, number: str) -> Meter | str:
        if self.only is not None:
            if number == self.only.meter_number:
                return self.only
            return f"meter {number!r} is not the meter --meter names ({self.only.meter_number})"
        meters = Meter.objects.select_related("account__customer").filter(meter_number=number)
        if self.utility is not None:
            meters = meters.filter(utility=self.utility)
        found = list(meters[:2])
        if not found:
            return f"unknown meter number {number!r}"
        if len(found) > 1:
            return f"meter number {number!r} exists at several utilities: pass --utility"
        return found[0]


def _find_meter(number: str, utility: Utility | None) -> Meter:
    meters = Meter.objects.select_related("account__customer").filter(meter_number=number)
    if utility is not None:
        meters = meters.filter(utility=utility)
    found = list(meters[:2])
    if not found:
        raise ReadingsImportError(f"unknown meter number {number!r}")
    if len(found) > 1:
        raise ReadingsImportError(
            f"meter number {number!r} exists at several utilities: pass --utility"
        )
    return found[0]


def readings_import(
    *,
    path: Path,
    file_format: str = "csv",
    meter_number: str | None = None,
    utility_slug: str | None = None,
    progress: bool = False,
) -> ImportResult:
    """Imports a CSV or ESPI file of interval readings: all of it, or nothing.

    ``meter_number`` names the meter that receives an ESPI feed (required there); with CSV it
    restricts the file to that meter. ``utility_slug`` scopes meter numbers to one utility.
    Raises ReadingsImportError (ReadingsRejected for bad rows) with a one-line reason.
    """
    if file_format not in ("csv", "espi"):
        raise ReadingsImportError(f"unknown format {file_format!r}: use csv or espi")
    utility = None
    if utility_slug is not None:
        utility = Utility.objects.filter(slug=utility_slug).first()
        if utility is None:
            raise ReadingsImportError(f"unknown utility {utility_slug!r}")
    meter = _find_meter(meter_number, utility) if meter_number is not None else None
    if file_format == "espi" and meter is None:
        raise ReadingsImportError("--meter is required with --format espi")
    try:
        raw = path.open("rb", buffering=0)
    except OSError as error:
        raise ReadingsImportError(f"cannot read {path}: {error.strerror}") from None
    source = path.name
    errors = Errors()
    with (
        raw,
        tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            desc=f"import {source}",
            disable=not progress,
        ) as bar,
    ):
        stream = io.BufferedReader(_CountingReader(raw, bar))
        if file_format == "espi":
            assert meter is not None
            readings = espi_readings(stream, source=source, meter=meter, errors=errors)
            return _load(readings, source=source, errors=errors)
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        lookup = _MeterLookup(utility=utility, only=meter)
        try:
            readings = csv_readings(text, source=source, lookup=lookup, errors=errors)
            return _load(readings, source=source, errors=errors)
        except UnicodeDecodeError:
            raise ReadingsImportError(f"{source}: not UTF-8 text") from None


def readings_upsert(
    *, meter: Meter, readings: Iterable[tuple[datetime, Decimal, Decimal | None, str]]
) -> ImportResult:
    """Stores ``(start, quantity, cost, quality)`` readings of one meter, like an import.

    For code that generates readings (the demo): same validation, staging, upsert, meter
    bounds and rollup catch-up as a file; "line" numbers in errors count readings from 1.
    """
    latest = timezone.now() + FUTURE_SLACK
    errors = Errors()

    def staged() -> Iterator[StagedReading]:
        for number, (start, quantity, cost, quality) in enumerate(readings, start=1):
            problem = reading_problem(
                meter=meter, start=start, quantity=quantity, cost=cost, latest=latest
            )
            if problem is None and quality not in QUALITIES:
                problem = f"quality {quality!r} is not ACTUAL or ESTIMATED"
            if problem:
                errors.add(number, problem)
                continue
            yield StagedReading(number, meter, start.astimezone(UTC), quantity, cost, quality)

    return _load(staged(), source=f"readings of meter {meter.meter_number}", errors=errors)
