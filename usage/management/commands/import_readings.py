"""``import_readings FILE [--format csv|espi] [--meter N] [--utility S]``: meter readings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from energygrid.commands import OpsCommand
from usage.imports import ReadingsImportError, readings_import


class Command(OpsCommand):
    help = (
        "Imports readings from a CSV file (meterNumber,start,quantity[,quality][,cost]"
        "[,direction][,end]; end required for billing-read meters) or a Green Button ESPI feed "
        "(--format espi --meter N). Upserts on (meter, direction, start); a file with any bad "
        "row is rejected whole; queues the rollups of what changed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", metavar="FILE", help="The CSV file or ESPI Atom feed.")
        parser.add_argument(
            "--format",
            choices=["csv", "espi"],
            help="File format; default: espi for .xml files, else csv.",
        )
        parser.add_argument(
            "--meter",
            metavar="NUMBER",
            help="Meter number receiving an ESPI feed (required there); with CSV, the only "
            "meter the file may name (its meterNumber column may then be left out).",
        )
        parser.add_argument(
            "--utility", metavar="SLUG", help="Utility whose meter numbers the file uses."
        )

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        path = Path(file)
        file_format = options["format"] or ("espi" if path.suffix.lower() == ".xml" else "csv")
        try:
            result = readings_import(
                path=path,
                file_format=file_format,
                meter_number=options["meter"],
                utility_slug=options["utility"],
                progress=options["verbosity"] > 0,
            )
        except ReadingsImportError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{path.name}: {result.rows} readings for {result.meters} meter(s), "
            f"{result.changed} new or changed, {result.start:%Y-%m-%dT%H:%MZ} to "
            f"{result.end:%Y-%m-%dT%H:%MZ}"
        )
