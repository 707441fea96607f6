"""What the benchmark scripts share: Django setup, their database (created when missing), raw
SQL, and the bench utility's rows (a flat tariff, customers with one account, 15-minute electric
meters). Imports of the project happen inside the functions, after :func:`django_setup`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "energygrid.settings")
    import django

    django.setup()


def ensure_database(say: Callable[[str], None]) -> None:
    """Connects, creating the database first when the server says it does not exist."""
    from django.db import OperationalError, connection

    try:
        connection.ensure_connection()
        return
    except OperationalError as error:
        if "does not exist" not in str(error):
            raise
    import psycopg

    params = connection.get_connection_params()
    name = connection.settings_dict["NAME"]
    params["dbname"] = "postgres"
    say(f"creating database {name}")
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    connection.ensure_connection()


def execute(sql: str, params: Any = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def bench_utility(slug: str, name: str, **fields: Any) -> Any:
    """Utility ``slug`` with an issuer and audience of its own."""
    from customers.models import Utility

    return Utility.objects.create(
        slug=slug,
        name=name,
        issuer=f"https://id.{slug}.example",
        audience=f"energygrid-{slug}",
        **fields,
    )


def flat_tariff(utility: Any, price: str) -> Any:
    """A USD tariff of ``utility`` charging ``price`` per unit at every hour of the week."""
    from customers.models import Tariff, TariffRate

    tariff = Tariff.objects.create(utility=utility, code="FLAT", name="Flat", currency="USD")
    TariffRate.objects.create(
        tariff=tariff, position=0, price=price, weekdays=127, from_hour=0, to_hour=24
    )
    return tariff


def customer_account(
    utility: Any,
    *,
    subject: str,
    timezone: str,
    account_number: str,
    billing_cycle_day: int,
    **customer_fields: Any,
) -> Any:
    """A USD-billed customer of ``utility`` with one active account; returns the account."""
    from customers.models import Account, Customer

    customer = Customer.objects.create(
        utility=utility,
        subject=subject,
        billing_currency="USD",
        timezone=timezone,
        **customer_fields,
    )
    return Account.objects.create(
        utility=utility,
        customer=customer,
        account_number=account_number,
        status="ACTIVE",
        billing_cycle_day=billing_cycle_day,
    )


def electric_meter(account: Any, meter_number: str, timezone: str, tariff: Any) -> Any:
    """A 15-minute kWh meter on ``account``, not yet saved."""
    from customers.models import Meter

    return Meter(
        utility=account.utility,
        account=account,
        meter_number=meter_number,
        service_type="ELECTRIC",
        unit_of_measure="kWh",
        interval_seconds=900,
        timezone=timezone,
        tariff=tariff,
    )
