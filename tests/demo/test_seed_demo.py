"""``seed_demo``: the demo utility, its customers, readings and insights; deterministic for a
seed, idempotent, and telling where it has got to whatever its output is. Its meters are as
they are in the field (contract section 10): solar homes that export, gas meters read once a
month, plans changed a few months ago; the login hint names a solar home."""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from customers.models import (
    Account,
    Customer,
    Meter,
    Premise,
    ReadResolution,
    Tariff,
    TariffRate,
    Utility,
)
from demo.utility import DEMO_TIMEZONE, demo_document
from tests.conftest import client_for
from tests.customers.cis_documents import table_snapshot
from tests.customers.test_commands import fails, run
from usage.models import Direction, Reading, Rollup

TODAY = date(2026, 11, 30)

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
        "EXPORT",
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
    assert demo_document(customers=6, seed=5, today=TODAY) == demo_document(
        customers=6, seed=5, today=TODAY
    )
    assert demo_document(customers=6, seed=5, today=TODAY) != demo_document(
        customers=6, seed=6, today=TODAY
    )


def test_seed_demo_homes_vary_and_some_have_gas(db):
    run("seed_demo", "--customers", "60", "--seed", "1", "--days", "0")

    premises = Premise.objects.filter(account__utility__slug="demo")
    assert premises.values("home_type").distinct().count() >= 4
    assert premises.values("weather_region").distinct().count() >= 3
    assert premises.values("floor_area_sqm").distinct().count() >= 10
    gas = Meter.objects.filter(utility__slug="demo", service_type="GAS")
    assert 0 < gas.count() < 60
    # Hourly, or read once a month.
    assert {(m.unit_of_measure, m.interval_seconds) for m in gas} == {
        ("therm", 3600),
        ("therm", None),
    }


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
        Reading.objects.order_by("meter__meter_number", "direction", "start").values_list(
            "meter__meter_number", "direction", "start", "end", "quantity", "quality"
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
        readings = Reading.objects.filter(meter=meter, direction=Direction.DELIVERED)
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
            c["displayName"]
            for c in demo_document(customers=customers, seed=seed, today=TODAY)["customers"]
        ]

        assert len(set(names)) == customers


def test_a_repeated_name_gets_middle_initials():
    default = demo_document(customers=16, seed=42, today=TODAY)["customers"]
    by_subject = {c["subject"]: c["displayName"] for c in default}

    # Both drew "Ada Thompson" before names were made unique.
    assert by_subject["demo-0001"] == "Ada Thompson"
    assert by_subject["demo-0016"] == "Ada A. Thompson"
    names = {
        c["displayName"] for c in demo_document(customers=3000, seed=3, today=TODAY)["customers"]
    }
    assert any(len(name.split()) == 4 for name in names), "past 26 repeats: two initials"


def test_seed_demo_prints_a_line_per_stage_when_output_is_not_a_terminal(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        output = run("seed_demo", "--customers", "2", "--days", "7", "--seed", "4")

    assert "Seeding customers: 2 customers\n" in output
    assert "Seeding readings: " in output
    assert "Seeding insights: 2 customers\n" in output


# --- meters as they are in the field (contract section 10) ----------------------------------

LOGIN = "/usage/v1/Customer/login"


def test_the_demo_has_solar_homes_monthly_gas_reads_and_plans_changed_months_ago(db):
    output = run("seed_demo", "--days", "0")

    solar = Meter.objects.filter(utility__slug="demo", bidirectional=True)
    assert 1 < solar.count() < 16
    assert {m.export_tariff.code for m in solar} == {"EXPORT"}
    assert all(m.service_type == "ELECTRIC" for m in solar)
    [feed_in] = TariffRate.objects.filter(tariff__code="EXPORT", tariff__utility__slug="demo")
    import_prices = TariffRate.objects.filter(tariff__code__in=["FLAT", "TOU"])
    assert feed_in.price < min(import_prices.values_list("price", flat=True))
    monthly = Meter.objects.filter(utility__slug="demo", read_resolution=ReadResolution.BILLING)
    assert monthly.exists()
    assert {(m.service_type, m.interval_seconds, m.unit_of_measure) for m in monthly} == {
        ("GAS", None, "therm")
    }
    changed = Meter.objects.filter(utility__slug="demo", tariff_periods__isnull=False).distinct()
    assert changed.exists()
    today = timezone.localdate(timezone=ZoneInfo(DEMO_TIMEZONE))  # what the seed counts from
    for meter in changed:
        old, new = meter.tariff_periods.all()  # the first since the start
        assert (old.valid_from, old.export) == (None, False)
        assert new.tariff == meter.tariff != old.tariff
        months_ago = (today.year - new.valid_from.year) * 12 + today.month - new.valid_from.month
        assert 2 <= months_ago <= 5 and new.valid_from.day == 1
    assert "customers 16 created" in output


def _summer_week(today: date) -> date:
    """The first of the latest July whose first week has ended by ``today``."""
    return date(today.year if today >= date(today.year, 7, 8) else today.year - 1, 7, 1)


def test_the_solar_home_the_hint_names_is_below_zero_on_summer_days(
    db, api, django_capture_on_commit_callbacks
):
    today = timezone.localdate()
    week = _summer_week(today)
    with django_capture_on_commit_callbacks(execute=True):
        output = run("seed_demo", "--customers", "1", "--days", str((today - week).days + 1))

    # The hint: a solar home, and the command that gives its ID token.
    hint = re.search(r"(demo-\d{4}) is a solar home.*\n(python manage.py (.*))", output)
    assert hint, output
    token = run(*hint[3].split()).strip()
    login = api.post(LOGIN, {"identityToken": token}, format="json")
    assert login.status_code == 200, login.content
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['accessToken']}")
    [meter] = api.get("/usage/v1/Meters", {"serviceType": "ELECTRIC"}).json()["items"]
    assert (
        meter["bidirectional"] and meter["exportTariff"]["name"] == "Solar feed-in (export credit)"
    )
    week_of = {"granularity": "DAY", "start": week.isoformat(), "end": str(week + timedelta(7))}

    net = api.get(f"/usage/v1/Usage/{meter['id']}", week_of)  # NET, the default
    delivered = api.get(f"/usage/v1/Usage/{meter['id']}", {**week_of, "direction": "DELIVERED"})

    assert net.status_code == delivered.status_code == 200, net.content
    assert net.json()["direction"] == "NET"
    days = net.json()["items"]
    assert len(days) == 7
    assert any(day["quantity"] < 0 for day in days), days  # the roof gave more than it used
    for day, delivered_day in zip(days, delivered.json()["items"], strict=True):
        assert day["quantity"] == pytest.approx(day["delivered"] - day["received"], abs=1e-6)
        # RECEIVED has a reading for every interval DELIVERED has (0 at night).
        assert day["coverage"] == delivered_day["coverage"]
    # Its insights tell it what its roof exported last billing period.
    [export] = api.get("/usage/v1/Insights", {"type": "SOLAR_EXPORT"}).json()["items"]
    assert export["meterId"] == meter["id"] and Decimal(str(export["data"]["received"])) > 0


def test_a_solar_home_records_both_ways_every_interval_and_never_both_at_once(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run("seed_demo", "--customers", "1", "--days", "10")

    meter = Meter.objects.get(utility__slug="demo", bidirectional=True)
    delivered = dict(
        Reading.objects.filter(meter=meter, direction=Direction.DELIVERED).values_list(
            "start", "quantity"
        )
    )
    received = dict(
        Reading.objects.filter(meter=meter, direction=Direction.RECEIVED).values_list(
            "start", "quantity"
        )
    )
    assert delivered.keys() == received.keys()  # every interval, 0 at night
    assert not any(delivered[start] and received[start] for start in delivered)
    local_hours = {start: start.astimezone(ZoneInfo(meter.timezone)).hour for start in received}
    assert not any(received[s] for s in received if local_hours[s] < 4 or local_hours[s] >= 21)
    assert any(received[s] for s in received if 10 <= local_hours[s] < 15)


def test_a_monthly_read_gas_meter_has_one_reading_per_read_period_of_27_to_35_days(
    db, django_capture_on_commit_callbacks
):
    # The second customer's gas meter is read once a month (the default seed).
    with django_capture_on_commit_callbacks(execute=True):
        run("seed_demo", "--customers", "2", "--days", "400")

    meter = Meter.objects.get(utility__slug="demo", read_resolution=ReadResolution.BILLING)
    reads = list(Reading.objects.filter(meter=meter).order_by("start"))
    assert 11 <= len(reads) <= 15
    zone = ZoneInfo(meter.timezone)
    for read, following in itertools.pairwise(reads):
        assert read.end == following.start  # no gaps: a register read every time
    for read in reads:
        local = read.start.astimezone(zone), read.end.astimezone(zone)
        assert all(moment.time() == time(0) for moment in local)
        assert 27 <= (local[1].date() - local[0].date()).days <= 35
        assert read.quantity == read.quantity.to_integral_value()  # a whole-therm register
        assert read.direction == Direction.DELIVERED
        assert read.end <= timezone.now()
    # Seasonal: the coldest month's read is several times the warmest's.
    quantities = [read.quantity for read in reads]
    assert max(quantities) > 3 * min(quantities) > 0
    # Through the API: its read periods, as read.
    periods = client_for(meter.account.customer).get(
        f"/usage/v1/Usage/{meter.id}",
        {
            "granularity": "BILLING_PERIOD",
            "start": str(reads[0].start.astimezone(zone).date()),
            "end": str(timezone.localdate() + timedelta(days=1)),
        },
    )
    assert periods.status_code == 200, periods.content
    assert [
        (datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"]), p["quantity"])
        for p in periods.json()["items"]
    ] == [(read.start, read.end, float(read.quantity)) for read in reads]


def test_a_gas_meter_with_readings_keeps_how_it_is_read_whatever_the_seed_draws(
    db, django_capture_on_commit_callbacks
):
    # Seed 0 reads the second home's gas hourly; the default seed would read it monthly (an
    # install seeded before the demo had monthly reads is in the same place).
    with django_capture_on_commit_callbacks(execute=True):
        run("seed_demo", "--customers", "2", "--days", "10", "--seed", "0")
        run("seed_demo", "--customers", "2", "--days", "10")

    gas = Meter.objects.get(meter_number="G-DEMO-0002")
    assert (gas.read_resolution, gas.interval_seconds) == (ReadResolution.INTERVAL, 3600)
    assert gas.readings.count() >= 9 * 24
    assert not Meter.objects.filter(read_resolution=ReadResolution.BILLING).exists()
