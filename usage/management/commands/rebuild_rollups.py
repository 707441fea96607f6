"""``rebuild_rollups [--meter N] [--since DATE] [--utility S] [--force]``: recompute rollups."""

from __future__ import annotations

from argparse import ArgumentTypeError
from datetime import date
from typing import Any

from django.core.management.base import CommandError
from tqdm import tqdm

from customers.models import Meter
from energygrid.commands import OpsCommand
from usage.calendar import local_date_start, zone
from usage.pricing import PRICING_PREFETCH
from usage.rollups import rollups_rebuild_many


class Command(OpsCommand):
    help = (
        "Recomputes rollups from the readings (all meters, or one), from a local date on. "
        "Idempotent: the same readings always give the same rollups; meters unchanged since "
        "their last full rebuild are skipped (--force: recompute them too)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--meter", metavar="NUMBER", help="Only this meter (its number).")
        parser.add_argument(
            "--since",
            metavar="YYYY-MM-DD",
            type=self._date,
            help="Only buckets from this date (local midnight of each meter) on.",
        )
        parser.add_argument("--utility", metavar="SLUG", help="Only this utility's meters.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Also meters whose readings, tariff prices and calendar are unchanged since "
            "their last full rebuild (after readings were changed by hand).",
        )

    @staticmethod
    def _date(text: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None

    def handle(self, *args: Any, **options: Any) -> None:
        meters = (
            Meter.objects.select_related("account")
            .prefetch_related(*PRICING_PREFETCH)
            .order_by("utility__slug", "meter_number")
        )
        if options["utility"]:
            meters = meters.filter(utility__slug=options["utility"])
            if not meters.exists():
                raise CommandError(f"no meters at utility {options['utility']!r}")
        if options["meter"]:
            meters = list(meters.filter(meter_number=options["meter"])[:2])
            if not meters:
                raise CommandError(f"unknown meter number {options['meter']!r}")
            if len(meters) > 1:
                raise CommandError(
                    f"meter number {options['meter']!r} exists at several utilities: pass --utility"
                )
        since: date | None = options["since"]
        if isinstance(meters, list):
            total, each = len(meters), meters
        else:
            total, each = meters.count(), meters.iterator(chunk_size=500)
        progress = tqdm(each, total=total, unit="meter", disable=options["verbosity"] == 0)
        rebuilt = rollups_rebuild_many(
            (
                (meter, None if since is None else local_date_start(zone(meter.timezone), since))
                for meter in progress
            ),
            skip_unchanged=not options["force"],
        )
        self.stdout.write(f"rebuilt the rollups of {rebuilt} meter(s)")
