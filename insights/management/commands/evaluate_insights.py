"""``evaluate_insights [--customer SUBJECT] [--utility S] [--synthetic N [--seed S]]``:
backtest the insight models."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm

from customers.models import Meter
from energygrid.commands import OpsCommand
from insights.analytics.context import meter_context
from insights.backtest import loaded_meter, synthetic_meter
from insights.evaluation import insights_evaluate, render_report
from insights.management.selection import customers_selected


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


_positive.__name__ = "positive integer"


class Command(OpsCommand):
    help = (
        "Backtests the insight models: the bill forecast at day 10 of each billing period "
        "against run-rate and last-year baselines (MAPE, CV(RMSE), NMBE, 80%% range hits), "
        "anomalies (precision, recall, F1) and always-on power against the ground truth. On the "
        "loaded data, or with --synthetic N on N generated homes with drifting habits."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--customer", metavar="SUBJECT", help="Only this customer.")
        parser.add_argument("--utility", metavar="SLUG", help="Only this utility's customers.")
        parser.add_argument(
            "--synthetic",
            metavar="N",
            type=_positive,
            help="Generate N homes (no database) and backtest them instead of the loaded data.",
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="Seed of the synthetic homes (default 1)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        quiet = options["verbosity"] == 0 or None
        if options["synthetic"]:
            count, seed = options["synthetic"], options["seed"]
            meters = (synthetic_meter(index, seed) for index in range(count))
            heading = f"Backtest of {count} synthetic home(s), seed {seed}"
        else:
            customers = customers_selected(subject=options["customer"], utility=options["utility"])
            selected = Meter.objects.filter(account__customer__in=customers).select_related(
                "account__customer", "account__premise", "tariff", "utility"
            )
            count = selected.count()
            contexts = (
                meter_context(customer=meter.account.customer, meter=meter)
                for meter in selected.order_by("account__customer__subject", "meter_number")
            )
            meters = (loaded_meter(ctx) for ctx in contexts if ctx is not None)
            heading = "Backtest of the loaded data"
        with tqdm(total=count, unit="meter", disable=quiet) as bar:
            report = insights_evaluate(meters=meters, progress=bar.update)
        self.stdout.write(render_report(report, heading))
