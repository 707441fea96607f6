"""Benchmark: the nightly insights run — CPU seconds per customer-year of data, and throughput
with one worker process and with two (see benchmarks/README.md, "Nightly insights").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/eg_bench DJANGO_SECRET_KEY=bench \\
        .venv/bin/python benchmarks/insights.py [--customers 8] [--days 365] [--rounds 2]

1. Loads ``--customers`` homes of utility ``bench-insights`` (one 15-minute electric meter
   each, a flat tariff, a premise in the BOS weather region) with ``--days`` of
   ``usage.synthetic`` data ending yesterday, their rollups and the region's weather.
2. Runs ``insights.services.insights_generate`` (what a nightly worker runs per customer)
   over every customer in fresh worker processes, alternately with one process and with two
   (each taking half the customers), ``--rounds`` times each. A worker reports its own CPU
   time (user + system) and wall time from the end of its start-up (imports, Django setup).
3. Prints CPU seconds per customer and per customer-year, customers per second with one and
   two workers, and their ratio (2.0 would be perfect scaling on two cores).
``--profile`` also prints the functions where one customer's run spends its time (cProfile).

PostgreSQL only (the database is created if it does not exist, then migrated). It never
asserts a threshold; a smoke run at tiny sizes is in the test suite. Every run first deletes
the rows of its own utility left by a previous run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import common  # noqa: E402 - after the repository is on the path

UTILITY_SLUG = "bench-insights"
REGION = "BOS"
TIMEZONE = "America/New_York"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=8, help="customers (default 8)")
    parser.add_argument("--days", type=int, default=365, help="days of data each (365)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of 1 and 2 workers (2)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (7)")
    parser.add_argument("--profile", action="store_true", help="profile one customer's run")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the previous run's customers if they match"
    )
    parser.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.customers < 2 or args.days < 60 or args.rounds < 1:
        parser.error("need --customers >= 2, --days >= 60 and --rounds >= 1")
    return args


def load(*, customers: int, days: int, seed: int) -> list[str]:
    """The benchmark's customers with their data; returns their ids."""
    import numpy as np
    from django.db import transaction

    from customers.models import Account, Customer, Meter, Premise, Tariff, Utility
    from insights.services import weather_upsert
    from insights.weather import WeatherRow
    from usage.models import Quality, Reading, Rollup, RollupDirtyRange
    from usage.rollups import rollups_rebuild
    from usage.synthetic import electric_intervals, random_profile, weather_series

    zone = ZoneInfo(TIMEZONE)
    end = datetime.now(zone).date()
    start = end - timedelta(days=days)
    previous = Utility.objects.filter(slug=UTILITY_SLUG).first()
    if previous is not None:  # a previous run's rows; protected keys: children first
        meters = Meter.objects.filter(utility=previous)
        for model in (Rollup, RollupDirtyRange, Reading):
            model.objects.filter(meter__in=meters).delete()
        meters.delete()
        Account.objects.filter(utility=previous).delete()
        Customer.objects.filter(utility=previous).delete()
        Tariff.objects.filter(utility=previous).delete()
        previous.delete()
    temperatures = weather_series(
        region=REGION, start=start - timedelta(days=365), days=days + 365, seed=seed
    )
    weather_upsert(
        rows=[
            WeatherRow(REGION, start - timedelta(days=365 - i), Decimal(f"{t:.1f}"))
            for i, t in enumerate(temperatures)
        ]
    )
    ids = []
    with transaction.atomic():
        utility = common.bench_utility(UTILITY_SLUG, "Insights bench", jwks={"keys": []})
        tariff = common.flat_tariff(utility, "0.15")
        for index in range(customers):
            account = common.customer_account(
                utility,
                subject=f"bench-{index:04d}",
                display_name=f"Bench {index}",
                email=f"bench-{index}@example.org",
                timezone=TIMEZONE,
                account_number=f"B{index:08d}",
                billing_cycle_day=1,
            )
            Premise.objects.create(
                account=account,
                address_line1="1 Main St",
                city="Boston",
                region="MA",
                postal_code="02101",
                country="US",
                floor_area_sqm=140,
                home_type="DETACHED",
                weather_region=REGION,
            )
            meter = common.electric_meter(account, f"BENCH-I-{index:04d}", TIMEZONE, tariff)
            meter.save(force_insert=True)
            series = electric_intervals(
                profile=random_profile(np.random.default_rng([seed, index])),
                start_utc=datetime.combine(start, datetime.min.time(), zone),
                days=days,
                tz=TIMEZONE,
                temperatures=temperatures[365:],
                seed=seed * 1000 + index,
            )
            quality = np.where(series.estimated, Quality.ESTIMATED, Quality.ACTUAL)
            Reading.objects.bulk_create(
                (
                    Reading(
                        meter=meter,
                        start=datetime.fromtimestamp(int(s), tz=ZoneInfo("UTC")),
                        quantity=Decimal(f"{q:.3f}"),
                        quality=k,
                    )
                    for s, q, k in zip(series.starts, series.quantities, quality, strict=True)
                ),
                batch_size=10_000,
            )
            rollups_rebuild(meter=Meter.objects.select_related("account").get(pk=meter.pk))
            ids.append(str(account.customer_id))
    return ids


def reused(args: argparse.Namespace) -> list[str]:
    """The previous run's customer ids when it loaded as many customers (else none)."""
    from customers.models import Customer

    ids = [
        str(pk)
        for pk in Customer.objects.filter(utility__slug=UTILITY_SLUG)
        .order_by("subject")
        .values_list("pk", flat=True)
    ]
    return ids if len(ids) == args.customers else []


def work(customer_ids: list[str]) -> dict:
    """One worker's share: the nightly run of each customer; its CPU seconds."""
    from customers.models import Customer
    from insights.services import insights_generate

    started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    written = sum(
        insights_generate(customer=customer)
        for customer in Customer.objects.filter(pk__in=customer_ids)
    )
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu": cpu, "wall": time.perf_counter() - started, "written": written}


def run_workers(groups: list[list[str]]) -> tuple[float, float, int]:
    """Runs one worker process per group at once; returns the wall seconds until the last
    finished its work (from its start-up's end: Django and numpy imports are not the nightly
    run's cost), their CPU seconds together, and the insights written."""
    processes = [
        subprocess.Popen(  # noqa: S603 (this script, with ids it loaded itself)
            [sys.executable, __file__, "--worker", *group],
            stdout=subprocess.PIPE,
            text=True,
        )
        for group in groups
    ]
    reports = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode:
            raise SystemExit(f"a worker failed (exit {process.returncode})")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return (
        max(r["wall"] for r in reports),
        sum(r["cpu"] for r in reports),
        sum(r["written"] for r in reports),
    )


def profile(customer_id: str, top: int = 15) -> str:
    """Where one customer's run spends its time: cProfile's top functions by own time."""
    from customers.models import Customer
    from insights.services import insights_generate

    customer = Customer.objects.get(pk=customer_id)
    profiler = cProfile.Profile()
    profiler.runcall(insights_generate, customer=customer)
    out = StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> dict:
    args = _parse_args(argv)
    common.django_setup()
    if args.worker is not None:
        print(json.dumps(work(args.worker)))
        return {}
    common.ensure_database(print)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    ids = reused(args) if args.reuse else []
    ids = ids or load(customers=args.customers, days=args.days, seed=args.seed)
    print(
        f"loaded {len(ids)} customers x {args.days} days of 15-minute data "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    halves = [ids[0::2], ids[1::2]]
    one: list[tuple[float, float]] = []
    two: list[tuple[float, float]] = []
    written = 0
    for _round in range(args.rounds):
        wall, cpu, written = run_workers([ids])
        one.append((wall, cpu))
        wall, cpu, _written = run_workers(halves)
        two.append((wall, cpu))
    years = len(ids) * args.days / 365
    cpu_runs = [cpu for _, cpu in one + two]
    one_rate = len(ids) / statistics.median(wall for wall, _ in one)
    two_rate = len(ids) / statistics.median(wall for wall, _ in two)
    figures = {
        "customers": len(ids),
        "days": args.days,
        "insights": written,
        "cpu_s_per_customer": statistics.median(cpu_runs) / len(ids),
        "cpu_s_per_customer_year": statistics.median(cpu_runs) / years,
        "customers_per_s_1_worker": one_rate,
        "customers_per_s_2_workers": two_rate,
        "two_vs_one": two_rate / one_rate,
    }
    print(
        f"nightly insights, {len(ids)} customers x {args.days} days, {args.rounds} round(s), "
        f"medians:\n"
        f"  CPU per customer            {figures['cpu_s_per_customer']:.2f} s\n"
        f"  CPU per customer-year       {figures['cpu_s_per_customer_year']:.2f} s\n"
        f"  1 worker                    {one_rate:.2f} customers/s\n"
        f"  2 workers                   {two_rate:.2f} customers/s\n"
        f"  2 workers vs 1              {figures['two_vs_one']:.2f}x",
        flush=True,
    )
    if args.profile:
        print(profile(ids[0]))
    return figures


if __name__ == "__main__":
    main()
