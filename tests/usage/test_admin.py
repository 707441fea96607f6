"""Admin pages of a meter's readings and rollups: utility-scoped, read-only, never a full
count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import Meter
from tests.conftest import staff_client
from usage.models import Direction, Reading
from usage.rollups import rollups_rebuild

from .conftest import ACTUAL, ESTIMATED, write_readings


def rollups_page(meter: Meter) -> str:
    return reverse("admin:customers_meter_rollups", args=[meter.pk])


def readings_page(meter: Meter) -> str:
    return reverse("admin:customers_meter_readings", args=[meter.pk])


def test_staff_see_only_their_utilitys_readings_and_rollups_and_cannot_edit(alice, bob):
    for meter in Meter.objects.all():
        write_readings(meter, [(datetime(2026, 1, 1, tzinfo=UTC), Decimal("1.5"), None, ACTUAL)])
        rollups_rebuild(meter=Meter.objects.select_related("account").get(pk=meter.pk))
    client = staff_client(alice.utility, content_type__app_label="usage")
    mine = Meter.objects.get(meter_number="E-ALICE-1")
    theirs = Meter.objects.get(meter_number="E-BOB-1")

    readings = client.get(readings_page(mine))
    own = client.get(rollups_page(mine))

    assert readings.status_code == 200 and "1.5 kWh" in readings.content.decode()
    assert own.status_code == 200 and "Rollups of meter E-ALICE-1" in own.content.decode()
    assert client.get(readings_page(theirs)).status_code == 404
    assert client.get(rollups_page(theirs)).status_code == 404
    assert client.post(readings_page(mine)).status_code == 405  # read-only


def test_rollups_page_needs_the_view_rollup_permission_and_is_linked_from_the_meter_list(alice):
    meter = Meter.objects.get(meter_number="E-ALICE-1")
    meters_only = staff_client(alice.utility, codename="view_meter")
    meters_list = meters_only.get(reverse("admin:customers_meter_changelist")).content.decode()

    assert rollups_page(meter) in meters_list and readings_page(meter) in meters_list
    assert meters_only.get(rollups_page(meter)).status_code == 403
    assert meters_only.get(readings_page(meter)).status_code == 403
    assert meters_only.post(rollups_page(meter)).status_code == 405  # read-only


def test_the_readings_page_never_counts_the_whole_table(alice):
    root = User.objects.create_superuser("root", password="unused")
    client = Client()
    client.force_login(root)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(readings_page(Meter.objects.get(meter_number="E-ALICE-1")))

    assert response.status_code == 200
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts), counts


def test_a_large_table_says_more_than_ten_thousand_not_an_exact_looking_count(alice):
    meter = Meter.objects.get(meter_number="E-ALICE-1")
    first = datetime(2025, 1, 1, 5, tzinfo=UTC)
    write_readings(
        meter,
        ((first + timedelta(minutes=15 * i), Decimal("0.1"), None, ACTUAL) for i in range(10_001)),
    )
    client = staff_client(alice.utility, content_type__app_label="usage")

    listed = client.get(readings_page(meter)).content.decode()

    assert "more than 10,000 readings" in listed
    assert "10001 readings" not in listed and "10,001 readings" not in listed


def test_readings_list_local_times_rounded_money_newest_first_and_filter_by_quality(alice):
    meter = Meter.objects.get(meter_number="E-ALICE-1")
    first = datetime(2026, 1, 15, 5, tzinfo=UTC)  # 00:00 in New York
    write_readings(
        meter,
        [
            (first, Decimal("0.1234"), Decimal("0.0185"), ACTUAL),
            (first + timedelta(minutes=15), Decimal("2"), None, ESTIMATED),
        ],
    )
    client = staff_client(alice.utility, content_type__app_label="usage")

    page = client.get(readings_page(meter)).content.decode()
    estimated = client.get(readings_page(meter), {"quality": ESTIMATED}).content.decode()

    assert page.index("2026-01-15 00:15 EST") < page.index("2026-01-15 00:00 EST")
    assert "0.123 kWh" in page and "$0.02" in page and "0.0185" not in page
    assert "2 readings" in page
    assert "2026-01-15 00:15 EST" in estimated and "2026-01-15 00:00 EST" not in estimated
    assert "1 reading" in estimated and "1 readings" not in estimated


def test_a_bidirectional_meters_readings_are_listed_one_direction_at_a_time(new_meter):
    meter = new_meter(bidirectional=True)
    start = datetime(2026, 1, 15, 5, tzinfo=UTC)
    Reading.objects.bulk_create(
        [
            Reading(meter=meter, start=start, quantity=Decimal("1.5")),
            Reading(meter=meter, direction=Direction.RECEIVED, start=start, quantity=Decimal("7")),
        ]
    )
    client = staff_client(meter.utility, content_type__app_label="usage")

    delivered = client.get(readings_page(meter)).content.decode()
    received = client.get(readings_page(meter), {"direction": Direction.RECEIVED}).content.decode()

    assert "1.5 kWh" in delivered and "7 kWh" not in delivered
    assert "7 kWh" in received and "1.5 kWh" not in received
    assert "By direction" in delivered


def test_rollups_list_local_times_rounded_money_and_whole_counts(alice):
    meter = Meter.objects.select_related("account").get(meter_number="E-ALICE-1")
    # One local hour of New York winter (05:00-06:00 UTC): 4 quarter-hours of 0.123 kWh at
    # 0.15 USD/kWh, so 0.492 kWh costing 0.0738.
    first = datetime(2026, 1, 15, 5, tzinfo=UTC)
    write_readings(
        meter,
        ((first + timedelta(minutes=15 * i), Decimal("0.123"), None, ACTUAL) for i in range(4)),
    )
    rollups_rebuild(meter=meter)
    client = staff_client(alice.utility, content_type__app_label="usage")

    page = client.get(rollups_page(meter)).content.decode()  # the finest granularity: HOUR
    days = client.get(rollups_page(meter), {"granularity": "DAY"}).content.decode()

    assert "2026-01-15 00:00 EST" in page and "2026-01-15 01:00 EST" in page
    assert "0.492 kWh" in page and "$0.07" in page and "0.0738" not in page
    assert "4 of 4" in page and "4.0000" not in page
    assert "1 rollup" in page and "1 rollups" not in page
    assert "2026-01-15 00:00 EST" in days and "2026-01-16 00:00 EST" in days
    assert "4 of 96" in days


def test_the_rollups_page_is_an_index_walk_and_counts_at_most_the_cap(alice):
    meter = Meter.objects.select_related("account").get(meter_number="E-ALICE-1")
    first = datetime(2026, 1, 15, 5, tzinfo=UTC)
    write_readings(meter, [(first, Decimal("1"), None, ACTUAL)])
    rollups_rebuild(meter=meter)
    client = staff_client(alice.utility, content_type__app_label="usage")

    with CaptureQueriesContext(connection) as queries:
        response = client.get(rollups_page(meter), {"granularity": "WEEK"})

    assert response.status_code == 200 and "1 rollup" in response.content.decode()
    listed = [q["sql"] for q in queries if "usage_rollup" in q["sql"]]
    assert all("granularity" in sql for sql in listed), listed
    assert any("COUNT(" in sql.upper() and "LIMIT" in sql.upper() for sql in listed), listed
