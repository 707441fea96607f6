"""GET /Usage/{meterId} (+ /summary, /export) through HTTP, on alice's 15-minute meter in New York
priced at a flat 0.15 USD/kWh."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import defusedxml.ElementTree as ET
import pytest
from django.core.management import call_command
from rest_framework.renderers import JSONRenderer

from tests.conftest import assert_problem, make_meter
from usage.models import Quality, Reading
from usage.rollups import rollups_rebuild

QUARTER = timedelta(minutes=15)
ESPI = "{http://naesb.org/espi}"


def load(meter, start: datetime, count: int, overrides: dict | None = None) -> None:
    """``count`` consecutive 15-minute readings from ``start``; ``overrides`` maps an index to
    (quantity, quality), or to None to leave a gap."""
    rows = []
    for index in range(count):
        spec = (overrides or {}).get(index, ("0.25", Quality.ACTUAL))
        if spec is None:
            continue
        rows.append(
            Reading(
                meter=meter,
                start=start + index * QUARTER,
                quantity=Decimal(spec[0]),
                quality=spec[1],
            )
        )
    Reading.objects.bulk_create(rows)
    rollups_rebuild(meter=meter)


@pytest.fixture
def meter(alice):
    return alice.accounts.get().meters.get()


@pytest.fixture
def march(meter):
    """2026-03-07 .. 2026-03-10 local, New York; 03-08 is the 23-hour spring-forward day."""
    start = datetime(2026, 3, 7, 5, tzinfo=UTC)  # local midnight, -05:00
    load(meter, start, 96 + 92 + 96)
    return meter


def usage(client, meter, **params):
    return client.get(f"/usage/v1/Usage/{meter.id}", params)


def test_days_follow_the_local_calendar_across_spring_forward(alice_api, march):
    response = usage(alice_api, march, granularity="DAY", start="2026-03-07", end="2026-03-10")

    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in ("meterId", "granularity", "unitOfMeasure", "currency")} == {
        "meterId": str(march.id),
        "granularity": "DAY",
        "unitOfMeasure": "kWh",
        "currency": "USD",
    }
    assert body["timezone"] == "America/New_York"
    assert "nextPageToken" not in body
    assert [(i["start"], i["end"], i["quantity"], i["cost"]) for i in body["items"]] == [
        ("2026-03-07T00:00:00-05:00", "2026-03-08T00:00:00-05:00", 24.0, "3.60"),
        ("2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", 23.0, "3.45"),
        ("2026-03-09T00:00:00-04:00", "2026-03-10T00:00:00-04:00", 24.0, "3.60"),
    ]
    assert all(item["coverage"] == 1.0 for item in body["items"])
    assert all(item["quality"] == "ACTUAL" for item in body["items"])
    assert body["items"][0]["peakDemand"] == 1.0  # 0.25 kWh in 15 minutes = 1 kW


def test_range_widens_to_whole_buckets(alice_api, march):
    response = usage(
        alice_api,
        march,
        granularity="DAY",
        start="2026-03-08T13:00:00-04:00",
        end="2026-03-08T14:00:00-04:00",
    )

    assert [item["quantity"] for item in response.json()["items"]] == [23.0]


def test_quarter_hours_come_from_readings_with_quality_and_gaps(alice_api, meter):
    start = datetime(2026, 6, 1, 4, tzinfo=UTC)  # local midnight, -04:00
    load(meter, start, 8, {1: None, 2: ("0.5", Quality.ESTIMATED)})

    response = usage(
        alice_api, meter, granularity="FIFTEEN_MINUTE", start="2026-06-01", end="2026-06-02"
    )

    items = response.json()["items"]
    assert len(items) == 7  # the gap is omitted
    assert items[0]["start"] == "2026-06-01T00:00:00-04:00"
    assert items[0]["end"] == "2026-06-01T00:15:00-04:00"
    assert items[1]["quality"] == "ESTIMATED"
    assert items[1]["cost"] == "0.08"  # 0.5 kWh x 0.15 = 0.075, rounded half up


def test_hours_report_mixed_quality_and_partial_coverage(alice_api, meter):
    start = datetime(2026, 6, 1, 4, tzinfo=UTC)
    load(meter, start, 8, {1: None, 2: ("0.5", Quality.ESTIMATED)})

    items = usage(
        alice_api, meter, granularity="HOUR", start="2026-06-01", end="2026-06-02"
    ).json()["items"]

    assert [(i["quantity"], i["quality"], i["coverage"]) for i in items] == [
        (1.0, "MIXED", 0.75),
        (1.0, "ACTUAL", 1.0),
    ]
    assert items[0]["peakDemand"] == 2.0


def test_hour_reads_come_from_rollups_in_two_queries(alice_api, march, django_assert_num_queries):
    # 1: the meter (with its account's billing cycle day and its rollup revision); 2: the page
    # of HOUR rollups. Never the readings table, and none for the customer behind the access
    # token (a cached principal).
    def read():
        return usage(alice_api, march, granularity="HOUR", start="2026-03-07", end="2026-03-10")

    with django_assert_num_queries(2) as captured:
        response = read()
    assert response.status_code == 200
    assert len(response.json()["items"]) == 50
    assert not any("usage_reading" in query["sql"] for query in captured.captured_queries)
    # Again: the page is rendered already; the meter lookup is all that is read.
    with django_assert_num_queries(1):
        assert read().content == response.content


def test_walking_pages_yields_every_bucket_once(alice_api, march):
    seen, token = [], None
    while True:
        params = {"granularity": "HOUR", "start": "2026-03-07", "end": "2026-03-10", "pageSize": 7}
        if token:
            params["pageToken"] = token
        body = usage(alice_api, march, **params).json()
        seen.extend(item["start"] for item in body["items"])
        token = body.get("nextPageToken")
        if not token:
            break

    assert len(seen) == len(set(seen)) == 24 + 23 + 24


def test_page_token_is_bound_to_the_query(alice_api, march):
    first = usage(
        alice_api, march, granularity="HOUR", start="2026-03-07", end="2026-03-10", pageSize=5
    ).json()

    reused = usage(
        alice_api,
        march,
        granularity="DAY",
        start="2026-03-07",
        end="2026-03-10",
        pageToken=first["nextPageToken"],
    )

    assert_problem(reused, 400, "validation-error")


def test_someone_elses_meter_is_not_found(bob_api, march):
    assert_problem(
        usage(bob_api, march, granularity="DAY", start="2026-03-07", end="2026-03-10"),
        404,
        "not-found",
    )
    assert_problem(bob_api.get(f"/usage/v1/Usage/{march.id}/summary"), 404, "not-found")
    assert_problem(bob_api.get("/usage/v1/Usage/not-a-uuid"), 404, "not-found")


@pytest.mark.parametrize(
    ("params", "field", "slug"),
    [
        ({"start": "2026-03-07", "end": "2026-03-08"}, "granularity", "validation-error"),
        (
            {"granularity": "YEAR", "start": "2026-03-07", "end": "2026-03-08"},
            "granularity",
            "validation-error",
        ),
        (
            {"granularity": "DAY", "start": "2026-03-08", "end": "2026-03-07"},
            "end",
            "validation-error",
        ),
        (
            {"granularity": "DAY", "start": "2026-03-07T00:00:00", "end": "2026-03-08"},
            "start",
            "validation-error",
        ),
        (
            {"granularity": "DAY", "start": "yesterday", "end": "2026-03-08"},
            "start",
            "validation-error",
        ),
        (
            {"granularity": "DAY", "start": "2026-02-30", "end": "2026-03-08"},
            "start",
            "validation-error",
        ),
        ({"granularity": "DAY", "end": "2026-03-08"}, "start", "validation-error"),
        (
            {"granularity": "FIFTEEN_MINUTE", "start": "2026-01-01", "end": "2026-02-02"},
            "end",
            "range-too-large",
        ),
        (
            {"granularity": "HOUR", "start": "2026-01-01", "end": "2026-04-04"},
            "end",
            "range-too-large",
        ),
    ],
)
def test_bad_queries_are_problems_naming_the_parameter(alice_api, meter, params, field, slug):
    body = assert_problem(usage(alice_api, meter, **params), 400, slug)

    assert field in {error["field"] for error in body["errors"]}


def test_granularity_finer_than_the_meter_is_refused(alice_api, meter):
    meter.interval_seconds = 3600
    meter.save()

    body = assert_problem(
        usage(alice_api, meter, granularity="FIFTEEN_MINUTE", start="2026-03-07", end="2026-03-08"),
        400,
        "validation-error",
    )
    assert body["errors"][0]["field"] == "granularity"


def test_summary_compares_with_the_days_before(alice_api, meter):
    load(meter, datetime(2026, 6, 1, 4, tzinfo=UTC), 96 * 4, {200: ("3.0", Quality.ACTUAL)})

    response = alice_api.get(
        f"/usage/v1/Usage/{meter.id}/summary", {"start": "2026-06-03", "end": "2026-06-05"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["current"] == {
        "quantity": 48.0 + 2.75,
        "cost": "7.61",
        "start": "2026-06-03T00:00:00-04:00",
        "end": "2026-06-05T00:00:00-04:00",
    }
    assert body["previous"]["quantity"] == 48.0
    assert body["yearAgo"] is None
    assert body["changePercent"] == 5.7
    assert body["averageDailyQuantity"] == 25.375
    assert body["peakInterval"] == {"start": "2026-06-03T02:00:00-04:00", "quantity": 3.0}


def test_csv_export_has_one_row_per_interval(alice_api, march):
    response = alice_api.get(
        f"/usage/v1/Usage/{march.id}/export",
        {"format": "csv", "start": "2026-03-08", "end": "2026-03-09"},
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "start",
        "end",
        "quantity",
        "unitOfMeasure",
        "cost",
        "currency",
        "quality",
        "direction",
    ]
    assert len(rows) == 1 + 92
    assert rows[1] == [
        "2026-03-08T00:00:00-05:00",
        "2026-03-08T00:15:00-05:00",
        "0.25",
        "kWh",
        "0.04",
        "USD",
        "ACTUAL",
        "DELIVERED",
    ]


def test_espi_export_sums_to_the_readings(alice_api, march):
    response = alice_api.get(
        f"/usage/v1/Usage/{march.id}/export",
        {"format": "espi", "start": "2026-03-07", "end": "2026-03-10"},
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(b"".join(response.streaming_content))
    reading_type = feed.find(f".//{ESPI}ReadingType")
    power = int(reading_type.find(f"{ESPI}powerOfTenMultiplier").text)
    assert reading_type.find(f"{ESPI}uom").text == "72"  # Wh
    values = [int(v.text) for v in feed.iter(f"{ESPI}value")]
    assert len(values) == 96 + 92 + 96
    assert sum(Decimal(v) * Decimal(10) ** power for v in values) == Decimal(71_000)  # Wh
    costs = [int(c.text) for c in feed.iter(f"{ESPI}cost")]
    assert sum(costs) == 71 * 15 * 1000  # hundred-thousandths of USD


def test_export_range_is_bounded(alice_api, meter):
    response = alice_api.get(
        f"/usage/v1/Usage/{meter.id}/export",
        {"format": "csv", "start": "2025-01-01", "end": "2026-03-01"},
    )

    assert_problem(response, 400, "range-too-large")


def test_espi_export_reimports_exactly(alice_api, alice, march, tmp_path):
    """Download My Data, then load the file onto another meter: the same readings come back."""
    start = datetime(2026, 3, 8, 5, tzinfo=UTC)
    Reading.objects.filter(meter=march, start=start).update(
        quality=Quality.ESTIMATED, cost=Decimal("0.123450")
    )
    response = alice_api.get(
        f"/usage/v1/Usage/{march.id}/export",
        {"format": "espi", "start": "2026-03-07", "end": "2026-03-10"},
    )
    feed = tmp_path / "export.xml"
    feed.write_bytes(b"".join(response.streaming_content))
    copy = make_meter(march.account, "E-ALICE-COPY")

    call_command("import_readings", str(feed), "--format", "espi", "--meter", copy.meter_number)

    def readings(meter):
        return list(
            Reading.objects.filter(meter=meter)
            .order_by("start")
            .values_list("start", "quantity", "quality")
        )

    assert readings(copy) == readings(march)
    assert Reading.objects.get(meter=copy, start=start).cost == Decimal("0.12345")


def test_walking_quarter_hour_pages_yields_every_reading_once(alice_api, march):
    seen, token = [], None
    while True:
        params = {"granularity": "FIFTEEN_MINUTE", "start": "2026-03-08", "end": "2026-03-09"}
        body = usage(
            alice_api, march, pageSize=25, **({"pageToken": token} if token else {}), **params
        ).json()
        seen.extend(item["start"] for item in body["items"])
        token = body.get("nextPageToken")
        if not token:
            break

    assert len(seen) == len(set(seen)) == 92  # the 23-hour day
    assert seen[7:9] == ["2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00"]


def test_series_has_an_etag_and_answers_304_to_a_match(alice_api, march):
    url = f"/usage/v1/Usage/{march.id}?granularity=DAY&start=2026-03-07&end=2026-03-10"
    first = alice_api.get(url)
    etag = first["ETag"]

    again = alice_api.get(url, HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304
    assert again["ETag"] == etag
    assert again.content == b""
    assert alice_api.get(url, HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_series_etag_changes_when_the_meters_rollups_change(alice_api, march):
    url = f"/usage/v1/Usage/{march.id}?granularity=DAY&start=2026-03-07&end=2026-03-11"
    before = alice_api.get(url)

    load(march, datetime(2026, 3, 10, 4, tzinfo=UTC), 4)  # new readings, rollups caught up
    after = alice_api.get(url, HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert len(after.json()["items"]) == len(before.json()["items"]) + 1


def test_summary_has_an_etag_and_answers_304_to_a_match(alice_api, march):
    url = f"/usage/v1/Usage/{march.id}/summary?start=2026-03-07&end=2026-03-10"
    etag = alice_api.get(url)["ETag"]

    assert alice_api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


@pytest.mark.parametrize("granularity", ["FIFTEEN_MINUTE", "HOUR", "DAY", "MONTH"])
def test_series_bytes_are_what_drf_would_render(alice_api, march, granularity):
    """The series is serialised by orjson; its bytes equal DRF's JSONRenderer's for the data."""
    response = usage(
        alice_api, march, granularity=granularity, start="2026-03-07", end="2026-03-10"
    )

    assert response["Content-Type"] == "application/json"
    assert response.content == JSONRenderer().render(response.json())


def test_a_cached_page_is_never_served_after_its_rollups_change(alice_api, march):
    """Same number of rollups, new figures: the meter's rollup revision moves."""
    url = f"/usage/v1/Usage/{march.id}?granularity=DAY&start=2026-03-07&end=2026-03-10"
    assert alice_api.get(url).json()["items"][0]["quantity"] == 24.0
    day = datetime(2026, 3, 7, 5, tzinfo=UTC)
    Reading.objects.filter(meter=march, start__lt=day + timedelta(days=1)).update(quantity="0.5")
    rollups_rebuild(meter=march)

    items = alice_api.get(url).json()["items"]

    assert [item["quantity"] for item in items] == [48.0, 23.0, 24.0]


@pytest.mark.parametrize("granularity", ["FIFTEEN_MINUTE", "HOUR", "DAY"])
def test_a_range_without_readings_is_an_empty_page(alice_api, march, granularity):
    response = usage(
        alice_api, march, granularity=granularity, start="2025-03-07", end="2025-03-10"
    )

    assert response.status_code == 200
    assert response.json()["items"] == []
