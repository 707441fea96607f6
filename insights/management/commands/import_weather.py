"""``import_weather FILE``: daily mean temperatures per weather region, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from tqdm import tqdm

from energygrid.commands import OpsCommand
from insights.services import weather_upsert
from insights.weather import WeatherFileInvalid, weather_csv_parse


class Command(OpsCommand):
    help = (
        "Imports daily weather: CSV with header region,date,meanTemperatureC (°C). Checked in "
        "full first (a bad line rejects the file); upserts on (region, date)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", metavar="FILE", help="The CSV file.")

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        try:
            text = Path(file).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{file}: nothing imported: not UTF-8 text") from None
        try:
            rows = weather_csv_parse(text=text)
        except WeatherFileInvalid as exc:
            raise CommandError(f"{file}: nothing imported: {exc}") from None
        with tqdm(total=len(rows), unit="day", disable=options["verbosity"] == 0 or None) as bar:
            written = weather_upsert(rows=rows, progress=bar.update)
        regions = len({row.region for row in rows})
        first, last = min(row.date for row in rows), max(row.date for row in rows)
        self.stdout.write(
            f"{Path(file).name}: {written} days of weather for {regions} region(s), "
            f"{first} to {last}"
        )
