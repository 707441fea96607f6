"""Green Button Connect My Data for espi tokens: the subscription feeds are the export's
writer, so the batch feed of a granted meter equals its Download My Data export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from defusedxml import ElementTree

from tests.conftest import assert_problem, client_for, make_account, make_meter
from tests.partners.conftest import authorize, partner_client
from tests.usage.conftest import write_readings

ATOM = "{http://www.w3.org/2005/Atom}"
ESPI = "{http://naesb.org/espi}"
START = datetime(2026, 3, 7, 5, tzinfo=UTC)  # local midnight in New York, across spring-forward
END = START + timedelta(days=3)


@pytest.fixture
def readings(alice):
    meter = alice.accounts.get().meters.get()
    write_readings(
        meter,
        [
            (START + i * timedelta(minutes=15), Decimal("0.25") + i % 7, None, "ACTUAL")
            for i in range(3 * 96 - 4)
        ],
    )
    return meter


@pytest.fixture
def other_meter(alice):
    """A meter of Alice's on a second account, which the grant leaves out."""
    return make_meter(make_account(alice, "777000222"), "E-ALICE-9")


@pytest.fixture
def espi_grant(alice, solarco, readings, other_meter):
    account = readings.account
    return authorize(client_for(alice), solarco, scope="espi", accountIds=[str(account.pk)])


def blocks(feed: bytes) -> dict[str, list]:
    """Per UsagePoint (by meter id): its ReadingType and every IntervalReading, parsed."""
    root = ElementTree.fromstring(feed)
    by_meter: dict[str, list] = {}
    for entry in root.findall(f"{ATOM}entry"):
        href = entry.find(f"{ATOM}link[@rel='self']").get("href")
        content = entry.find(f"{ATOM}content")[0]
        if content.tag == f"{ESPI}IntervalBlock":
            meter_id = href.split("/UsagePoint/")[1].split("/")[0]
            by_meter.setdefault(meter_id, []).extend(
                tuple(child.findtext(f".//{ESPI}{name}") for name in ("start", "value", "cost"))
                for child in content.findall(f"{ESPI}IntervalReading")
            )
        elif content.tag == f"{ESPI}ReadingType":
            by_meter.setdefault(href.rsplit("/", 1)[1], []).append(ElementTree.tostring(content))
    return by_meter


def test_the_batch_feed_of_a_granted_meter_equals_its_export(alice, espi_grant, readings):
    partner = partner_client(espi_grant["access_token"])
    grant = espi_grant["grant_id"]

    feed = partner.get(
        f"/espi/1_1/resource/Batch/Subscription/{grant}",
        {"published-min": START.isoformat(), "published-max": END.isoformat()},
        HTTP_ACCEPT="application/atom+xml",
    )
    export = client_for(alice).get(
        f"/usage/v1/Usage/{readings.pk}/export",
        {"format": "espi", "start": START.isoformat(), "end": END.isoformat()},
    )

    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("application/atom+xml")
    batch = blocks(b"".join(feed.streaming_content))
    exported = blocks(b"".join(export.streaming_content))
    assert list(batch) == [str(readings.pk)]  # the ungranted meter is not in it
    assert len(batch[str(readings.pk)]) == 3 * 96 - 4 + 1  # readings + the ReadingType
    assert batch == exported


def test_published_range_bounds_the_readings(espi_grant, readings):
    partner = partner_client(espi_grant["access_token"])

    feed = partner.get(
        f"/espi/1_1/resource/Batch/Subscription/{espi_grant['grant_id']}",
        {
            "published-min": START.isoformat(),
            "published-max": (START + timedelta(hours=1)).isoformat(),
        },
    )

    parsed = blocks(b"".join(feed.streaming_content))[str(readings.pk)]
    starts = [item[0] for item in parsed if isinstance(item, tuple)]
    assert starts == [str(int((START + i * timedelta(minutes=15)).timestamp())) for i in range(4)]


def test_usage_points_list_and_one_usage_point(espi_grant, readings, other_meter):
    partner = partner_client(espi_grant["access_token"])
    base = f"/espi/1_1/resource/Subscription/{espi_grant['grant_id']}/UsagePoint"

    listed = ElementTree.fromstring(b"".join(partner.get(base).streaming_content))
    one = partner.get(
        f"{base}/{readings.pk}",
        {"published-min": START.isoformat(), "published-max": END.isoformat()},
    )

    hrefs = [e.find(f"{ATOM}link[@rel='self']").get("href") for e in listed.findall(f"{ATOM}entry")]
    assert hrefs == [f"{base}/{readings.pk}"]
    assert one.status_code == 200
    assert list(blocks(b"".join(one.streaming_content))) == [str(readings.pk)]
    assert_problem(partner.get(f"{base}/{other_meter.pk}"), 404, "not-found")


def test_another_subscription_is_404(espi_grant, alice, solarco):
    other = authorize(client_for(alice), solarco, scope="espi")
    partner = partner_client(espi_grant["access_token"])

    response = partner.get(f"/espi/1_1/resource/Batch/Subscription/{other['grant_id']}")

    assert_problem(response, 404, "not-found")


def test_a_token_without_espi_is_403_and_no_token_401(alice, solarco, readings):
    tokens = authorize(client_for(alice), solarco, scope="usage:read")
    path = f"/espi/1_1/resource/Batch/Subscription/{tokens['grant_id']}"

    refused = partner_client(tokens["access_token"]).get(path)

    assert_problem(refused, 403, "insufficient-scope")
    assert 'scope="espi"' in refused["WWW-Authenticate"]
    assert_problem(client_for(alice).get(path), 403, "insufficient-scope")
    assert_problem(partner_client("egp_at_forged").get(path), 401, "invalid-token")


def test_a_range_over_a_year_is_refused(espi_grant):
    response = partner_client(espi_grant["access_token"]).get(
        f"/espi/1_1/resource/Batch/Subscription/{espi_grant['grant_id']}",
        {"published-min": "2024-01-01T00:00:00Z", "published-max": "2026-01-01T00:00:00Z"},
    )

    assert_problem(response, 400, "range-too-large")
