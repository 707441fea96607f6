"""``seed_demo``: a demo utility with its own signing key, tariffs and customers."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from customers.demo import demo_seed
from usage.demo import demo_usage_seed

_MAX_CUSTOMERS = 10_000
_MIN_DAYS, _MAX_DAYS = 7, 3660


class Command(BaseCommand):
    help = (
        "Creates or updates the demo utility (own signing key), flat and time-of-use tariffs "
        "and N customers with accounts, premises, meters and D days of 15-minute (electric) and "
        "hourly (gas) readings up to now. Deterministic for a seed; "
        "re-running with the same seed changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--customers", type=int, default=5, help=f"How many (1-{_MAX_CUSTOMERS})."
        )
        parser.add_argument(
            "--days",
            type=int,
            default=400,
            help=f"Days of readings up to now ({_MIN_DAYS}-{_MAX_DAYS}); 0 for none.",
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed (0 or more).")

    def handle(self, *args: Any, customers: int, days: int, seed: int, **options: Any) -> None:
        if not 1 <= customers <= _MAX_CUSTOMERS:
            raise CommandError(f"--customers must be between 1 and {_MAX_CUSTOMERS}")
        if days != 0 and not _MIN_DAYS <= days <= _MAX_DAYS:
            raise CommandError(f"--days must be 0 or between {_MIN_DAYS} and {_MAX_DAYS}")
        if seed < 0:
            raise CommandError("--seed must be 0 or more")
        with tqdm(total=customers, unit="customer", desc="customers", disable=None) as bar:
            result = demo_seed(customers=customers, seed=seed, progress=bar.update)
        self.stdout.write(result.imported.summary())
        if days:
            meters = result.utility.meters.count()
            with tqdm(total=meters, unit="meter", desc="readings", disable=None) as bar:
                usage = demo_usage_seed(
                    utility=result.utility, days=days, seed=seed, progress=bar.update
                )
            readings = sum(meter.readings for meter in usage.meters)
            self.stdout.write(
                f"{readings} readings for {len(usage.meters)} meters over {days} days"
            )
        self.stdout.write(f"Demo utility: {result.utility.slug}")
        self.stdout.write("Get an ID token for a demo customer (then POST it to Customer/login):")
        for subject in result.subjects:
            self.stdout.write(
                "python manage.py issue_identity_token "
                f"--utility {result.utility.slug} --subject {subject}"
            )
