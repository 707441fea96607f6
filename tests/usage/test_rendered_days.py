"""DAY pages served from the items stored with the rollups (``usage.models.RenderedDay``): the
same bytes as rendering the rollups on the read, kept in step with every rollup write, and
never served when what they were rendered under has changed. Through HTTP, the page cache
off so each read renders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.usage.conftest import quarters, series_pages
from usage.models import Direction, RenderedDay, Rollup, RollupRevision
from usage.rollups import rollups_rebuild, rollups_refresh

DAYS = {"granularity": "DAY", "start": "2026-03-01", "end": "2026-03-15"}


@pytest.fixture(autouse=True)
def _render_every_read(settings):
    settings.USAGE_PAGE_CACHE_BYTES = 0


def day_pages(client, meter, **params) -> list[bytes]:
    return series_pages(client, meter, {**DAYS, "pageSize": 4, **params})


def rendered_on_read(meter) -> None:
    """Makes the stored items unusable, so reads render from the rollups."""
    RollupRevision.objects.filter(meter=meter).update(items_basis="stale")


@pytest.mark.parametrize("direction", ["NET", "DELIVERED"])
def test_stored_items_are_the_rendered_items(alice_api, home, direction):
    stored = day_pages(alice_api, home, direction=direction)
    days = Rollup.objects.filter(meter=home, granularity="DAY").values_list("start", flat=True)
    assert set(RenderedDay.objects.filter(meter=home).values_list("start", flat=True)) == set(days)

    rendered_on_read(home)

    assert day_pages(alice_api, home, direction=direction) == stored


@pytest.mark.parametrize("direction", ["NET", "DELIVERED", "RECEIVED"])
def test_a_net_metered_home_reads_the_same_either_way(alice_api, solar_home, direction):
    stored = day_pages(alice_api, solar_home, direction=direction)

    rendered_on_read(solar_home)

    assert day_pages(alice_api, solar_home, direction=direction) == stored


def test_the_page_is_made_of_the_stored_items(alice_api, home):
    first = RenderedDay.objects.filter(meter=home).order_by("start").first()
    RenderedDay.objects.filter(pk=first.pk).update(item='{"stored":true}')

    body = alice_api.get(f"/usage/v1/Usage/{home.id}", DAYS).json()

    assert body["items"][0] == {"stored": True}


def test_a_new_day_gets_its_item_with_its_rollups(alice_api, home):
    sixteenth = datetime(2026, 3, 16, 4, tzinfo=UTC)  # local midnight, EDT
    quarters(home, Direction.DELIVERED, sixteenth, 96)
    before = day_pages(alice_api, home, end="2026-03-17")
    items = RenderedDay.objects.filter(meter=home)
    count = items.count()

    rollups_refresh(meter=home, start=sixteenth, end=sixteenth + timedelta(days=1))

    after = day_pages(alice_api, home, end="2026-03-17")
    assert after != before
    assert items.count() == count + 1
    assert items.filter(start=sixteenth).exists()
    rendered_on_read(home)
    assert day_pages(alice_api, home, end="2026-03-17") == after


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
