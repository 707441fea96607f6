"""Rollups follow every change of what they are computed from besides readings (contract
section 10.3): a meter's tariff, a tariff's rates, an account's billing cycle day (through
import_customers) and a meter's time zone (through the admin). In the embedded default (tasks
run eagerly after commit) the catch-up runs at once, with its follow-ups."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from customers.models import Customer, Meter
from tests.conftest import client_for
from tests.customers.cis_documents import ALL_DAYS, acme_document
from usage.models import RollupDirtyRange
from usage.rollups import rollups_rebuild

from .conftest import write_readings

QUARTER = timedelta(minutes=15)


def flat(code: str, price: str) -> dict:
    return {
        "code": code,
        "name": code,
        "currency": "USD",
        "rates": [{"price": price, "days": ALL_DAYS, "fromHour": 0, "toHour": 24}],
    }


def document(*, tariff: str = "FLAT-10", price: str = "0.10", cycle_day: int = 5) -> dict:
    """Acme's document with two flat tariffs; meter E-1 on ``tariff``."""
    doc = acme_document()
    doc["tariffs"] = [flat("FLAT-10", price), flat("FLAT-18", "0.18"), *doc["tariffs"]]
    account = doc["customers"][0]["accounts"][0]
    account["billingCycleDay"] = cycle_day
    account["meters"][0]["tariff"] = tariff
    return doc


def import_customers(tmp_path, doc: dict, capture) -> None:
    path = tmp_path / "cis.json"
    path.write_text(json.dumps(doc))
    with capture(execute=True):
        call_command("import_customers", str(path), stdout=io.StringIO())


@pytest.fixture
def two_days(acme, tmp_path, django_capture_on_commit_callbacks) -> Meter:
    """Meter E-1 (New York, 15 minutes) on FLAT-10: two local days of 1 kWh readings, rolled up."""
    import_customers(tmp_path, document(), django_capture_on_commit_callbacks)
    meter = Meter.objects.select_related("account", "tariff").get(meter_number="E-1")
    first = datetime(2026, 6, 1, 4, tzinfo=UTC)  # local midnight, -04:00
    write_readings(meter, [(first + i * QUARTER, Decimal(1), None, "ACTUAL") for i in range(192)])
    rollups_rebuild(meter=meter)
    return meter


def total_cost(meter: Meter, granularity: str, **params) -> Decimal:
    client = client_for(Customer.objects.get(subject="idp-sub-1"))
    query = {"granularity": granularity, "start": "2026-06-01", "end": "2026-06-03", **params}
    total, token = Decimal(0), None
    while True:
        response = client.get(
            f"/usage/v1/Usage/{meter.id}", {**query, **({"pageToken": token} if token else {})}
        )
        assert response.status_code == 200, response.content
        body = response.json()
        total += sum(Decimal(item["cost"]) for item in body["items"])
        token = body.get("nextPageToken")
        if not token:
            return total


def test_moving_a_meter_to_another_tariff_reprices_its_rollups(
    two_days, tmp_path, django_capture_on_commit_callbacks
):
    assert total_cost(two_days, "DAY") == Decimal("19.20")  # 192 kWh x 0.10

    import_customers(tmp_path, document(tariff="FLAT-18"), django_capture_on_commit_callbacks)

    assert total_cost(two_days, "FIFTEEN_MINUTE") == Decimal("34.56")  # 192 kWh x 0.18
    assert total_cost(two_days, "DAY") == Decimal("34.56")
    assert total_cost(two_days, "MONTH", start="2026-06-01", end="2026-07-01") == Decimal("34.56")
    assert not RollupDirtyRange.objects.exists()


def test_a_tariff_price_change_reprices_the_rollups_of_its_meters(
    two_days, tmp_path, django_capture_on_commit_callbacks
):
    import_customers(tmp_path, document(price="0.20"), django_capture_on_commit_callbacks)

    assert total_cost(two_days, "DAY") == Decimal("38.40") == total_cost(two_days, "HOUR")


def test_a_new_billing_cycle_day_moves_the_billing_periods(
    two_days, tmp_path, django_capture_on_commit_callbacks
):
    periods = {"granularity": "BILLING_PERIOD", "start": "2026-05-01", "end": "2026-07-01"}
    client = client_for(Customer.objects.get(subject="idp-sub-1"))
    before = client.get(f"/usage/v1/Usage/{two_days.id}", periods).json()["items"]
    assert [item["start"][:10] for item in before] == ["2026-05-05"]

    import_customers(tmp_path, document(cycle_day=2), django_capture_on_commit_callbacks)

    after = client.get(f"/usage/v1/Usage/{two_days.id}", periods).json()["items"]
    assert [(item["start"][:10], item["quantity"]) for item in after] == [
        ("2026-05-02", 96.0),
        ("2026-06-02", 96.0),
    ]


def test_a_time_zone_changed_in_the_admin_moves_the_days(
    two_days, django_capture_on_commit_callbacks
):
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="unused"))
    url = reverse("admin:customers_meter_change", args=[two_days.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {name: value for name, value in data.items() if value not in (None, False)}
    data["timezone"] = "America/Los_Angeles"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)

    assert response.status_code == 302, response.content
    days = {"granularity": "DAY", "start": "2026-05-31", "end": "2026-06-03"}
    items = (
        client_for(Customer.objects.get(subject="idp-sub-1"))
        .get(f"/usage/v1/Usage/{two_days.id}", days)
        .json()["items"]
    )
    # The same readings, now from 21:00 on 31 May to 21:00 on 2 June Los Angeles time.
    assert [(item["start"], item["quantity"]) for item in items] == [
        ("2026-05-31T00:00:00-07:00", 12.0),
        ("2026-06-01T00:00:00-07:00", 96.0),
        ("2026-06-02T00:00:00-07:00", 84.0),
    ]
