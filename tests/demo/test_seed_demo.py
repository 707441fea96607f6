"""``seed_demo``: the demo utility, its customers, readings and insights; deterministic for a
seed, idempotent, and telling where it has got to whatever its output is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from customers.models import Account, Customer, Meter, Premise, Tariff, TariffRate, Utility
from demo.utility import demo_document
from tests.customers.cis_documents import table_snapshot
from tests.customers.test_commands import fails, run
from usage.models import Reading, Rollup

pytestmark = pytest.mark.django_db


def demo_content() -> list[tuple]:
    """The demo's rows without ids or timestamps: what a seed determines."""
    return [
        *Customer.objects.order_by("subject").values_list(
            "subject", "display_name", "email", "timezone", "active"
        ),
        *Account.objects.order_by("account_number").values_list(
            "account_number", "customer__subject", "status", "billing_cycle_day"
        ),
        *Premise.objects.order_by("account__account_number").values_list(
            "account__account_number",
            "address_line1",
            "city",
            "floor_area_sqm",
            "home_type",
            "weather_region",
        ),
        *Meter.objects.order_by("meter_number").values_list(
            "meter_number",
            "account__account_number",
            "service_type",
            "unit_of_measure",
            "interval_seconds",
            "timezone",
            "tariff__code",
        ),
        *TariffRate.objects.order_by("tariff__code", "position").values_list(
            "tariff__code", "position", "price", "weekdays", "from_hour", "to_hour"
        ),
    ]


def test_seed_demo_creates_a_demo_utility_and_prints_how_to_log_in(api):
    output = run("seed_demo", "--customers", "4", "--seed", "3", "--days", "0")

    utility = Utility.objects.get(slug="demo")
    assert utility.private_key_pem and utility.issuer == "https://id.demo.energygrid.example"
    assert utility.audience == "energygrid-demo"
    assert "Demo utility: demo" in output
    subjects = list(Customer.objects.filter(utility=utility).values_list("subject", flat=True))
    assert len(subjects) == 4
    for subject in subjects:
        assert f"python manage.py issue_identity_token --utility demo --subject {subject}" in output
    assert set(Tariff.objects.filter(utility=utility).values_list("code", flat=True)) == {
        "FLAT",
        "TOU",
        "GAS",
    }
    assert Tariff.objects.get(utility=utility, code="TOU").time_of_use
    meters = Meter.objects.filter(utility=utility)
    assert {(m.service_type, m.unit_of_measure, m.interval_seconds) for m in meters} >= {
        ("ELECTRIC", "kWh", 900)
    }
    assert meters.filter(service_type="ELECTRIC").count() == 4


def test_seed_demo_is_idempotent_for_a_seed(db):
    run("seed_demo", "--seed", "11", "--days", "0")
    snapshot = table_snapshot()

    output = run("seed_demo", "--seed", "11", "--days", "0")

    assert table_snapshot() == snapshot, "re-running with the same seed changes nothing"
    assert "customers 0 created, 0 updated, 16 unchanged" in output


def test_seed_demo_is_deterministic_for_a_seed(db):
    run("seed_demo", "--customers", "6", "--seed", "5", "--days", "0")
    first = demo_content()
    for model in (Meter, Premise, Account, Customer, TariffRate, Tariff):
        model.objects.all().delete()

    run("seed_demo", "--customers", "6", "--seed", "5", "--days", "0")

    assert demo_content() == first
    assert demo_document(customers=6, seed=5) == demo_document(customers=6, seed=5)
    assert demo_document(customers=6, seed=5) != demo_document(customers=6, seed=6)


def test_seed_demo_homes_vary_and_some_have_gas(db):
    run("seed_demo", "--customers", "60", "--seed", "1", "--days", "0")

    premises = Premise.objects.filter(account__utility__slug="demo")
    assert premises.values("home_type").distinct().count() >= 4
    assert premises.values("weather_region").distinct().count() >= 3
    assert premises.values("floor_area_sqm").distinct().count() >= 10
    gas = Meter.objects.filter(utility__slug="demo", service_type="GAS")
    assert 0 < gas.count() < 60
    assert {(m.unit_of_measure, m.interval_seconds) for m in gas} == {("therm", 3600)}


def test_the_default_demo_has_a_neighbourhood_big_enough_for_peer_comparison(db):
    run("seed_demo", "--days", "0")

    neighbours = Premise.objects.filter(
        weather_region="BOS", home_type="DETACHED", floor_area_sqm__range=(150, 249)
    )
    assert neighbours.count() >= 11  # a home and at least ten others


def test_seed_demo_keeps_its_signing_key_so_issued_tokens_stay_valid(db):
    run("seed_demo", "--customers", "1", "--days", "0")
    key = Utility.objects.get(slug="demo").private_key_pem

    run("seed_demo", "--customers", "1", "--seed", "99", "--days", "0")

    assert Utility.objects.get(slug="demo").private_key_pem == key


@pytest.mark.parametrize("count", ["0", "10001", "-3"])
def test_seed_demo_refuses_a_bad_customer_count(db, count):
    assert fails("seed_demo", "--customers", count) == "--customers must be between 1 and 10000"


def readings_content() -> list[tuple]:
    return list(
        Reading.objects.order_by("meter__meter_number", "start").values_list(
            "meter__meter_number", "start", "quantity", "quality"
        )
    )


def test_seed_demo_loads_readings_and_rollups_deterministically(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        output = run("seed_demo", "--customers", "3", "--days", "10", "--seed", "4")

    first = readings_content()
    assert f"{len(first)} readings for" in output
    electric = Meter.objects.filter(utility__slug="demo", service_type="ELECTRIC")
    for meter in electric:
        readings = Reading.objects.filter(meter=meter)
        # Nine whole local days before today, and today's quarter-hours that have ended (none
        # in the first quarter-hour after local midnight).
        assert readings.count() >= 9 * 96
        # Only whole intervals that have ended by now.
        assert not readings.filter(start__gt=timezone.now() - timedelta(minutes=15)).exists()
        days = Rollup.objects.filter(meter=meter, granularity="DAY")
        assert sum(days.values_list("quantity", flat=True)) == sum(
            readings.values_list("quantity", flat=True)
        )
    # Another install: new ids for the same customers, the same homes and readings.
    Customer.objects.all().delete()

    run("seed_demo", "--customers", "3", "--days", "10", "--seed", "4")

    assert readings_content() == first


@pytest.mark.parametrize("days", ["3", "-1", "5000"])
def test_seed_demo_refuses_a_bad_day_count(db, days):
    with pytest.raises(CommandError, match="--days must be 0 or between"):
        run("seed_demo", "--days", days)


def test_seed_demo_names_each_customer_differently():
    for customers, seed in [(16, 42), (500, 1)]:
        names = [
            c["displayName"] for c in demo_document(customers=customers, seed=seed)["customers"]
        ]

        assert len(set(names)) == customers


def test_a_repeated_name_gets_middle_initials():
    default = demo_document(customers=16, seed=42)["customers"]
    by_subject = {c["subject"]: c["displayName"] for c in default}

    # Both drew "Ada Thompson" before names were made unique.
    assert by_subject["demo-0001"] == "Ada Thompson"
    assert by_subject["demo-0016"] == "Ada A. Thompson"
    names = {c["displayName"] for c in demo_document(customers=3000, seed=3)["customers"]}
    assert any(len(name.split()) == 4 for name in names), "past 26 repeats: two initials"


def test_seed_demo_prints_a_line_per_stage_when_output_is_not_a_terminal(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        output = run("seed_demo", "--customers", "2", "--days", "7", "--seed", "4")

    assert "Seeding customers: 2 customers\n" in output
    assert "Seeding readings: " in output
    assert "Seeding insights: 2 customers\n" in output
