"""The customer page of the admin: a staff user of one utility sees one customer's accounts,
meters with usage charts (local times, rounded money), budgets, insights and logins."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from budgets.services import budget_create
from customers.models import Meter, ReadResolution
from customers.services import session_issue
from tests.conftest import staff_client
from tests.insights.test_api import add_insight
from usage.calendar import local_date_start, zone
from usage.imports import readings_upsert
from usage.models import Direction, Quality, Reading
from usage.rollups import rollups_rebuild

pytestmark = pytest.mark.django_db


def overview(customer) -> str:
    return reverse("admin:customers_customer_overview", args=[customer.pk])


@pytest.fixture
def alice_day(alice, django_capture_on_commit_callbacks):
    """A full local day of alice's usage three days ago: 96 quarter-hours of 0.333 kWh at the
    flat 0.15 USD/kWh, so 31.968 kWh costing 4.7952 (shown as $4.80)."""
    meter = Meter.objects.get(meter_number="E-ALICE-1")
    tz = zone(meter.timezone)
    day = timezone.now().astimezone(tz).date() - timedelta(days=3)
    start = local_date_start(tz, day)
    with django_capture_on_commit_callbacks(execute=True):
        readings_upsert(
            meter=meter,
            readings=(
                (start + timedelta(minutes=15 * i), Decimal("0.333"), None, Quality.ACTUAL)
                for i in range(96)
            ),
        )
    return day


def test_staff_see_their_customer_s_usage_chart_in_local_time_and_rounded_money(
    acme, alice, alice_day
):
    page = staff_client(acme, codename="view_customer").get(overview(alice))

    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('<svg class="usage-chart"') == 2  # by day and by month
    label = alice_day.strftime("%a %d %b %Y")
    assert f"<title>{label}: 31.968 kWh · $4.80</title>" in html
    # The one day with data sits where it falls in the 90-day window (three days before the
    # right edge), not stretched over the chart: days without data are gaps.
    bar = re.search(rf'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"[^>]*><title>{label}:', html)
    x, width = float(bar.group(1)), float(bar.group(2))
    assert width < 10
    assert 0.93 * 720 < x < 720 - 3 * width
    assert "4.7952" not in html
    # First reading: local midnight on the meter's wall clock, not 05:00 UTC.
    tz_name = "EST" if alice_day.month in (1, 2, 3, 11, 12) else "EDT"
    assert f"{alice_day:%Y-%m-%d} 00:00 {tz_name}" in html
    assert "E-ALICE-1" in html and "15 min" in html and "Flat" in html


def test_another_utility_s_customer_is_not_found(acme, alice, bob):
    client = staff_client(acme, codename="view_customer")

    assert client.get(overview(bob)).status_code == 404
    assert client.get(overview(alice)).status_code == 200


def test_the_page_shows_budgets_insights_and_logins(acme, alice, alice_day):
    account = alice.accounts.get()
    budget_create(
        customer=alice,
        account=account,
        meter=None,
        name="Household",
        kind="COST",
        period="MONTHLY",
        limit=Decimal("120.005"),
        alert_thresholds=[80],
        active=True,
    )
    add_insight(alice, period_end=timezone.now())
    session_issue(customer=alice)

    html = staff_client(acme, codename="view_customer").get(overview(alice)).content.decode()

    assert "Household" in html and "$120.01" in html and "ON_TRACK" in html
    assert "Your home draws 150 W around the clock" in html
    assert "Devices that never switch off draw about 150 W." in html
    assert "Recent logins" in html and "No logins." not in html


def test_customers_are_found_by_account_or_meter_number(acme, alice, bob):
    client = staff_client(acme, codename="view_customer")
    changelist = reverse("admin:customers_customer_changelist")

    for query in ["E-ALICE-1", alice.accounts.get().account_number, "alice"]:
        html = client.get(changelist, {"q": query}).content.decode()
        assert overview(alice) in html, query
    assert overview(alice) not in client.get(changelist, {"q": "E-BOB-1"}).content.decode()


def test_the_customer_form_links_to_the_overview(acme, alice):
    change = reverse("admin:customers_customer_change", args=[alice.pk])

    html = staff_client(acme, codename="view_customer").get(change).content.decode()

    assert f'href="{overview(alice)}"' in html


def test_a_solar_day_that_exported_more_than_it_used_is_a_bar_below_zero(acme, alice):
    meter = Meter.objects.get(meter_number="E-ALICE-1")
    Meter.objects.filter(pk=meter.pk).update(bidirectional=True)
    tz = zone(meter.timezone)
    day = timezone.now().astimezone(tz).date() - timedelta(days=2)
    start = local_date_start(tz, day)
    Reading.objects.bulk_create(
        Reading(
            meter=meter,
            start=start + timedelta(hours=hour),
            direction=direction,
            quantity=Decimal(quantity),
        )
        for hour in range(24)
        for direction, quantity in ((Direction.DELIVERED, "0.5"), (Direction.RECEIVED, "1.5"))
    )
    rollups_rebuild(meter=Meter.objects.get(pk=meter.pk))

    html = staff_client(acme, codename="view_customer").get(overview(alice)).content.decode()

    assert "15 min, delivered and received" in html
    label = day.strftime("%a %d %b %Y")
    assert f"<title>{label}: -24 kWh · -$3.60 (12 kWh delivered · 36 kWh received)" in html
    assert 'text-anchor="end">-24 kWh</text>' in html  # the axis reaches below zero
    assert 'y="8.0" width="5.6" height="132.0"><title>' + label in html  # down from zero


def test_a_billing_read_meter_shows_its_read_periods_and_no_day_chart(acme, alice):
    meter = Meter.objects.get(meter_number="E-ALICE-1")
    Meter.objects.filter(pk=meter.pk).update(
        read_resolution=ReadResolution.BILLING, interval_seconds=None, unit_of_measure="therm"
    )
    tz = zone(meter.timezone)
    today = timezone.now().astimezone(tz).date()
    read = (
        local_date_start(tz, today - timedelta(days=60)),
        local_date_start(tz, today - timedelta(days=30)),
    )
    Reading.objects.create(meter=meter, start=read[0], end=read[1], quantity=Decimal("42"))
    rollups_rebuild(meter=Meter.objects.get(pk=meter.pk))

    page = staff_client(acme, codename="view_customer").get(overview(alice))

    assert page.status_code == 200
    html = page.content.decode()
    assert "billing reads (one per read period)" in html
    assert html.count('<svg class="usage-chart"') == 1
    assert "usage by month, read periods, last 24 months" in html
    assert f"<title>{read[0].astimezone(tz):%d %b %Y}: 42 therm · $6.30</title>" in html
