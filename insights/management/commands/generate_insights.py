"""``generate_insights [--customer SUBJECT] [--type T] [--utility S]``: the pipeline, now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from tqdm import tqdm

from budgets.selectors import budgets_to_check
from budgets.services import budget_alerts_check
from energygrid.commands import OpsCommand
from insights.management.selection import customers_selected
from insights.pipeline import GENERATED_TYPES
from insights.services import insights_generate
from metadata.catalog import InsightType

BUDGET_ALERT = InsightType.BUDGET_ALERT.name
#: Every type this command runs: the insight models, and the budgets app's threshold alerts.
COMMAND_TYPES: tuple[str, ...] = (*GENERATED_TYPES, BUDGET_ALERT)


class Command(OpsCommand):
    help = (
        "Runs the insight models now for every active customer (or one) and upserts the "
        "insights (BUDGET_ALERT included): reruns update in place."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--customer", metavar="SUBJECT", help="Only this customer.")
        parser.add_argument(
            "--type",
            metavar="T",
            action="append",
            help=f"Only this insight type (repeatable): {', '.join(COMMAND_TYPES)}.",
        )
        parser.add_argument("--utility", metavar="SLUG", help="Only this utility's customers.")

    def handle(self, *args: Any, **options: Any) -> None:
        types = options["type"]
        unknown = sorted(set(types or ()) - set(COMMAND_TYPES))
        if unknown:
            raise CommandError(
                f"unknown insight type: {', '.join(unknown)} "
                f"(choose from {', '.join(COMMAND_TYPES)})"
            )
        model_types = None if types is None else [t for t in types if t != BUDGET_ALERT]
        budget_alerts = types is None or BUDGET_ALERT in types
        customers = customers_selected(subject=options["customer"], utility=options["utility"])
        written = 0
        total = customers.count()
        for customer in tqdm(
            customers.iterator(chunk_size=200),
            total=total,
            unit="customer",
            disable=options["verbosity"] == 0 or None,
        ):
            if model_types != []:
                written += insights_generate(customer=customer, types=model_types)
            if budget_alerts:
                written += budget_alerts_check(budgets=budgets_to_check(customer_id=customer.pk))
        self.stdout.write(f"{written} insight(s) written for {total} customer(s)")
