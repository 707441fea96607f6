"""Load soak: gunicorn against a seeded PostgreSQL database, loopback only, bounded in time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/eg_soak REDIS_URL=redis://127.0.0.1:6379/8 \\
    DJANGO_SECRET_KEY=soak .venv/bin/python benchmarks/soak.py [--port 18850]

1. Seeds the database if it has fewer demo customers than needed (``seed_demo``).
2. Probe: 16 connections, closed loop, for 30 s on one Usage URL (DAY, one month) of a customer
   of its own, with the customer throttle out of the way. Every answer must be 2xx; its
   throughput is the measured capacity C.
3. Soak: a new server whose customer throttle allows an eighth of C; an open loop offering
   2 x C requests per second for 60 s, spread over usage, summary, meters, profile, budgets and
   insights reads of many customers, 40 % of them from one greedy customer. Latency counts
   from when a request was due, so a backed-up server shows in it. The greedy customer must
   get 429s, each with ``Retry-After``; nobody else may.
4. Fails (exit 1) on any 5xx, on a 429 without ``Retry-After``, on any server log line that
   is not a JSON access line or is a warning or worse, and when ``/metrics`` (multiprocess
   mode) has not counted every soak request.

Every request goes to 127.0.0.1 and the run stops by itself. ``--smoke`` is a few seconds of
each phase (the test suite runs it). The summary is printed as one JSON object at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
GREEDY_SHARE = 0.4
THROTTLE_SHARE_OF_CAPACITY = 0.125
MAX_IN_FLIGHT = 256


@dataclass(frozen=True)
class Target:
    path: str
    token: str
    greedy: bool = False


@dataclass
class Result:
    status: int
    seconds: float
    retry_after: str | None
    greedy: bool


@dataclass
class Phase:
    name: str
    seconds: float
    results: list[Result] = field(default_factory=list)
    #: Until the last answer: longer than ``seconds`` when the server fell behind.
    elapsed: float = 0.0

    def summary(self) -> dict:
        statuses = Counter(result.status for result in self.results)
        latencies = sorted(result.seconds for result in self.results)

        def percentile(share: float) -> float:
            if not latencies:
                return 0.0
            return round(latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000, 1)

        return {
            "phase": self.name,
            "requests": len(self.results),
            "offered_per_s": round(len(self.results) / self.seconds, 1),
            "answered_per_s": round(len(self.results) / self.elapsed, 1),
            "elapsed_s": round(self.elapsed, 1),
            "statuses": dict(sorted(statuses.items())),
            "5xx": sum(count for status, count in statuses.items() if status >= 500),
            "p50_ms": percentile(0.50),
            "p99_ms": percentile(0.99),
        }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=18850, help="0: any free port")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (the image's)")
    parser.add_argument("--connections", type=int, default=16, help="probe connections")
    parser.add_argument("--probe-seconds", type=float, default=30)
    parser.add_argument("--soak-seconds", type=float, default=60)
    parser.add_argument("--customers", type=int, default=12, help="well-behaved customers")
    parser.add_argument("--smoke", action="store_true", help="a few seconds of each phase")
    args = parser.parse_args()
    args.days = 60
    if args.smoke:
        args.probe_seconds, args.soak_seconds, args.workers, args.days = 2, 3, 1, 0
    return args


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "energygrid.settings")
    import django

    django.setup()


def seeded_targets(customers: int, days: int) -> tuple[Target, list[Target], list[Target]]:
    """The probe's target (a customer of its own, so its count never meets the soak's
    throttle), the well-behaved customers' targets and the greedy customer's."""
    from django.core.management import call_command

    from customers.models import Customer
    from customers.services import session_issue

    call_command("migrate", verbosity=0)
    wanted = customers + 2
    if Customer.objects.filter(utility__slug="demo").count() < wanted:
        call_command("seed_demo", customers=wanted, days=days, verbosity=0, stdout=io.StringIO())
    people = list(Customer.objects.filter(utility__slug="demo").order_by("subject")[:wanted])
    targets: list[list[Target]] = []
    for customer in people:
        token = session_issue(customer=customer).access_token
        meter = customer.accounts.first().meters.first()
        paths = [
            f"/usage/v1/Usage/{meter.id}?granularity=DAY&start=2026-10-01&end=2026-11-01",
            f"/usage/v1/Usage/{meter.id}?granularity=HOUR&start=2026-11-01&end=2026-11-03",
            f"/usage/v1/Usage/{meter.id}/summary?start=2026-11-01&end=2026-11-15",
            "/usage/v1/Meters",
            "/usage/v1/Customer/profile",
            "/usage/v1/Budgets",
            "/usage/v1/Insights?pageSize=5",
        ]
        targets.append([Target(path, token, greedy=customer == people[1]) for path in paths])
    probe, greedy, *others = targets
    return probe[0], [target for group in others for target in group], greedy


def free_port(preferred: int) -> int:
    """``preferred`` unless it is 0 or taken; then one the system picks."""
    with socket.socket() as probe:
        if preferred and probe.connect_ex((HOST, preferred)) != 0:
            return preferred
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(port: int, workers: int, throttle: str, log: Path) -> Iterator[None]:
    """gunicorn as the image runs it (sync workers), JSON logs to ``log``."""
    env = {
        **os.environ,
        "THROTTLE_CUSTOMER": throttle,
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="soak-metrics-"),
    }
    command = [
        sys.executable, "-m", "gunicorn", "energygrid.wsgi", "--bind", f"{HOST}:{port}",
        "--workers", str(workers), "--log-level", "warning", "--chdir", str(ROOT),
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out)  # noqa: S603
    try:
        deadline = time.monotonic() + 120  # a loaded machine boots workers slowly
        while True:
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn did not start; see {log}") from None
                time.sleep(0.2)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


async def get(port: int, target: Target) -> tuple[int, str | None]:
    """One GET over a fresh connection (sync workers close it after each answer)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(
            f"GET {target.path} HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Authorization: Bearer {target.token}\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        await reader.read()
    finally:
        writer.close()
    headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    return int(head[0].split()[1]), headers.get("Retry-After")


async def closed_loop(port: int, target: Target, connections: int, seconds: float) -> Phase:
    phase = Phase("probe", seconds)
    start = time.monotonic()
    stop = start + seconds

    async def client() -> None:
        while time.monotonic() < stop:
            started = time.monotonic()
            status, retry_after = await get(port, target)
            phase.results.append(Result(status, time.monotonic() - started, retry_after, False))

    await asyncio.gather(*(client() for _ in range(connections)))
    phase.elapsed = time.monotonic() - start
    return phase


async def open_loop(port: int, targets: list[Target], greedy: list[Target], rate: float,
                    seconds: float) -> Phase:  # fmt: skip
    """``rate`` requests a second for ``seconds``; the greedy customer sends GREEDY_SHARE."""
    phase = Phase("soak", seconds)
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
    tasks = []
    start = time.monotonic()

    async def one(target: Target, due: float) -> None:
        async with in_flight:
            status, retry_after = await get(port, target)
        phase.results.append(Result(status, time.monotonic() - due, retry_after, target.greedy))

    for n in range(int(rate * seconds)):
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        greedy_turn = int((n + 1) * GREEDY_SHARE) > int(n * GREEDY_SHARE)
        target = greedy[n % len(greedy)] if greedy_turn else targets[n % len(targets)]
        tasks.append(asyncio.create_task(one(target, due)))
    await asyncio.gather(*tasks)
    phase.elapsed = time.monotonic() - start
    return phase


def requests_counted(port: int) -> float:
    """API requests in ``energygrid_request_duration_seconds``, summed over the workers."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "energygrid_request_duration_seconds_count"
        and sample.labels["route"].startswith("usage/v1/")
    )


def unexpected_log_lines(log: Path) -> list[str]:
    """Server log lines other than INFO-level JSON (access lines and the like)."""
    bad = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if record.get("level") not in ("INFO", "DEBUG"):
            bad.append(line)
    return bad


def main() -> int:
    args = parse_args()
    setup_django()
    probe_target, targets, greedy = seeded_targets(args.customers, args.days)
    port = free_port(args.port)
    log = Path(tempfile.mkdtemp(prefix="soak-")) / "server.log"

    with server(port, args.workers, "1000000/min", log):
        probe = asyncio.run(closed_loop(port, probe_target, args.connections, args.probe_seconds))
    capacity = len(probe.results) / args.probe_seconds
    # An eighth of the capacity a second, over the soak (or the minute, when it is longer).
    limit = max(1, int(capacity * THROTTLE_SHARE_OF_CAPACITY * min(60, args.soak_seconds)))
    with server(port, args.workers, f"{limit}/min", log):
        soak = asyncio.run(open_loop(port, targets, greedy, 2 * capacity, args.soak_seconds))
        counted = requests_counted(port)

    throttled = [r for r in soak.results if r.status == 429]
    checks = {
        "probe_all_2xx": all(200 <= r.status < 300 for r in probe.results),
        "no_5xx": not any(r.status >= 500 for r in probe.results + soak.results),
        "429_only_for_the_greedy_customer": all(r.greedy for r in throttled),
        "every_429_has_retry_after": all(r.retry_after for r in throttled),
        "greedy_customer_was_throttled": bool(throttled),
        "no_unexpected_log_lines": not unexpected_log_lines(log),
        # Every worker's requests reach /metrics (multiprocess mode), health probes aside.
        "metrics_count_every_request": counted >= len(soak.results),
    }
    report = {
        "capacity_per_s": round(capacity, 1),
        "throttle": f"{limit}/min",
        "phases": [probe.summary(), soak.summary()],
        "checks": checks,
        "log": str(log),
    }
    print(json.dumps(report, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
