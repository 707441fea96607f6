"""``seed_demo``: a demo utility with its own signing key, tariffs and customers."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from customers.demo import demo_seed

_MAX_CUSTOMERS = 10_000


class Command(BaseCommand):
    help = (
        "Creates or updates the demo utility (own signing key), flat and time-of-use tariffs "
        "and N customers with accounts, premises and meters. Deterministic for a seed; "
        "re-running with the same seed changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--customers", type=int, default=5, help=f"How many (1-{_MAX_CUSTOMERS})."
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed.")

    def handle(self, *args: Any, customers: int, seed: int, **options: Any) -> None:
        if not 1 <= customers <= _MAX_CUSTOMERS:
            raise CommandError(f"--customers must be between 1 and {_MAX_CUSTOMERS}")
        with tqdm(total=customers, unit="customer", disable=None) as bar:
            result = demo_seed(customers=customers, seed=seed, progress=bar.update)
        self.stdout.write(result.imported.summary())
        self.stdout.write(f"Demo utility: {result.utility.slug}")
        self.stdout.write("Get an ID token for a demo customer (then POST it to Customer/login):")
        for subject in result.subjects:
            self.stdout.write(
                "python manage.py issue_identity_token "
                f"--utility {result.utility.slug} --subject {subject}"
            )
