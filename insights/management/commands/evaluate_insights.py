"""``evaluate_insights [--customer SUBJECT] [--utility S]``: backtest the insight models."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm

from customers.models import Meter
from energygrid.commands import OpsCommand
from insights.evaluation import insights_evaluate, render_report
from insights.management.selection import customers_selected


class Command(OpsCommand):
    help = (
        "Backtests the insight models on the loaded data: the bill forecast at day 10 of each "
        "billing period against run-rate and last-year baselines (MAPE, CV(RMSE), NMBE), "
        "anomalies and always-on power against the synthetic data's ground truth."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--customer", metavar="SUBJECT", help="Only this customer.")
        parser.add_argument("--utility", metavar="SLUG", help="Only this utility's customers.")

    def handle(self, *args: Any, **options: Any) -> None:
        customers = customers_selected(subject=options["customer"], utility=options["utility"])
        meters = Meter.objects.filter(account__customer__in=customers).count()
        with tqdm(total=meters, unit="meter", disable=options["verbosity"] == 0 or None) as bar:
            report = insights_evaluate(customers=customers, progress=bar.update)
        self.stdout.write(render_report(report))
