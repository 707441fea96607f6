"""DAY pages served from the items stored with the rollups (``usage.models.RenderedDay``): the
same bytes as rendering the rollups on the read, kept in step with every rollup write, and
never served when what they were rendered under has changed. Through HTTP, the page cache
off so each read renders."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from usage.models import Direction, Quality, Reading, RenderedDay, Rollup, RollupRevision
from usage.rollups import rollups_rebuild, rollups_refresh

QUARTER = timedelta(minutes=15)
#: Local midnight in New York on 2026-03-01; the range holds the 23-hour day of 2026-03-08.
MARCH = datetime(2026, 3, 1, 5, tzinfo=UTC)
DAYS = {"granularity": "DAY", "start": "2026-03-01", "end": "2026-03-15"}


@pytest.fixture(autouse=True)
def _render_every_read(settings):
    settings.USAGE_PAGE_CACHE_BYTES = 0


def quarters(meter, direction: Direction, start: datetime, count: int, quality=Quality.ACTUAL):
    """``count`` readings of ``direction`` from ``start``, each 0.1 kWh more than the last
    modulo 1.7 (so days differ, costs need rounding and peaks move)."""
    Reading.objects.bulk_create(
        Reading(
            meter=meter,
            direction=direction,
            start=start + index * QUARTER,
            quantity=Decimal(index % 17) / 10 + Decimal("0.0005"),
            quality=quality,
        )
        for index in range(count)
    )


def pages(client, meter, **params) -> list[bytes]:
    """Every page of a Usage read, following the page tokens; each body's bytes without its
    token's value (a token records when it was issued)."""
    bodies, query = [], {**DAYS, "pageSize": 4, **params}
    while True:
        response = client.get(f"/usage/v1/Usage/{meter.id}", query)
        assert response.status_code == 200, response.content
        bodies.append(re.sub(rb'"nextPageToken":"[^"]+"', b'"nextPageToken":""', response.content))
        token = response.json().get("nextPageToken")
        if token is None:
            return bodies
        query = {**query, "pageToken": token}


def rendered_on_read(meter) -> None:
    """Makes the stored items unusable, so reads render from the rollups."""
    RollupRevision.objects.filter(meter=meter).update(items_basis="stale")


@pytest.fixture
def home(new_meter, either_path):
    """Two weeks of 15-minute readings in New York across the spring-forward day, with an
    estimated stretch (an ESTIMATED and a MIXED day) and a gap of a day."""
    meter = new_meter()
    day = timedelta(days=1)
    quarters(meter, Direction.DELIVERED, MARCH, 96 * 5)
    quarters(meter, Direction.DELIVERED, MARCH + 5 * day, 96 + 48, Quality.ESTIMATED)
    quarters(meter, Direction.DELIVERED, MARCH + 6.5 * day, 48 + 96 * 2)
    quarters(meter, Direction.DELIVERED, MARCH + 9 * day + timedelta(hours=23), 96 * 4 + 4)
    rollups_rebuild(meter=meter)
    return meter


@pytest.fixture
def solar_home(new_meter):
    """A net-metered home: readings both ways over the same two weeks."""
    meter = new_meter(bidirectional=True)
    quarters(meter, Direction.DELIVERED, MARCH, 96 * 14)
    quarters(meter, Direction.RECEIVED, MARCH + timedelta(hours=3), 96 * 12)
    rollups_rebuild(meter=meter)
    return meter


@pytest.mark.parametrize("direction", ["NET", "DELIVERED"])
def test_stored_items_are_the_rendered_items(alice_api, home, direction):
    stored = pages(alice_api, home, direction=direction)
    days = Rollup.objects.filter(meter=home, granularity="DAY").values_list("start", flat=True)
    assert set(RenderedDay.objects.filter(meter=home).values_list("start", flat=True)) == set(days)

    rendered_on_read(home)

    assert pages(alice_api, home, direction=direction) == stored


@pytest.mark.parametrize("direction", ["NET", "DELIVERED", "RECEIVED"])
def test_a_net_metered_home_reads_the_same_either_way(alice_api, solar_home, direction):
    stored = pages(alice_api, solar_home, direction=direction)

    rendered_on_read(solar_home)

    assert pages(alice_api, solar_home, direction=direction) == stored


def test_the_page_is_made_of_the_stored_items(alice_api, home):
    first = RenderedDay.objects.filter(meter=home).order_by("start").first()
    RenderedDay.objects.filter(pk=first.pk).update(item='{"stored":true}')

    body = alice_api.get(f"/usage/v1/Usage/{home.id}", DAYS).json()

    assert body["items"][0] == {"stored": True}


def test_a_new_day_gets_its_item_with_its_rollups(alice_api, home):
    sixteenth = datetime(2026, 3, 16, 4, tzinfo=UTC)  # local midnight, EDT
    quarters(home, Direction.DELIVERED, sixteenth, 96)
    before = pages(alice_api, home, end="2026-03-17")
    items = RenderedDay.objects.filter(meter=home)
    count = items.count()

    rollups_refresh(meter=home, start=sixteenth, end=sixteenth + timedelta(days=1))

    after = pages(alice_api, home, end="2026-03-17")
    assert after != before
    assert items.count() == count + 1
    assert items.filter(start=sixteenth).exists()
    rendered_on_read(home)
    assert pages(alice_api, home, end="2026-03-17") == after


def test_items_of_another_currency_are_not_served(alice_api, alice, home):
    alice.billing_currency = "JPY"
    alice.save()

    costs = [
        item["cost"] for item in alice_api.get(f"/usage/v1/Usage/{home.id}", DAYS).json()["items"]
    ]

    assert costs and all("." not in cost for cost in costs)  # yen have no minor unit
    rollups_rebuild(meter=home)  # the next rollup write renders them all again, in yen
    assert "JPY" in RollupRevision.objects.get(meter=home).items_basis
    assert [
        item["cost"] for item in alice_api.get(f"/usage/v1/Usage/{home.id}", DAYS).json()["items"]
    ] == costs
