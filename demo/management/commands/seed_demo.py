"""``seed_demo``: a demo utility with its own signing key, tariffs, customers, a year and more of
weather-driven readings, and the insights they give."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.management.base import CommandError
from tqdm import tqdm

from customers.models import Utility
from demo.meter_data import demo_usage_seed, demo_weather
from demo.partner import DEMO_PARTNER, demo_partner_register
from demo.utility import demo_seed
from energygrid.commands import OpsCommand
from insights.services import ground_truth_record, insights_generate, weather_upsert
from insights.weather import WeatherRow

_MAX_CUSTOMERS = 10_000
_MIN_DAYS, _MAX_DAYS = 7, 3660


class Command(OpsCommand):
    help = (
        "Creates or updates the demo utility (own signing key), flat, time-of-use, gas and "
        "solar export tariffs and N customers with accounts, premises, meters, D days of "
        "weather-driven 15-minute (electric; both ways for solar homes) and hourly or monthly "
        "(gas) readings up to now, and their insights. Deterministic for a seed; re-running "
        "with the same seed changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--customers", type=int, default=16, help=f"How many (1-{_MAX_CUSTOMERS})."
        )
        parser.add_argument(
            "--days",
            type=int,
            default=550,
            help=(
                f"Days of readings up to now ({_MIN_DAYS}-{_MAX_DAYS}); 0 for none. The default "
                "(about 18 months) gives billing periods a year-ago period to compare with."
            ),
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed (0 or more).")

    def handle(self, *args: Any, customers: int, days: int, seed: int, **options: Any) -> None:
        if not 1 <= customers <= _MAX_CUSTOMERS:
            raise CommandError(f"--customers must be between 1 and {_MAX_CUSTOMERS}")
        if days != 0 and not _MIN_DAYS <= days <= _MAX_DAYS:
            raise CommandError(f"--days must be 0 or between {_MIN_DAYS} and {_MAX_DAYS}")
        if seed < 0:
            raise CommandError("--seed must be 0 or more")
        with self._stage("customers", customers, "customer") as progress:
            result = demo_seed(customers=customers, seed=seed, progress=progress)
        self.stdout.write(result.imported.summary())
        if days:
            self._seed_data(result.utility, days=days, seed=seed)
        self.stdout.write(f"Demo utility: {result.utility.slug}")
        solar = result.solar_subjects[0]
        self.stdout.write(
            f"{solar} is a solar home (rooftop solar: its meter also records what it exports, "
            "and its usage is net of it). Its ID token (POST it to Customer/login):\n"
            f"python manage.py issue_identity_token --utility {result.utility.slug} "
            f"--subject {solar}"
        )
        self.stdout.write("Get an ID token for a demo customer (then POST it to Customer/login):")
        for subject in result.subjects:
            self.stdout.write(
                "python manage.py issue_identity_token "
                f"--utility {result.utility.slug} --subject {subject}"
            )
        demo_partner_register(utility_slug=result.utility.slug)
        self.stdout.write(
            f"Demo partner app {DEMO_PARTNER!r} registered. With the server running, play it "
            "(consent, token, a read, a signed webhook) with:\n"
            f"python manage.py partner_demo --subject {result.subjects[0]}"
        )

    def _seed_data(self, utility: Utility, *, days: int, seed: int) -> None:
        """Weather, then readings that follow it (keeping the generator's ground truth for
        evaluate_insights), then every customer's insights."""
        weather = demo_weather(utility=utility, days=days, seed=seed)
        weather_upsert(
            rows=[
                WeatherRow(region, first_day + timedelta(days=i), Decimal(f"{celsius:.1f}"))
                for region, (first_day, temperatures) in weather.items()
                for i, celsius in enumerate(temperatures.tolist())
            ]
        )
        with self._stage("readings", utility.meters.count(), "meter") as progress:
            loaded = demo_usage_seed(
                utility=utility, weather=weather, days=days, seed=seed, progress=progress
            )
        for data in loaded:
            ground_truth_record(
                meter=data.meter,
                baseload_watts=data.ground_truth.baseload_watts,
                anomalies=data.ground_truth.anomalies,
            )
        readings = sum(data.readings for data in loaded)
        self.stdout.write(f"{readings} readings for {len(loaded)} meters over {days} days")
        customers = list(utility.customers.filter(active=True).order_by("subject"))
        written = 0
        with self._stage("insights", len(customers), "customer") as progress:
            for customer in customers:
                written += insights_generate(customer=customer)
                progress(1)
        self.stdout.write(f"{written} insights for {len(customers)} customers")

    @contextmanager
    def _stage(self, name: str, total: int, unit: str) -> Iterator[Callable[[int], None]]:
        """Progress of one seeding stage: a bar on a terminal, else one line as it starts
        (flushed, so a log file or a pipe shows where a minutes-long seed has got to)."""
        if sys.stderr.isatty():
            with tqdm(total=total, unit=unit, desc=name) as bar:
                yield bar.update
            return
        self.stdout.write(f"Seeding {name}: {total} {unit}{'' if total == 1 else 's'}")
        self.stdout.flush()
        yield _ignore


def _ignore(_done: int) -> None:
    return None
