"""``readings_import`` (a CSV or ESPI file) and ``readings_upsert`` (generated readings).

Three short transactions, so the readings table is never locked longer than the write needs:
1. every row is parsed and checked, batch by batch, and the good ones staged (``staging``);
   any bad row (or a repeated meter, direction and start) rejects the file, naming the first
   lines;
2. the monthly partitions the file needs are created and committed on their own (creating one
   locks the whole readings table, so never inside the write);
3. the write: meters locked in id order, read periods checked for overlaps (with each other
   and with the stored ones: any rejects the file), the rows inserted (upserted where the meter
   already has readings in the file's range), the meters' reading bounds widened, each changed
   range recorded and its rollup catch-up queued after commit.

A range runs from the first start to the last end: start + interval on an interval meter,
the reading's own end on a billing-read meter.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from tqdm import tqdm

from customers.models import Meter, Utility
from usage.imports.csvfile import CsvReadings
from usage.imports.greenbutton import espi_batches
from usage.imports.staging import MeterRange, PostgresStage, SqliteStage, Stage
from usage.imports.validation import (
    FUTURE_SLACK,
    Batch,
    Errors,
    ImportResult,
    NewReading,
    ReadingsImportError,
    RowsBuilder,
    keep_valid,
    shown,
)
from usage.models import RollupDirtyRange
from usage.partitions import reading_partitions_ensure
from usage.tasks import rollups_catch_up


def _extend_meter_bounds(ranges: list[MeterRange]) -> None:
    """First reading's start and last reading's end, widened to what the file brought (the
    meters are locked by the write)."""
    bounds = Meter.objects.in_bulk([r.meter.pk for r in ranges])
    for found in ranges:
        meter = bounds[found.meter.pk]
        first, last = meter.first_reading_at, meter.last_reading_at
        meter.first_reading_at = found.first if first is None else min(first, found.first)
        meter.last_reading_at = found.end if last is None else max(last, found.end)
    Meter.objects.bulk_update(bounds.values(), ["first_reading_at", "last_reading_at"])


def _queue_rollups(changed: list[MeterRange]) -> None:
    """Records each changed range and queues its catch-up once the readings are committed."""
    RollupDirtyRange.objects.bulk_create(
        RollupDirtyRange(meter=found.meter, start=found.first, end=found.end) for found in changed
    )
    for found in changed:
        rollups_catch_up.delay_on_commit(
            str(found.meter.pk), found.first.isoformat(), found.end.isoformat()
        )


def _stage(meters: Sequence[Meter]) -> Stage:
    return PostgresStage(meters) if connection.vendor == "postgresql" else SqliteStage(meters)


def _load(
    batches: Iterable[Batch], *, source: str, errors: Errors, meters: Sequence[Meter]
) -> ImportResult:
    latest = timezone.now() + FUTURE_SLACK
    stage = _stage(meters)
    try:
        with transaction.atomic():
            for batch in batches:
                stage.add(keep_valid(batch, meters=meters, latest=latest, errors=errors))
        if errors.total:
            raise errors.rejection(source, stage.duplicates())
        ranges = stage.ranges()
        if not ranges:
            raise ReadingsImportError(f"{source}: no readings in the file")
        start = min(r.first for r in ranges)
        end = max(r.end for r in ranges)
        reading_partitions_ensure(start=start, end=end)
        try:
            with transaction.atomic():
                stage.lock(ranges)
                overlaps = stage.overlaps()
                if overlaps.total:
                    raise overlaps.rejection(source, stage.duplicates())
                changed = stage.store(ranges)
                _extend_meter_bounds(ranges)
                _queue_rollups(changed)
        except DatabaseError:  # a repeated key breaks the unique index: say which lines
            duplicates = stage.duplicates()
            if duplicates.total:
                raise errors.rejection(source, duplicates) from None
            raise
    finally:
        stage.drop()
    return ImportResult(
        rows=stage.staged,
        changed=sum(r.rows for r in changed),
        meters=len(ranges),
        start=start,
        end=end,
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


class _Meters:
    """The meters a file names, found by number (within a utility when given) and numbered in
    the order they first appear; a number that names no single meter maps to the reason."""

    def __init__(self, *, utility: Utility | None, only: Meter | None) -> None:
        self.utility = utility
        self.only = only
        self.found: list[Meter] = []
        self.known: dict[str, int | str] = {}

    def __call__(self, number: str) -> int | str:
        if number not in self.known:
            meter = self._find(number)
            if isinstance(meter, Meter):
                self.found.append(meter)
                self.known[number] = len(self.found) - 1
            else:
                self.known[number] = meter
        return self.known[number]

    def _find(self, number: str) -> Meter | str:
        if self.only is not None:
            if number == self.only.meter_number:
                return self.only
            only = self.only.meter_number
            return f"meter {shown(number)} is not the meter --meter names ({only})"
        try:
            return _find_meter(number, self.utility)
        except ReadingsImportError as error:
            return str(error)


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
    """Imports a CSV or ESPI file of readings: all of it, or nothing.

    ``meter_number`` names the meter that receives an ESPI feed (required there); with CSV it
    restricts the file to that meter (whose ``meterNumber`` column may then be left out).
    ``utility_slug`` scopes meter numbers to one utility. Raises ReadingsImportError
    (ReadingsRejected for bad rows) with a one-line reason.
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
            batches = espi_batches(stream, source=source, meter=meter, errors=errors)
            return _load(batches, source=source, errors=errors, meters=[meter])
        meters = _Meters(utility=utility, only=meter)
        readings = CsvReadings(
            source=source, meter_index=meters, meters=meters.found, only=meter, errors=errors
        )
        return _load(readings.batches(stream), source=source, errors=errors, meters=meters.found)


def readings_upsert(*, meter: Meter, readings: Iterable[tuple]) -> ImportResult:
    """Stores readings of one meter given as ``NewReading``s (or tuples of its leading fields,
    such as ``(start, quantity, cost, quality)``), like an import.

    For code that generates readings (the demo): same validation, staging, upsert, meter
    bounds and rollup catch-up as a file; "line" numbers in errors count readings from 1.
    """
    errors = Errors()

    def batches() -> Iterator[Batch]:
        rows = RowsBuilder(errors=errors)
        for number, reading in enumerate(readings, start=1):
            rows.add(line=number, meter=0, reading=NewReading(*reading))
            if rows.full():
                yield rows.take()
        yield rows.take()

    source = f"readings of meter {meter.meter_number}"
    return _load(batches(), source=source, errors=errors, meters=[meter])
