"""Rollups follow every change of what they are computed from besides readings (contract
section 10.3): a meter's tariff or tariff history, a tariff's rates, an account's billing cycle
day, a meter's time zone (through import_customers and the admin). In the embedded default
(tasks run eagerly after commit) the catch-up runs at once, with its follow-ups."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Max, Min
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Meter, TariffPeriod
from tests.conftest import admin_form_data, client_for
from tests.customers.cis_documents import ALL_DAYS, acme_document
from usage.calendar import local_date_start, zone
from usage.models import Reading, Rollup, RollupDirtyRange
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


def import_customers(tmp_path, doc: dict, capture, *, execute: bool = True) -> list:
    """Runs the command; ``execute=False`` leaves what it queued after commit (returned) unrun."""
    path = tmp_path / "cis.json"
    path.write_text(json.dumps(doc))
    with capture(execute=execute) as queued:
        call_command("import_customers", str(path), stdout=io.StringIO())
    return queued


def e1(doc: dict) -> dict:
    """Meter E-1 of the document."""
    return doc["customers"][0]["accounts"][0]["meters"][0]


@pytest.fixture
def two_days(acme, tmp_path, django_capture_on_commit_callbacks) -> Meter:
    """Meter E-1 (New York, 15 minutes) on FLAT-10: two local days of 1 kWh readings, rolled up."""
    import_customers(tmp_path, document(), django_capture_on_commit_callbacks)
    meter = Meter.objects.select_related("account", "tariff").get(meter_number="E-1")
    first = datetime(2026, 6, 1, 4, tzinfo=UTC)  # local midnight, -04:00
    write_readings(meter, [(first + i * QUARTER, Decimal(1), None, "ACTUAL") for i in range(192)])
    rollups_rebuild(meter=meter)
    return meter


NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def around_today(acme, tmp_path, django_capture_on_commit_callbacks) -> Meter:
    """Meter E-1 on FLAT-10 with 1 kWh readings over yesterday and today (New York), rolled up."""
    import_customers(tmp_path, document(), django_capture_on_commit_callbacks)
    meter = Meter.objects.select_related("account", "tariff").get(meter_number="E-1")
    today = timezone.now().astimezone(NEW_YORK).date()
    first = local_date_start(NEW_YORK, today - timedelta(days=1))
    last = local_date_start(NEW_YORK, today + timedelta(days=1))
    count = int((last - first) / QUARTER)
    write_readings(meter, [(first + i * QUARTER, Decimal(1), None, "ACTUAL") for i in range(count)])
    rollups_rebuild(meter=meter)
    return meter


def costs_by_day(meter: Meter, start: date, end: date) -> dict[str, Decimal]:
    """Local date -> cost, from the DAY series and summed from the 15-minute series (equal).

    Every other granularity and the summary agree too: HOUR and the summary's current range
    total the same cost as the quarter hours, and so do WEEK, MONTH and BILLING_PERIOD (whose
    buckets reach past the range) when the range holds every reading of the meter.
    """
    client = client_for(Customer.objects.get(subject="idp-sub-1"))
    query = {"start": start.isoformat(), "end": end.isoformat(), "pageSize": 1000}

    def items(granularity: str) -> list[dict]:
        response = client.get(f"/usage/v1/Usage/{meter.id}", {**query, "granularity": granularity})
        assert response.status_code == 200, response.content
        return response.json()["items"]

    from_quarters: dict[str, Decimal] = {}
    for item in items("FIFTEEN_MINUTE"):
        day = item["start"][:10]
        from_quarters[day] = from_quarters.get(day, Decimal(0)) + Decimal(item["cost"])
    from_days = {item["start"][:10]: Decimal(item["cost"]) for item in items("DAY")}
    assert from_days == from_quarters
    total = sum(from_quarters.values(), Decimal(0))
    span = Reading.objects.filter(meter=meter).aggregate(first=Min("start"), last=Max("start"))
    tz = zone(meter.timezone)
    lo, hi = local_date_start(tz, start), local_date_start(tz, end)
    holds_all = lo <= span["first"] and span["last"] < hi
    coarser = ["WEEK", "MONTH", "BILLING_PERIOD"] if holds_all else []
    for granularity in ["HOUR", *coarser]:
        assert sum(Decimal(item["cost"]) for item in items(granularity)) == total, granularity
    summary = client.get(f"/usage/v1/Usage/{meter.id}/summary", query).json()
    assert Decimal(summary["current"]["cost"]) == total
    return from_days


def history(meter: Meter, *, export: bool = False) -> list[tuple[date | None, str]]:
    return [
        (period.valid_from, period.tariff.code)
        for period in TariffPeriod.objects.filter(meter=meter, export=export).select_related(
            "tariff"
        )
    ]


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


def test_moving_a_meter_to_another_tariff_with_a_history_reprices_from_its_date(
    two_days, tmp_path, django_capture_on_commit_callbacks
):
    assert total_cost(two_days, "DAY") == Decimal("19.20")  # 192 kWh x 0.10
    doc = document(tariff="FLAT-18")
    doc["customers"][0]["accounts"][0]["meters"][0]["tariffHistory"] = [
        {"tariff": "FLAT-10", "from": None},
        {"tariff": "FLAT-18", "from": "2026-06-02"},
    ]

    import_customers(tmp_path, doc, django_capture_on_commit_callbacks)

    # 96 kWh x 0.10 on 1 June, 96 kWh x 0.18 from 2 June.
    assert total_cost(two_days, "FIFTEEN_MINUTE") == Decimal("26.88")
    assert total_cost(two_days, "DAY") == Decimal("26.88")
    assert total_cost(two_days, "MONTH", start="2026-06-01", end="2026-07-01") == Decimal("26.88")
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


def assert_whole_span_dirty(meter: Meter) -> None:
    """Every reading and every rollup of the two days (the billing period from 5 May, the
    month to 1 July) is marked for recompute."""
    dirty = RollupDirtyRange.objects.get(meter=meter)
    assert (dirty.start, dirty.end) == (
        datetime(2026, 5, 5, 4, tzinfo=UTC),
        datetime(2026, 7, 1, 4, tzinfo=UTC),
    )


def assert_days_in_los_angeles(meter: Meter) -> None:
    """The two days' readings, now from 21:00 on 31 May to 21:00 on 2 June Los Angeles time."""
    days = {"granularity": "DAY", "start": "2026-05-31", "end": "2026-06-03"}
    client = client_for(Customer.objects.get(subject="idp-sub-1"))
    items = client.get(f"/usage/v1/Usage/{meter.id}", days).json()["items"]
    assert [(item["start"], item["quantity"]) for item in items] == [
        ("2026-05-31T00:00:00-07:00", 12.0),
        ("2026-06-01T00:00:00-07:00", 96.0),
        ("2026-06-02T00:00:00-07:00", 84.0),
    ]


@pytest.fixture
def root(db) -> Client:
    """The admin, logged in as a superuser."""
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="unused"))
    return client


def test_a_time_zone_changed_in_the_admin_moves_the_days(
    two_days, root, django_capture_on_commit_callbacks
):
    client = root
    url = reverse("admin:customers_meter_change", args=[two_days.pk])
    data = {**admin_form_data(client, url), "timezone": "America/Los_Angeles"}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)

    assert response.status_code == 302, response.content
    assert_days_in_los_angeles(two_days)


def test_a_tariff_change_without_a_history_applies_from_the_import_local_date(
    around_today, tmp_path, django_capture_on_commit_callbacks
):
    before = timezone.now().astimezone(NEW_YORK).date()
    import_customers(tmp_path, document(tariff="FLAT-18"), django_capture_on_commit_callbacks)
    today = timezone.now().astimezone(NEW_YORK).date()

    # The old tariff since the start, the new one from the import's local date in New York.
    assert today in (before, before + timedelta(days=1))
    assert history(around_today) == [(None, "FLAT-10"), (today, "FLAT-18")]
    yesterday = today - timedelta(days=1)
    assert costs_by_day(around_today, yesterday, today + timedelta(days=1)) == {
        yesterday.isoformat(): Decimal("9.60"),  # 96 kWh at 0.10: kept
        today.isoformat(): Decimal("17.28"),  # 96 kWh at 0.18
    }
    assert not RollupDirtyRange.objects.exists()


def test_a_tariff_change_marks_the_rollups_dirty_only_from_its_local_date(
    around_today, tmp_path, django_capture_on_commit_callbacks
):
    last_end = Rollup.objects.filter(meter=around_today).latest("end").end

    import_customers(
        tmp_path, document(tariff="FLAT-18"), django_capture_on_commit_callbacks, execute=False
    )

    today = timezone.now().astimezone(NEW_YORK).date()
    dirty = RollupDirtyRange.objects.get(meter=around_today)
    assert (dirty.start, dirty.end) == (local_date_start(NEW_YORK, today), last_end)


def test_the_same_file_again_and_a_change_back_the_same_day(
    around_today, tmp_path, django_capture_on_commit_callbacks
):
    import_customers(tmp_path, document(tariff="FLAT-18"), django_capture_on_commit_callbacks)
    entries = history(around_today)

    import_customers(tmp_path, document(tariff="FLAT-18"), django_capture_on_commit_callbacks)
    assert history(around_today) == entries
    assert not RollupDirtyRange.objects.exists()

    # Back to FLAT-10 the same day: today's entry goes, and so do today's new prices.
    import_customers(tmp_path, document(), django_capture_on_commit_callbacks)
    assert history(around_today) == [(None, "FLAT-10")]
    today = timezone.now().astimezone(NEW_YORK).date()
    assert costs_by_day(around_today, today, today + timedelta(days=1)) == {
        today.isoformat(): Decimal("9.60")
    }


def test_a_price_change_of_a_tariff_only_in_the_history_reprices_its_dates(
    two_days, tmp_path, django_capture_on_commit_callbacks
):
    doc = document(tariff="FLAT-18")
    e1(doc)["tariffHistory"] = [
        {"tariff": "FLAT-10", "from": None},
        {"tariff": "FLAT-18", "from": "2026-06-02"},
    ]
    import_customers(tmp_path, doc, django_capture_on_commit_callbacks)
    doc["tariffs"][0]["rates"][0]["price"] = "0.20"  # FLAT-10, no meter's tariff now

    import_customers(tmp_path, doc, django_capture_on_commit_callbacks)

    assert costs_by_day(two_days, date(2026, 6, 1), date(2026, 6, 3)) == {
        "2026-06-01": Decimal("19.20"),  # 96 kWh at FLAT-10's new 0.20
        "2026-06-02": Decimal("17.28"),  # 96 kWh at FLAT-18
    }


def test_a_time_zone_changed_by_the_cis_import_marks_the_whole_span_then_moves_the_days(
    two_days, tmp_path, django_capture_on_commit_callbacks
):
    doc = document()
    e1(doc)["timezone"] = "America/Los_Angeles"

    queued = import_customers(tmp_path, doc, django_capture_on_commit_callbacks, execute=False)

    assert_whole_span_dirty(two_days)

    for callback in queued:  # what the embedded default runs right after the commit
        callback()

    assert not RollupDirtyRange.objects.exists()
    assert_days_in_los_angeles(two_days)


def test_a_tariff_history_recorded_in_the_admin_reprices_from_its_date(
    two_days, root, django_capture_on_commit_callbacks
):
    client = root
    url = reverse("admin:customers_meter_change", args=[two_days.pk])
    data = admin_form_data(client, url)
    flat_10, flat_18 = two_days.tariff_id, two_days.utility.tariffs.get(code="FLAT-18").pk
    data.update(
        {
            "tariff": str(flat_18),
            "tariff_periods-TOTAL_FORMS": "2",
            "tariff_periods-0-tariff": str(flat_10),
            "tariff_periods-1-tariff": str(flat_18),
            "tariff_periods-1-valid_from": "2026-06-02",
        }
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)

    assert response.status_code == 302, response.content
    assert costs_by_day(two_days, date(2026, 6, 1), date(2026, 6, 3)) == {
        "2026-06-01": Decimal("9.60"),
        "2026-06-02": Decimal("17.28"),
    }


def test_a_meter_turned_bidirectional_has_its_whole_span_recomputed(
    two_days, tmp_path, django_capture_on_commit_callbacks
):
    """The rollups of a bidirectional meter total each direction apart."""
    doc = document()
    e1(doc)["bidirectional"] = True

    import_customers(tmp_path, doc, django_capture_on_commit_callbacks, execute=False)

    assert_whole_span_dirty(two_days)
