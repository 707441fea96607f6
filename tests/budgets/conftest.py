"""Budget-test helpers: alice's account and meter (New York, flat 0.15 USD/kWh, billing cycle
day 5), budgets made through the service, readings loaded and rolled up, and a real worker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connection, connections

from budgets.models import Budget, BudgetKind
from budgets.services import budget_create
from customers.models import Account, Customer, Meter
from energygrid.celery import app
from usage.calendar import zone
from usage.models import Reading
from usage.rollups import rollups_rebuild

QUARTER = timedelta(minutes=15)
BUDGETS = "/usage/v1/Budgets"

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL row locks and real concurrency"
)


@pytest.fixture
def account(alice: Customer) -> Account:
    return alice.accounts.get()


@pytest.fixture
def meter(account: Account) -> Meter:
    return account.meters.select_related("account").get()


def move_where_the_last_hours_are_this_month(customer: Customer, meter: Meter, now: datetime):
    """Puts the customer and meter in a zone where the last two hours lie inside the current
    month, whatever the date today, so readings of those hours count in this month's budget."""
    tz = next(
        name
        for name in ("Pacific/Kiritimati", "Pacific/Pago_Pago")
        if (now - timedelta(hours=3)).astimezone(zone(name)).month
        == now.astimezone(zone(name)).month
    )
    customer.timezone = meter.timezone = tz
    customer.save()
    meter.save()


def make_budget(customer: Customer, **fields: Any) -> Budget:
    """A budget of ``customer`` through the service: COST on its first account unless told."""
    account = fields.pop("account", None) or customer.accounts.order_by("account_number").first()
    kind = fields.pop("kind", BudgetKind.COST)
    meter = fields.pop("meter", account.meters.first() if kind == BudgetKind.ENERGY else None)
    budget = budget_create(
        customer=customer,
        account=account,
        meter=meter,
        name=fields.pop("name", "Home"),
        kind=kind,
        period=fields.pop("period", "MONTHLY"),
        limit=Decimal(fields.pop("limit", "100.00")),
        alert_thresholds=fields.pop("alert_thresholds", [50, 80, 100]),
        active=fields.pop("active", True),
    )
    assert not fields, f"unknown fields {fields}"
    return Budget.objects.select_related("customer", "account", "meter").get(pk=budget.pk)


def load_readings(meter: Meter, start: datetime, count: int, quantity: str = "0.25") -> None:
    """``count`` consecutive 15-minute readings of ``quantity`` from ``start``, rolled up."""
    Reading.objects.bulk_create(
        Reading(meter=meter, start=start + index * QUARTER, quantity=Decimal(quantity))
        for index in range(count)
    )
    rollups_rebuild(meter=meter)


def valid_body(account: Account, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Electricity",
        "kind": "COST",
        "period": "MONTHLY",
        "accountId": str(account.id),
        "limit": "120.00",
        "alertThresholds": [50, 80, 100],
        **overrides,
    }


@pytest.fixture
def celery_worker(transactional_db) -> Iterator[Any]:
    """A real Celery worker (two threads) in this process, consuming from the Redis broker."""
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is unset: a real worker needs the Redis broker")

    def close_connections(**_: Any) -> None:
        # Each worker thread has its own database connection; the test database is dropped
        # at the end of the session, which needs them closed.
        connections.close_all()

    task_postrun.connect(close_connections, weak=False)
    app.control.purge()
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False) as worker:
            yield worker
    finally:
        task_postrun.disconnect(close_connections)
