"""GET /Usage/{meterId} and /summary by direction (contract section 10.1) and for billing-read
meters (section 10.2), through HTTP. Meters are alice's in New York at a flat 0.15 USD/kWh with
no export tariff, so a RECEIVED kWh earns 0.15 too (net metering)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from customers.models import Tariff, TariffPeriod, TariffRate
from tests.conftest import assert_problem, flat_tariff, make_meter
from usage.models import Direction, Quality, Reading
from usage.rollups import rollups_rebuild

from .conftest import greenbutton_file
from .test_import_espi import import_espi

QUARTER = timedelta(minutes=15)
D, R = Direction.DELIVERED, Direction.RECEIVED
ACTUAL, ESTIMATED = Quality.ACTUAL, Quality.ESTIMATED
GRANULARITIES = ["FIFTEEN_MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "BILLING_PERIOD"]


def quarters(meter, direction, start: datetime, quantities, quality=ACTUAL) -> None:
    """Consecutive 15-minute readings of ``direction`` from ``start``."""
    Reading.objects.bulk_create(
        Reading(
            meter=meter,
            direction=direction,
            start=start + index * QUARTER,
            quantity=Decimal(quantity),
            quality=quality,
        )
        for index, quantity in enumerate(quantities)
    )


def usage(client, meter, **params):
    return client.get(f"/usage/v1/Usage/{meter.id}", params)


def items(client, meter, **params) -> list[dict]:
    response = usage(client, meter, **params)
    assert response.status_code == 200, response.content
    return response.json()["items"]


def summary(client, meter, **params):
    response = client.get(f"/usage/v1/Usage/{meter.id}/summary", params)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def solar(new_meter):
    return new_meter(bidirectional=True, meter_number="E-SOLAR")


@pytest.fixture
def spring_forward(solar):
    """2026-03-08 in New York, the 23-hour day (92 quarter hours): 0.5 kWh delivered every
    quarter hour (46 kWh) and a RECEIVED reading every quarter hour, 0.75 kWh from 11:00 to
    15:00 local (16 of them: 12 kWh) and 0 otherwise."""
    midnight = datetime(2026, 3, 8, 5, tzinfo=UTC)
    quarters(solar, D, midnight, ["0.5"] * 92)
    # 11:00 EDT is 15:00 UTC: 40 quarter hours after midnight EST (the 02:00 hour is skipped).
    quarters(solar, R, midnight, ["0"] * 40 + ["0.75"] * 16 + ["0"] * 36)
    rollups_rebuild(meter=solar)
    return solar


def test_net_across_the_spring_forward_day(alice_api, spring_forward):
    day = {"start": "2026-03-08", "end": "2026-03-09"}

    net = items(alice_api, spring_forward, granularity="DAY", **day)

    assert net == [
        {
            "start": "2026-03-08T00:00:00-05:00",
            "end": "2026-03-09T00:00:00-04:00",
            "quantity": 34.0,
            "cost": "5.10",
            "quality": "ACTUAL",
            "coverage": 1.0,
            "peakDemand": 2.0,
            "delivered": 46.0,
            "received": 12.0,
        }
    ]
    hours = items(alice_api, spring_forward, granularity="HOUR", **day)
    assert len(hours) == 23
    assert sum(hour["quantity"] for hour in hours) == 34.0
    assert hours[11] == {
        "start": "2026-03-08T12:00:00-04:00",
        "end": "2026-03-08T13:00:00-04:00",
        "quantity": -1.0,
        "cost": "-0.15",
        "quality": "ACTUAL",
        "coverage": 1.0,
        "peakDemand": 2.0,
        "delivered": 2.0,
        "received": 3.0,
    }
    quarter_hours = items(
        alice_api, spring_forward, granularity="FIFTEEN_MINUTE", pageSize=100, **day
    )
    assert len(quarter_hours) == 92
    assert sum(Decimal(q["cost"]) for q in quarter_hours) == Decimal("5.44")  # each rounded
    assert quarter_hours[40] == {
        "start": "2026-03-08T11:00:00-04:00",
        "end": "2026-03-08T11:15:00-04:00",
        "quantity": -0.25,
        "cost": "-0.04",
        "quality": "ACTUAL",
        "coverage": 1.0,
        "peakDemand": 2.0,
        "delivered": 0.5,
        "received": 0.75,
    }
    totals = summary(alice_api, spring_forward, **day)
    assert totals["direction"] == "NET"
    assert totals["current"] == {
        "quantity": 34.0,
        "cost": "5.10",
        "start": "2026-03-08T00:00:00-05:00",
        "end": "2026-03-09T00:00:00-04:00",
    }
    assert totals["averageDailyQuantity"] == 34.0
    assert totals["peakInterval"] == {"start": "2026-03-08T00:00:00-05:00", "quantity": 0.5}


@pytest.mark.parametrize(
    ("direction", "quantity", "cost", "peak_demand", "peak_start"),
    [
        ("DELIVERED", 46.0, "6.90", 2.0, "2026-03-08T00:00:00-05:00"),
        ("RECEIVED", 12.0, "1.80", 3.0, "2026-03-08T11:00:00-04:00"),
        ("NET", 34.0, "5.10", 2.0, "2026-03-08T00:00:00-05:00"),
    ],
)
def test_each_direction_of_a_bidirectional_meter(
    alice_api, spring_forward, direction, quantity, cost, peak_demand, peak_start
):
    day = {"start": "2026-03-08", "end": "2026-03-09", "direction": direction}

    response = usage(alice_api, spring_forward, granularity="DAY", **day)

    assert response.json()["direction"] == direction
    [item] = response.json()["items"]
    assert (item["quantity"], item["cost"], item["peakDemand"]) == (quantity, cost, peak_demand)
    assert (item["delivered"], item["received"]) == (46.0, 12.0)  # whatever the direction
    totals = summary(alice_api, spring_forward, **day)
    assert (totals["current"]["quantity"], totals["current"]["cost"]) == (quantity, cost)
    assert totals["peakInterval"]["start"] == peak_start


@pytest.fixture
def exporting_day(solar):
    """A bidirectional meter with nothing but four RECEIVED quarter hours of 1 kWh, 12:00 to
    13:00 local on 2026-06-10 (-04:00)."""
    quarters(solar, R, datetime(2026, 6, 10, 16, tzinfo=UTC), ["1"] * 4)
    rollups_rebuild(meter=solar)
    return solar


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_a_received_only_bucket_is_negative_net_at_every_granularity(
    alice_api, exporting_day, granularity
):
    june = {"granularity": granularity, "start": "2026-06-01", "end": "2026-07-01"}

    net = items(alice_api, exporting_day, **june)
    received = items(alice_api, exporting_day, direction="RECEIVED", **june)
    delivered = items(alice_api, exporting_day, direction="DELIVERED", **june)

    # One bucket of 4 kWh worth 0.60, or four quarter hours of 1 kWh worth 0.15.
    count, quantity, credit = (
        (4, 1.0, "0.15") if granularity == "FIFTEEN_MINUTE" else (1, 4.0, "0.60")
    )
    assert [(i["quantity"], i["cost"]) for i in net] == [(-quantity, f"-{credit}")] * count
    assert [(i["quantity"], i["cost"]) for i in received] == [(quantity, credit)] * count
    assert delivered == []  # the delivered channel has no reading in it
    # NET coverage is the lower channel's (no delivered reading: 0); its peak is delivered's.
    assert {(i["coverage"], i["quality"], i["peakDemand"]) for i in net} == {(0.0, "ACTUAL", None)}
    assert {(i["delivered"], i["received"]) for i in net} == {(0.0, quantity)}
    if granularity in ("FIFTEEN_MINUTE", "HOUR"):
        assert received[0]["coverage"] == 1.0
        assert received[0]["peakDemand"] == 4.0


def test_a_received_only_day_in_the_summary(alice_api, exporting_day):
    june = {"start": "2026-06-10", "end": "2026-06-11"}

    net = summary(alice_api, exporting_day, **june)
    delivered = summary(alice_api, exporting_day, direction="DELIVERED", **june)

    assert (net["current"]["quantity"], net["current"]["cost"]) == (-4.0, "-0.60")
    assert net["averageDailyQuantity"] == -4.0
    assert net["peakInterval"] is None  # no delivered reading
    assert (delivered["current"]["quantity"], delivered["current"]["cost"]) == (0.0, "0.00")
    assert delivered["previous"] is None


@pytest.fixture
def plain(new_meter):
    meter = new_meter(meter_number="E-PLAIN")
    quarters(meter, D, datetime(2026, 6, 10, 4, tzinfo=UTC), ["0.25"] * 96)
    rollups_rebuild(meter=meter)
    return meter


@pytest.mark.parametrize("granularity", ["FIFTEEN_MINUTE", "HOUR", "DAY"])
def test_net_is_delivered_and_received_is_empty_on_a_plain_meter(alice_api, plain, granularity):
    day = {"granularity": granularity, "start": "2026-06-10", "end": "2026-06-11", "pageSize": 100}

    net = items(alice_api, plain, **day)

    assert net == items(alice_api, plain, direction="DELIVERED", **day)
    assert sum(item["quantity"] for item in net) == 24.0
    assert all("delivered" not in item and "received" not in item for item in net)
    assert items(alice_api, plain, direction="RECEIVED", **day) == []
    received = summary(alice_api, plain, direction="RECEIVED", start="2026-06-10", end="2026-06-11")
    assert received["current"]["quantity"] == 0.0
    assert received["peakInterval"] is None


@pytest.fixture
def mixed_hours(solar):
    """Three hours from 2026-06-10 00:00 local: (1) 4 actual delivered, 2 estimated received;
    (2) 4 estimated of each; (3) 4 actual of each, received 2 kWh each quarter hour."""
    midnight = datetime(2026, 6, 10, 4, tzinfo=UTC)
    quarters(solar, D, midnight, ["0.5", "1", "0.5", "0.5"])
    quarters(solar, R, midnight, ["0.25"] * 2, ESTIMATED)
    hour = timedelta(hours=1)
    quarters(solar, D, midnight + hour, ["0.5"] * 4, ESTIMATED)
    quarters(solar, R, midnight + hour, ["0.25"] * 4, ESTIMATED)
    quarters(solar, D, midnight + 2 * hour, ["0.5"] * 4)
    quarters(solar, R, midnight + 2 * hour, ["2"] * 4)
    rollups_rebuild(meter=solar)
    return solar


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        # (quality, coverage, peakDemand) of each hour
        ("NET", [("MIXED", 0.5, 4.0), ("ESTIMATED", 1.0, 2.0), ("ACTUAL", 1.0, 2.0)]),
        ("DELIVERED", [("ACTUAL", 1.0, 4.0), ("ESTIMATED", 1.0, 2.0), ("ACTUAL", 1.0, 2.0)]),
        ("RECEIVED", [("ESTIMATED", 0.5, 1.0), ("ESTIMATED", 1.0, 1.0), ("ACTUAL", 1.0, 8.0)]),
    ],
)
def test_coverage_quality_and_peak_by_direction(alice_api, mixed_hours, direction, expected):
    hours = items(
        alice_api,
        mixed_hours,
        granularity="HOUR",
        start="2026-06-10",
        end="2026-06-11",
        direction=direction,
    )

    assert [(h["quality"], h["coverage"], h["peakDemand"]) for h in hours] == expected
    # The quarter hours of the first hour: the last two have no RECEIVED reading.
    first_hour = items(
        alice_api,
        mixed_hours,
        granularity="FIFTEEN_MINUTE",
        start="2026-06-10T00:00:00-04:00",
        end="2026-06-10T01:00:00-04:00",
        direction=direction,
    )
    coverages = [q["coverage"] for q in first_hour]
    assert coverages == {"NET": [1.0, 1.0, 0.0, 0.0], "DELIVERED": [1.0] * 4}.get(
        direction, [1.0, 1.0]
    )


def test_net_quantities_are_delivered_minus_received(alice_api, mixed_hours):
    hours = items(alice_api, mixed_hours, granularity="HOUR", start="2026-06-10", end="2026-06-11")

    assert [(h["quantity"], h["cost"], h["delivered"], h["received"]) for h in hours] == [
        (2.0, "0.30", 2.5, 0.5),
        (1.0, "0.15", 2.0, 1.0),
        (-6.0, "-0.90", 2.0, 8.0),
    ]


@pytest.mark.parametrize("granularity", ["FIFTEEN_MINUTE", "HOUR"])
def test_walking_received_pages_skips_delivered_only_buckets(alice_api, solar, granularity):
    """Buckets with no RECEIVED reading are left out without breaking the pages."""
    midnight = datetime(2026, 6, 10, 4, tzinfo=UTC)
    quarters(solar, D, midnight, ["0.5"] * 96)
    noon = midnight + timedelta(hours=12)
    quarters(solar, R, noon, ["1"] * 8)
    quarters(solar, R, noon + timedelta(hours=6), ["1"] * 8)
    rollups_rebuild(meter=solar)
    seen, token = [], None
    while True:
        params = {"granularity": granularity, "start": "2026-06-10", "end": "2026-06-11"}
        body = usage(
            alice_api,
            solar,
            direction="RECEIVED",
            pageSize=3,
            **params,
            **({"pageToken": token} if token else {}),
        ).json()
        seen.extend(item["start"] for item in body["items"])
        token = body.get("nextPageToken")
        if not token:
            break

    assert len(seen) == len(set(seen)) == (16 if granularity == "FIFTEEN_MINUTE" else 4)
    assert seen[0] == "2026-06-10T12:00:00-04:00"


@pytest.mark.parametrize("direction", ["", "net", "NETT", "BOTH"])
@pytest.mark.parametrize("path", ["", "/summary"])
def test_a_bad_direction_is_a_validation_error(alice_api, plain, direction, path):
    response = alice_api.get(
        f"/usage/v1/Usage/{plain.id}{path}",
        {"granularity": "DAY", "start": "2026-06-10", "end": "2026-06-11", "direction": direction},
    )

    body = assert_problem(response, 400, "validation-error")
    assert [error["field"] for error in body["errors"]] == ["direction"]


@pytest.mark.parametrize("granularity", ["FIFTEEN_MINUTE", "DAY"])
@pytest.mark.parametrize(
    ("meter", "day"), [("spring_forward", "2026-03-08"), ("plain", "2026-06-10")]
)
def test_each_direction_has_its_own_etag(alice_api, request, meter, day, granularity):
    meter = request.getfixturevalue(meter)
    url = (
        f"/usage/v1/Usage/{meter.id}?granularity={granularity}&start={day}"
        f"&end={day}T23:00:00Z&pageSize=1000"
    )
    tags = {}
    for direction in ("NET", "DELIVERED", "RECEIVED"):
        response = alice_api.get(f"{url}&direction={direction}")
        assert response.status_code == 200
        tags[direction] = response["ETag"]
        # a page cached for another direction is never served for this one
        assert response.json()["direction"] == direction
    assert len(set(tags.values())) == 3
    assert alice_api.get(url, HTTP_IF_NONE_MATCH=tags["NET"]).status_code == 304  # the default
    delivered = alice_api.get(f"{url}&direction=DELIVERED", HTTP_IF_NONE_MATCH=tags["NET"])
    assert delivered.status_code == 200
    summary_url = f"/usage/v1/Usage/{meter.id}/summary?start={day}&end={day}T23:00:00Z"
    summary_tags = {alice_api.get(f"{summary_url}&direction={d}")["ETag"] for d in tags}
    assert len(summary_tags) == 3


@pytest.fixture
def gas(new_gas_meter):
    """A billing-read gas meter with three read periods from local midnights in New York:
    2026-01-03 (30 days, 60 therm), 2026-02-02 (31 days, 50 therm, estimated) and
    2026-03-05 (29 days, 40 therm)."""
    meter = new_gas_meter("G-MONTHLY")
    periods = [
        (datetime(2026, 1, 3, 5, tzinfo=UTC), datetime(2026, 2, 2, 5, tzinfo=UTC), "60", ACTUAL),
        (datetime(2026, 2, 2, 5, tzinfo=UTC), datetime(2026, 3, 5, 5, tzinfo=UTC), "50", ESTIMATED),
        (datetime(2026, 3, 5, 5, tzinfo=UTC), datetime(2026, 4, 3, 4, tzinfo=UTC), "40", ACTUAL),
    ]
    Reading.objects.bulk_create(
        Reading(meter=meter, start=start, end=end, quantity=Decimal(quantity), quality=quality)
        for start, end, quantity, quality in periods
    )
    rollups_rebuild(meter=meter)
    return meter


def test_a_billing_read_meter_lists_its_read_periods_starting_in_the_range(alice_api, gas):
    body = usage(
        alice_api, gas, granularity="BILLING_PERIOD", start="2026-01-10", end="2026-03-06"
    ).json()

    assert body["items"] == [
        {
            "start": "2026-02-02T00:00:00-05:00",
            "end": "2026-03-05T00:00:00-05:00",
            "quantity": 50.0,
            "cost": "7.50",
            "quality": "ESTIMATED",
            "coverage": 1.0,
            "peakDemand": None,
        },
        {
            "start": "2026-03-05T00:00:00-05:00",
            "end": "2026-04-03T00:00:00-04:00",
            "quantity": 40.0,
            "cost": "6.00",
            "quality": "ACTUAL",
            "coverage": 1.0,
            "peakDemand": None,
        },
    ]
    assert body["unitOfMeasure"] == "therm"
    received = usage(
        alice_api,
        gas,
        granularity="BILLING_PERIOD",
        start="2026-01-01",
        end="2026-12-31",
        direction="RECEIVED",
    )
    assert received.json()["items"] == []


def test_a_billing_read_meter_pages_through_its_read_periods(alice_api, gas):
    params = {"granularity": "BILLING_PERIOD", "start": "2026-01-01", "end": "2026-12-31"}
    first = usage(alice_api, gas, pageSize=2, **params).json()
    second = usage(alice_api, gas, pageSize=2, pageToken=first["nextPageToken"], **params).json()

    assert [item["quantity"] for item in first["items"] + second["items"]] == [60.0, 50.0, 40.0]
    assert "nextPageToken" not in second


@pytest.mark.parametrize("granularity", ["FIFTEEN_MINUTE", "HOUR", "DAY", "WEEK", "MONTH"])
def test_a_billing_read_meter_refuses_other_granularities(alice_api, gas, granularity):
    response = usage(alice_api, gas, granularity=granularity, start="2026-01-01", end="2026-02-01")

    body = assert_problem(response, 400, "validation-error")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("granularity", "finer_than_meter")
    ]


def test_a_billing_read_meters_summary_counts_the_read_periods_starting_in_each_range(
    alice_api, gas
):
    body = summary(alice_api, gas, start="2026-02-01", end="2026-04-01")

    assert body["current"] == {
        "quantity": 90.0,
        "cost": "13.50",
        "start": "2026-02-01T00:00:00-05:00",
        "end": "2026-04-01T00:00:00-04:00",
    }
    # The 59 days before, 2025-12-04 to 2026-02-01: the read period starting on 2026-01-03.
    assert (body["previous"]["quantity"], body["previous"]["start"]) == (
        60.0,
        "2025-12-04T00:00:00-05:00",
    )
    assert body["yearAgo"] is None
    assert body["changePercent"] == 50.0
    assert body["averageDailyQuantity"] == round(90 / 59, 3)
    assert body["peakInterval"] is None


def test_the_schema_documents_direction_and_the_new_item_fields(db):
    schema = json.loads(APIClient().get("/usage/v1/schema", {"format": "json"}).content)
    series = schema["paths"]["/usage/v1/Usage/{meterId}"]["get"]
    totals = schema["paths"]["/usage/v1/Usage/{meterId}/summary"]["get"]

    for operation in (series, totals):
        [direction] = [p for p in operation["parameters"] if p["name"] == "direction"]
        assert set(direction["schema"]["enum"]) == {"NET", "DELIVERED", "RECEIVED"}
        assert direction["schema"]["default"] == "NET"
        assert not direction.get("required", False)
    item = schema["components"]["schemas"]["UsageItem"]
    assert {"delivered", "received"} <= set(item["properties"])
    assert {"delivered", "received"}.isdisjoint(item["required"])


def test_opowers_gas_feed_reads_back_per_read_period_with_the_files_totals(alice_api, new_meter):
    """gas_direct.xml: five read periods of 27-35 days, 140 therm for 206.24 USD in all."""
    meter = new_meter(
        meter_number="GAS-GB",
        service_type="GAS",
        unit_of_measure="therm",
        read_resolution="BILLING",
        interval_seconds=None,
    )
    import_espi(greenbutton_file("gas_direct.xml"), meter.meter_number)
    rollups_rebuild(meter=meter)

    periods = items(
        alice_api, meter, granularity="BILLING_PERIOD", start="2021-05-01", end="2021-11-01"
    )
    totals = summary(alice_api, meter, start="2021-05-25", end="2021-10-27")

    assert [(p["quantity"], p["cost"]) for p in periods] == [
        (37.0, "51.00"),
        (14.0, "24.93"),
        (21.0, "32.81"),
        (27.0, "42.07"),
        (41.0, "55.43"),
    ]
    assert (periods[0]["start"], periods[0]["end"]) == (
        "2021-05-25T20:00:00-04:00",  # 2021-05-26T00:00Z, for 35 days
        "2021-06-29T20:00:00-04:00",
    )
    assert {(p["coverage"], p["peakDemand"]) for p in periods} == {(1.0, None)}
    assert (totals["current"]["quantity"], totals["current"]["cost"]) == (140.0, "206.24")


def one_price_tariff(utility, code: str, price: str) -> Tariff:
    tariff = Tariff.objects.create(utility=utility, code=code, name=code, currency="USD")
    TariffRate.objects.create(
        tariff=tariff, position=0, price=price, weekdays=127, from_hour=0, to_hour=24
    )
    return tariff


@pytest.fixture
def repriced_solar(acme, new_meter):
    """A bidirectional meter whose import tariff went from 0.15 to 0.30 on 2026-06-15 (local)
    and whose export tariff pays 0.10; billing periods from the 12th. 2026-06-10 to 06-20
    local: 0.2 kWh delivered every quarter hour (0.03 or 0.06 USD), 0.4 kWh received every
    quarter hour from 10:00 to 16:00 (0.04 USD credit), so every quarter hour's cost is whole
    cents and no rounding hides a difference."""
    flat = flat_tariff(acme)
    dearer = one_price_tariff(acme, "DEARER", "0.30")
    meter = new_meter(
        meter_number="E-REPRICED",
        bidirectional=True,
        tariff=dearer,
        export_tariff=one_price_tariff(acme, "EXPORT", "0.10"),
        billing_cycle_day=12,
    )
    TariffPeriod.objects.create(meter=meter, tariff=flat, valid_from=None)
    TariffPeriod.objects.create(meter=meter, tariff=dearer, valid_from=date(2026, 6, 15))
    for day in range(10):
        midnight = datetime(2026, 6, 10, 4, tzinfo=UTC) + timedelta(days=day)
        quarters(meter, D, midnight, ["0.2"] * 96)
        quarters(meter, R, midnight + timedelta(hours=10), ["0.4"] * 24)
    rollups_rebuild(meter=meter)
    return meter


@pytest.mark.parametrize(
    ("direction", "quantity", "cost"),
    [
        ("DELIVERED", 192.0, "43.20"),  # 5 days at 0.15 (14.40) and 5 at 0.30 (28.80)
        ("RECEIVED", 96.0, "9.60"),  # credited at the export tariff
        ("NET", 96.0, "33.60"),
    ],
)
def test_every_granularity_and_the_summary_agree_with_the_quarter_hours(
    alice_api, repriced_solar, direction, quantity, cost
):
    june = {"start": "2026-06-01", "end": "2026-07-01", "direction": direction}
    totals = {}
    for granularity in GRANULARITIES:
        series = items(alice_api, repriced_solar, granularity=granularity, pageSize=1000, **june)
        totals[granularity] = (
            round(sum(Decimal(str(item["quantity"])) for item in series), 3),
            sum(Decimal(item["cost"]) for item in series),
        )
    current = summary(alice_api, repriced_solar, **june)["current"]

    assert set(totals.values()) == {(Decimal(str(quantity)), Decimal(cost))}
    assert (current["quantity"], current["cost"]) == (quantity, cost)


def test_an_espi_export_imports_back_into_the_same_series_in_every_direction(
    alice_api, spring_forward, tmp_path
):
    """Download My Data of a bidirectional meter, loaded onto another: the same series."""
    day = {"start": "2026-03-08", "end": "2026-03-09"}
    feed = alice_api.get(f"/usage/v1/Usage/{spring_forward.id}/export", {"format": "espi", **day})
    path = tmp_path / "solar.xml"
    path.write_bytes(b"".join(feed.streaming_content))
    copy = make_meter(spring_forward.account, "E-SOLAR-COPY", bidirectional=True)
    import_espi(path, copy.meter_number)
    rollups_rebuild(meter=copy)

    for direction in ("NET", "DELIVERED", "RECEIVED"):
        for granularity in ("FIFTEEN_MINUTE", "HOUR", "DAY"):
            query = {"granularity": granularity, "direction": direction, "pageSize": 100, **day}
            original = items(alice_api, spring_forward, **query)
            assert original
            assert items(alice_api, copy, **query) == original, (direction, granularity)
