"""Benchmark: the Usage read path under gunicorn and a closed-loop load generator (``wrk``),
each figure against a bare DRF view returning a list of the same length, measured alternately
in the same run (see benchmarks/README.md).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/eg_bench_reads \\
    REDIS_URL=redis://127.0.0.1:6379/1 DJANGO_SECRET_KEY=bench \\
        python benchmarks/reads.py [--customers 100] [--days 365] [--growth 10]

1. Data (kept between runs, rebuilt when its size differs): one utility ``benchreads``,
   ``--customers`` customers with one 15-minute electric meter each (spread over the synthetic
   weather regions' time zones), ``--days`` days of ``usage.synthetic`` readings COPYed into
   ``usage_reading``, rollups from ``rebuild_rollups``.
2. gunicorn, ``--workers`` sync workers, on a loopback port, serving the project plus a bare
   ``APIView`` (no authentication, permission or throttle) that returns a stored body.
3. wrk, closed loop, alternating ours and bare for ``--rounds`` rounds of ``--duration``
   seconds: DAY over a year and HOUR over a month with one URL repeated, and mixed traffic
   (every request a random customer and a random one of ``--ranges`` ranges).
4. Growth: ``--growth`` times the readings (and rollups) in the tables, the repeated DAY read again.
5. HOUR mixed traffic again on a gunicorn that keeps no HOUR items (``usage.hour_items``): every
   page rendered from the rollups, what a first read of a month costs (no target).

PostgreSQL only. It never runs inside a test with thresholds: it prints ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402 - after the repository is on the path
    bench_utility,
    customer_account,
    django_setup,
    electric_meter,
    ensure_database,
    execute,
    flat_tariff,
)

UTILITY_SLUG = "benchreads"
BALLAST_SLUG = "benchreads-ballast"
FLAT_PRICE = "0.150000"
#: Series end this many days before today, so every reading's interval has ended.
END_MARGIN_DAYS = 2
#: Generous bound on gunicorn's start and a first response (a busy machine boots slowly).
STARTUP_SECONDS = 180


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100, help="customers, one meter each")
    parser.add_argument("--days", type=int, default=365, help="days of 15-minute readings")
    parser.add_argument("--seed", type=int, default=11, help="generator seed")
    parser.add_argument("--ranges", type=int, default=30, help="ranges in mixed traffic")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per figure")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=18150, help="loopback port for gunicorn")
    parser.add_argument(
        "--growth", type=int, default=10, help="readings multiple for the growth figure (<2 skips)"
    )
    parser.add_argument("--rebuild", action="store_true", help="regenerate the data")
    return parser.parse_args(argv)


# --- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    first_day: date
    days: int
    meters: list[Any]  # customers.models.Meter, with account__customer

    @property
    def customers(self) -> list[Any]:
        return [meter.account.customer for meter in self.meters]


def _label(args: argparse.Namespace, first: date) -> str:
    return (
        f"bench reads: {args.customers} customers, {args.days} days from {first}, seed {args.seed}"
    )


def delete_utility(slug: str) -> None:
    """Every row of utility ``slug`` (readings and rollups first, by meter)."""
    from customers.models import Utility

    utility = Utility.objects.filter(slug=slug).first()
    if utility is None:
        return
    say(f"deleting the rows of utility {slug!r}")
    meters = "SELECT id FROM customers_meter WHERE utility_id = %s"
    for table in ("usage_rollup", "usage_renderedday", "usage_rollupdirtyrange", "usage_reading"):
        execute(f"DELETE FROM {table} WHERE meter_id IN ({meters})", [utility.pk])  # noqa: S608
    for relation in ("meters", "accounts", "customers", "tariffs"):
        getattr(utility, relation).all().delete()
    utility.delete()


def ensure_data(args: argparse.Namespace) -> Dataset:
    """The benchmark's customers and readings; reused when a previous run made the same."""
    from customers.models import Meter, Utility

    utility = Utility.objects.filter(slug=UTILITY_SLUG).first()
    match = re.search(r"from (\d{4}-\d\d-\d\d)", utility.name) if utility else None
    first = date.fromisoformat(match[1]) if match else None
    if args.rebuild or first is None or utility.name != _label(args, first):
        delete_utility(BALLAST_SLUG)
        delete_utility(UTILITY_SLUG)
        first = date.today() - timedelta(days=args.days + END_MARGIN_DAYS)
        create_data(args, first)
    else:
        say(f"reusing the data of a previous run ({utility.name})")
    meters = list(
        Meter.objects.filter(utility__slug=UTILITY_SLUG)
        .select_related("account__customer")
        .order_by("meter_number")
    )
    return Dataset(first, args.days, meters)


def create_data(args: argparse.Namespace, first: date) -> None:
    from django.core.management import call_command

    from usage.synthetic import WEATHER_REGIONS

    say(f"creating {args.customers} customers x {args.days} days of 15-minute readings")
    utility = bench_utility(
        UTILITY_SLUG, _label(args, first), currency="USD", timezone="America/New_York"
    )
    tariff = flat_tariff(utility, FLAT_PRICE)
    regions = list(WEATHER_REGIONS)
    for i in range(args.customers):
        region = regions[i % len(regions)]
        timezone = WEATHER_REGIONS[region].timezone
        account = customer_account(
            utility,
            subject=f"bench-{i:04d}",
            display_name=f"Bench {i}",
            timezone=timezone,
            account_number=f"BR-{i:06d}",
            billing_cycle_day=1 + i % 28,
        )
        meter = electric_meter(account, f"BR-M-{i:05d}", timezone, tariff)
        meter.save(force_insert=True)
        rows = copy_readings(meter, region, first, args.days, args.seed * 100_003 + i, args.seed)
        if (i + 1) % 10 == 0 or i + 1 == args.customers:
            say(f"  {i + 1}/{args.customers} meters, last one {rows:,} readings")
    say("rebuild_rollups --utility benchreads")
    call_command("rebuild_rollups", utility=UTILITY_SLUG, verbosity=0)
    execute("VACUUM ANALYZE usage_reading")
    execute("VACUUM ANALYZE usage_rollup")
    execute("VACUUM ANALYZE usage_renderedday")


def copy_readings(meter: Any, region: str, first: date, days: int, seed: int, weather: int) -> int:
    """One meter's synthetic year, COPYed straight into ``usage_reading``."""
    import numpy as np
    from django.db import connection

    from usage.partitions import reading_partitions_ensure
    from usage.synthetic import electric_intervals, random_profile, weather_series

    series = electric_intervals(
        profile=random_profile(np.random.default_rng(seed)),
        start_utc=datetime.combine(first, wall_time(), ZoneInfo(meter.timezone)),
        days=days,
        tz=meter.timezone,
        temperatures=weather_series(region=region, start=first, days=days, seed=weather),
        seed=seed,
    )
    starts = np.datetime_as_string(series.starts.astype("datetime64[s]"), unit="s", timezone="UTC")
    quantities = np.char.mod(f"%.{series.decimals}f", series.quantities)
    qualities = np.where(series.estimated, "ESTIMATED", "ACTUAL")
    prefix = f"{meter.pk}\t"
    text = "".join(
        f"{prefix}{s}\t{q}\t{k}\n"
        for s, q, k in zip(starts.tolist(), quantities.tolist(), qualities.tolist(), strict=True)
    )
    low = datetime.fromtimestamp(int(series.starts[0]), ZoneInfo("UTC"))
    reading_partitions_ensure(start=low, end=low + timedelta(days=days + 1))
    with connection.cursor() as cursor:
        sql = "COPY usage_reading (meter_id, start, quantity, quality) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            copy.write(text)
    return series.starts.size


# --- traffic ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    granularity: str
    start: date
    end: date
    page_size: int

    def query(self) -> str:
        return (
            f"granularity={self.granularity}&start={self.start}&end={self.end}"
            f"&pageSize={self.page_size}"
        )


def day_ranges(data: Dataset, count: int) -> list[Range]:
    """``count`` DAY ranges of different lengths (the longest the whole series) and starts."""
    ranges = []
    for k in range(count):
        length = max(1, data.days - (count - 1 - k) * data.days // (count * 10))
        offset = (data.days - length) * k // max(count - 1, 1)
        start = data.first_day + timedelta(days=offset)
        ranges.append(Range("DAY", start, start + timedelta(days=length), 1000))
    return ranges


def hour_ranges(data: Dataset, count: int) -> list[Range]:
    """``count`` HOUR ranges of 28 to 31 days (a month) spread over the series."""
    month = min(31, data.days)
    ranges = []
    for k in range(count):
        length = max(1, month - k % 4)
        offset = (data.days - length) * k // max(count - 1, 1)
        start = data.first_day + timedelta(days=offset)
        ranges.append(Range("HOUR", start, start + timedelta(days=length), 1000))
    return ranges


def a_year(data: Dataset) -> Range:
    return Range("DAY", data.first_day, data.first_day + timedelta(days=data.days), 1000)


def a_month(data: Dataset) -> Range:
    month = min(31, data.days)
    start = data.first_day + timedelta(days=(data.days - month) // 2)
    return Range("HOUR", start, start + timedelta(days=month), 1000)


def access_tokens(data: Dataset) -> list[str]:
    """A fresh access token per customer (they live 15 minutes: minted per measurement)."""
    from customers.services import session_issue

    return [session_issue(customer=customer).access_token for customer in data.customers]


def usage_path(meter: Any, window: Range) -> str:
    return f"/usage/v1/Usage/{meter.pk}?{window.query()}"


# wrk: every request is one of the lines of the file given after `--` (path, tab, bearer token
# or nothing), picked at random; wrk.format prepares each request's bytes once.
WRK_SCRIPT = """
local requests = {}
function init(args)
  for line in io.lines(args[1]) do
    local path, token = line:match("^([^\\t]+)\\t?(.*)$")
    local headers = {}
    if token ~= "" then headers["Authorization"] = "Bearer " .. token end
    requests[#requests + 1] = wrk.format("GET", path, headers)
  end
  math.randomseed(os.time() + tonumber(tostring(requests):match("0x(%x+)"), 16) % 100000)
end
function request()
  return requests[math.random(#requests)]
end
"""


@dataclass(frozen=True)
class Run:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS_MS[unit]


def wrk_binary() -> str:
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit(
            "wrk is not installed: the read benchmark needs it as its load generator "
            "(Debian: apt-get update && apt-get install -y wrk)"
        )
    return binary


def run_wrk(base: str, lines: list[str], workdir: Path, args: argparse.Namespace) -> Run:
    """wrk, closed loop, ``--connections`` connections for ``--duration`` seconds."""
    script, targets = workdir / "traffic.lua", workdir / "targets.tsv"
    script.write_text(WRK_SCRIPT)
    targets.write_text("".join(f"{line}\n" for line in lines))
    command = [
        wrk_binary(),
        "--latency",
        f"--threads={min(2, args.connections)}",
        f"--connections={args.connections}",
        f"--duration={args.duration}s",
        f"--script={script}",
        base,
        "--",
        str(targets),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    output = done.stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", output)[1])
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return Run(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        p50_ms=_ms(latency["50"]),
        p99_ms=_ms(latency["99"]),
        requests=requests,
        errors=(int(failed[1]) if failed else 0)
        + (sum(map(int, errors.groups())) if errors else 0),
    )


# --- server -----------------------------------------------------------------------------------


@contextlib.contextmanager
def gunicorn(
    args: argparse.Namespace, database_url: str, bodies: Path, **settings_env: str
) -> Iterator[str]:
    """The project (plus the bare view) under gunicorn, ``settings_env`` added to its
    environment; yields its base URL."""
    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "BENCH_BODIES_DIR": str(bodies),
        "THROTTLE_CUSTOMER": "100000000/min",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **settings_env,
    }
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    bind = f"127.0.0.1:{args.port}"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "energygrid.wsgi",
        f"--workers={args.workers}",
        "--worker-class=sync",
        f"--bind={bind}",
        f"--chdir={ROOT}",
        "--log-level=warning",
    ]
    server = subprocess.Popen(command, env=env)  # noqa: S603
    base = f"http://{bind}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _healthy(base):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not start on {bind}")
            time.sleep(0.2)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _healthy(base: str) -> bool:
    """``/healthz`` answers 200: a worker has booted (the socket accepts before one has)."""
    import urllib.request

    try:
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


def fetch(base: str, path: str, token: str) -> bytes:
    import urllib.request

    headers = {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(base + path, headers=headers)  # noqa: S310 - loopback http
    with urllib.request.urlopen(request, timeout=STARTUP_SECONDS) as response:  # noqa: S310
        return response.read()


# --- measurements -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    target: float | None
    ours: list[str]  # wrk target lines: path, tab, token
    bare: list[str]  # the bare view's paths, one per body of the same length as ours
    bare_items: float


@dataclass(frozen=True)
class Figure:
    scenario: Scenario
    ours: list[Run]
    bare: list[Run]

    @property
    def ratios(self) -> list[float]:
        return [
            o.requests_per_second / b.requests_per_second
            for o, b in zip(self.ours, self.bare, strict=True)
        ]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def scenarios(data: Dataset, args: argparse.Namespace, base: str, bodies: Path) -> list[Scenario]:
    """The four figures' traffic; the bare bodies are our responses for the first customer."""
    tokens = access_tokens(data)
    meters = data.meters

    def bare(label: str, window: Range) -> tuple[str, int]:
        name = re.sub(r"[^a-z0-9]+", "-", label.lower())
        body = fetch(base, usage_path(meters[0], window), tokens[0])
        (bodies / f"{name}.json").write_bytes(body)
        return f"/bench/bare/{name}", len(json.loads(body)["items"])

    def one(name: str, window: Range, target: float) -> Scenario:
        path, items = bare(name, window)
        return Scenario(
            name, target, [f"{usage_path(meters[0], window)}\t{tokens[0]}"], [path], items
        )

    def mixed(name: str, windows: list[Range], target: float) -> Scenario:
        paths, lengths = zip(*(bare(f"{name}-{k}", w) for k, w in enumerate(windows)), strict=True)
        lines = [
            f"{usage_path(meter, window)}\t{token}"
            for meter, token in zip(meters, tokens, strict=True)
            for window in windows
        ]
        label = f"{name}: {len(meters)} customers x {len(windows)} ranges, random per request"
        return Scenario(label, target, lines, list(paths), statistics.mean(lengths))

    return [
        one("DAY over a year, one URL repeated", a_year(data), 0.6),
        one("HOUR over a month, one URL repeated", a_month(data), 0.6),
        mixed("DAY mixed", day_ranges(data, args.ranges), 0.4),
        mixed("HOUR mixed", hour_ranges(data, args.ranges), 0.4),
    ]


def measure(scenario: Scenario, base: str, workdir: Path, args: argparse.Namespace) -> Figure:
    """Ours and bare alternately, ``--rounds`` times each."""
    ours, bare = [], []
    for round_number in range(1, args.rounds + 1):
        ours.append(run_wrk(base, scenario.ours, workdir, args))
        bare.append(run_wrk(base, scenario.bare, workdir, args))
        say(
            f"  {scenario.name}, round {round_number}: ours {ours[-1].requests_per_second:,.0f} "
            f"req/s, bare {bare[-1].requests_per_second:,.0f} req/s"
        )
    return Figure(scenario, ours, bare)


def forget_hour_items(data: Dataset) -> None:
    """Drops the bench meters' HOUR items from Redis (``usage.hour_items``), so every run
    starts from none: its first round of HOUR mixed traffic renders them."""
    from django.conf import settings

    if not settings.REDIS_URL:
        return
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    for meter in data.meters:
        keys = list(client.scan_iter(f"usage:hours:*:{meter.pk.hex}:*"))
        if keys:
            client.delete(*keys)


def refresh_tokens(scenario: Scenario, data: Dataset) -> Scenario:
    """The same traffic with tokens minted now (a long run outlives 15-minute tokens)."""
    fresh = dict(zip((str(m.pk) for m in data.meters), access_tokens(data), strict=True))
    lines = []
    for line in scenario.ours:
        path, _ = line.split("\t")
        lines.append(f"{path}\t{fresh[path.split('/')[4].split('?')[0]]}")
    return Scenario(scenario.name, scenario.target, lines, scenario.bare, scenario.bare_items)


def add_ballast(data: Dataset, factor: int) -> int:
    """(factor - 1) copies of every bench meter's readings, rollups and stored DAY items under
    other meters, so the tables hold ``factor`` times the rows. Returns the readings now in
    the table."""
    from customers.models import Account, Customer

    delete_utility(BALLAST_SLUG)
    say(f"growth: copying the readings, rollups and DAY items {factor - 1} times")
    utility = bench_utility(
        BALLAST_SLUG, "bench reads ballast", currency="USD", timezone="America/New_York"
    )
    customer = Customer.objects.create(
        utility=utility,
        subject="ballast",
        display_name="Ballast",
        billing_currency="USD",
        timezone="UTC",
    )
    for copy in range(1, factor):
        pairs = []
        for meter in data.meters:
            account = Account.objects.create(
                utility=utility,
                customer=customer,
                account_number=f"BB-{copy}-{meter.meter_number}",
                status="ACTIVE",
                billing_cycle_day=meter.account.billing_cycle_day,
            )
            twin = electric_meter(
                account, f"BB-{copy}-{meter.meter_number}", meter.timezone, meter.tariff
            )
            twin.save(force_insert=True)
            pairs.append((meter.pk, twin.pk))
        for table, columns in (
            ("usage_reading", "start, quantity, cost, quality"),
            (
                "usage_rollup",
                'granularity, start, "end", quantity, cost, actual_count, estimated_count, '
                "expected_count, peak_quantity, computed_at",
            ),
            ("usage_renderedday", "start, item"),
        ):
            values = ", ".join(["(%s::uuid, %s::uuid)"] * len(pairs))
            execute(
                f"INSERT INTO {table} (meter_id, {columns}) "  # noqa: S608 - our own literals
                f"SELECT twin.target, {columns} FROM {table} "
                f"JOIN (VALUES {values}) AS twin (source, target) ON meter_id = twin.source",
                [str(value) for pair in pairs for value in pair],
            )
        say(f"  copy {copy}/{factor - 1} done")
    execute("VACUUM ANALYZE usage_reading")
    execute("VACUUM ANALYZE usage_rollup")
    execute("VACUUM ANALYZE usage_renderedday")
    from usage.models import Reading

    return Reading.objects.count()


# --- report -----------------------------------------------------------------------------------


def _runs(runs: list[Run]) -> str:
    rates = [run.requests_per_second for run in runs]
    return (
        f"{statistics.median(rates):,.0f} req/s ({min(rates):,.0f}-{max(rates):,.0f}), "
        f"p50 {statistics.median(r.p50_ms for r in runs):.1f} ms, "
        f"p99 {statistics.median(r.p99_ms for r in runs):.1f} ms"
    )


def report(figures: list[Figure], growth: tuple[Figure, Figure, int, int] | None) -> list[str]:
    lines = []
    for figure in figures:
        ratios = ", ".join(f"{r:.2f}" for r in figure.ratios)
        target = figure.scenario.target
        if target is None:
            verdict = "no target"
        else:
            verdict = f"target >= {target} -> {'meets' if figure.ratio >= target else 'MISSES'}"
        lines += [
            figure.scenario.name,
            f"  ours: {_runs(figure.ours)}",
            f"  bare DRF view, {figure.scenario.bare_items:.0f} items: {_runs(figure.bare)}",
            f"  ratio ours/bare: {figure.ratio:.2f} (rounds: {ratios}); {verdict}",
        ]
    if growth is not None:
        before, after, readings_before, readings_after = growth
        slowdown = before.ratio / after.ratio
        verdict = "meets" if slowdown <= 1.2 else "MISSES"
        lines += [
            f"growth: DAY over a year, one URL, with {readings_after:,} readings "
            f"({readings_after / readings_before:.1f}x {readings_before:,})",
            f"  ours: {_runs(after.ours)}",
            f"  bare: {_runs(after.bare)}",
            f"  ours/bare {after.ratio:.2f} vs {before.ratio:.2f} before: {slowdown:.2f}x slower; "
            f"target <= 1.2x -> {verdict}",
        ]
    errors = sum(run.errors for f in figures for run in f.ours + f.bare)
    lines.append(f"non-2xx responses and socket errors: {errors}")
    return lines


def run(args: argparse.Namespace, database_url: str) -> list[str]:
    """The whole benchmark on the current database; returns the report's lines."""
    from usage.models import Reading

    wrk_binary()
    data = ensure_data(args)
    readings = Reading.objects.filter(meter__utility__slug=UTILITY_SLUG).count()
    say(f"data: {len(data.meters)} meters, {readings:,} readings")
    with tempfile.TemporaryDirectory(prefix="bench-reads-") as tmp:
        workdir = Path(tmp)
        bodies = workdir / "bodies"
        bodies.mkdir()
        forget_hour_items(data)
        with gunicorn(args, database_url, bodies) as base:
            figures = []
            for scenario in scenarios(data, args, base, bodies):
                figures.append(measure(refresh_tokens(scenario, data), base, workdir, args))
            growth = None
            if args.growth >= 2:
                total_before = Reading.objects.count()
                total_after = add_ballast(data, args.growth)
                again = measure(refresh_tokens(figures[0].scenario, data), base, workdir, args)
                growth = (figures[0], again, total_before, total_after)
                delete_utility(BALLAST_SLUG)
        with gunicorn(args, database_url, bodies, USAGE_HOUR_ITEMS_SECONDS="0") as base:
            cold = replace(
                figures[3].scenario,
                name="HOUR mixed, no HOUR items kept (USAGE_HOUR_ITEMS_SECONDS=0: pages "
                "rendered from the rollups, or repeated from a process's page cache)",
                target=None,
            )
            figures.append(measure(refresh_tokens(cold, data), base, workdir, args))
    summary = f"data: {len(data.meters)} meters x {data.days} days, {readings:,} readings"
    return [summary, *report(figures, growth)]


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    wrk_binary()
    django_setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("benchmarks/reads.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    ensure_database(say)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    lines = run(args, os.environ["DATABASE_URL"])
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print("\n".join([*lines, f"{os.cpu_count()} CPUs, load average at the end {load}"]))


if __name__ == "__main__":
    main()
