"""``generate_insights [--customer SUBJECT] [--type T] [--utility S]``: the pipeline, now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from tqdm import tqdm

from energygrid.commands import OpsCommand
from insights.management.selection import customers_selected
from insights.pipeline import GENERATED_TYPES
from insights.services import insights_generate


class Command(OpsCommand):
    help = (
        "Runs the insight models now for every active customer (or one) and upserts the "
        "insights: reruns update in place. BUDGET_ALERT comes from the budgets app."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--customer", metavar="SUBJECT", help="Only this customer.")
        parser.add_argument(
            "--type",
            metavar="T",
            action="append",
            help=f"Only this insight type (repeatable): {', '.join(GENERATED_TYPES)}.",
        )
        parser.add_argument("--utility", metavar="SLUG", help="Only this utility's customers.")

    def handle(self, *args: Any, **options: Any) -> None:
        types = options["type"]
        unknown = sorted(set(types or ()) - set(GENERATED_TYPES))
        if unknown:
            raise CommandError(
                f"unknown or not generated here: {', '.join(unknown)} "
                f"(choose from {', '.join(GENERATED_TYPES)})"
            )
        customers = customers_selected(subject=options["customer"], utility=options["utility"])
        written = 0
        total = customers.count()
        for customer in tqdm(
            customers.iterator(chunk_size=200),
            total=total,
            unit="customer",
            disable=options["verbosity"] == 0 or None,
        ):
            written += insights_generate(customer=customer, types=types)
        self.stdout.write(f"{written} insight(s) written for {total} customer(s)")
