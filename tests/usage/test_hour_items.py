"""HOUR pages served from the HOUR items kept in Redis per meter and local month, at a rollup
revision (``usage.hour_items``): the same bytes as rendering the rollups on every read, whatever
the range, page size or page token, never served after a rollup write or in another currency,
and rendered as before when Redis is unreachable or refuses them. Through HTTP against the
suite's Redis, the per-process page cache off so each read goes to the items."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.tcp_proxy import free_port
from tests.usage.conftest import quarters, series_pages
from usage import hour_items
from usage.hour_items import _Month
from usage.models import Direction, Rollup
from usage.rollups import rollups_refresh

#: Two weeks of hours across New York's spring-forward day (2026-03-08 has 23).
HOURS = {"granularity": "HOUR", "start": "2026-03-01", "end": "2026-03-15"}


@pytest.fixture(autouse=True)
def _each_read_uses_the_items(settings):
    settings.USAGE_PAGE_CACHE_BYTES = 0
    settings.USAGE_HOUR_ITEMS_SECONDS = 3600
    hour_items._redis.cache_clear()  # each test's Redis client starts with no failure behind it


@pytest.fixture
def entries():
    """The HOUR items' entries in the suite's Redis, by meter."""
    client = redis.Redis.from_url(django_settings.REDIS_URL)

    def of(meter) -> dict[bytes, bytes]:
        keys = sorted(client.scan_iter(f"usage:hours:*:{meter.pk.hex}:*"))
        return dict(zip(keys, client.mget(keys), strict=True)) if keys else {}

    of.client = client
    return of


def rendered_pages(settings, client, meter, query) -> list[bytes]:
    """The pages rendered from the rollups on the read (the HOUR items cache off)."""
    settings.USAGE_HOUR_ITEMS_SECONDS = 0
    try:
        return series_pages(client, meter, query)
    finally:
        settings.USAGE_HOUR_ITEMS_SECONDS = 3600


def reads_rollups(sql: str) -> bool:
    return re.search(rf"\b{Rollup._meta.db_table}\b", sql) is not None


QUERIES = [
    pytest.param({**HOURS, "pageSize": 1000}, id="two-weeks-one-page"),
    pytest.param({**HOURS, "pageSize": 7}, id="pages-cut-inside-days"),
    pytest.param({**HOURS, "pageSize": 100}, id="pages-cut-across-dst"),
    pytest.param(
        {
            "granularity": "HOUR",
            "start": "2026-03-07T13:00:00-05:00",
            "end": "2026-03-09T09:00:00-04:00",
            "pageSize": 10,
        },
        id="range-inside-days",
    ),
]


@pytest.mark.parametrize("query", QUERIES)
def test_cached_pages_are_the_rendered_pages(settings, alice_api, home, entries, query):
    rendered = rendered_pages(settings, alice_api, home, query)
    assert not entries(home)

    first = series_pages(alice_api, home, query)  # renders the months and keeps them
    kept = entries(home)
    again = series_pages(alice_api, home, query)  # made of the kept months

    assert first == rendered
    assert again == rendered
    assert kept and entries(home) == kept


@pytest.mark.parametrize("direction", ["NET", "DELIVERED", "RECEIVED"])
def test_a_net_metered_home_reads_the_same_either_way(settings, alice_api, solar_home, direction):
    query = {**HOURS, "pageSize": 50, "direction": direction}
    rendered = rendered_pages(settings, alice_api, solar_home, query)

    assert series_pages(alice_api, solar_home, query) == rendered
    assert series_pages(alice_api, solar_home, query) == rendered


def test_one_entry_per_local_month_with_its_hours(alice_api, home, entries):
    series_pages(alice_api, home, {**HOURS, "start": "2026-02-27", "pageSize": 1000})

    february, march = (_Month.decode(data) for data in entries(home).values())  # by month
    assert len(february.starts) == 0
    # The whole month, past the page: the fixture's gap leaves one hour of March 10, March 8
    # has 23, and its last reading is in the first hour of March 15.
    assert len(march.starts) == 24 * 7 + 23 + 24 + 1 + 24 * 4 + 1
    assert list(march.starts) == sorted(march.starts)


def test_the_page_is_made_of_the_kept_items(alice_api, home, entries):
    series_pages(alice_api, home, {**HOURS, "pageSize": 1000})
    key, data = next(iter(entries(home).items()))
    month = _Month.decode(data)
    forged = _Month.of(month.revision, month.starts[:1].tolist(), [b'{"kept":true}'])
    entries.client.set(key, forged.encode())

    items = alice_api.get(f"/usage/v1/Usage/{home.id}", HOURS).json()["items"]

    assert {"kept": True} in items


def test_a_rollup_write_is_read_at_once_over_the_same_entries(settings, alice_api, home, entries):
    query = {**HOURS, "end": "2026-03-17", "pageSize": 1000}
    before = series_pages(alice_api, home, query)
    kept = entries(home)
    sixteenth = datetime(2026, 3, 16, 4, tzinfo=UTC)  # local midnight, EDT
    quarters(home, Direction.DELIVERED, sixteenth, 96)

    rollups_refresh(meter=home, start=sixteenth, end=sixteenth + timedelta(days=1))

    after = series_pages(alice_api, home, query)
    assert after != before
    assert after == rendered_pages(settings, alice_api, home, query)
    # Rendered again over the same keys: a rollup write leaves no old entries behind.
    assert entries(home).keys() == kept.keys()
    assert entries(home) != kept


def test_a_page_fetches_the_months_it_needs(alice_api, home, entries):
    """A 92-day range read ten hours at a time keeps the months of its first page, not all
    four the range touches."""
    first = {"granularity": "HOUR", "start": "2026-03-01", "end": "2026-06-01", "pageSize": 10}

    alice_api.get(f"/usage/v1/Usage/{home.id}", first)

    assert len(entries(home)) == 2  # 1 + ceil(10 / 672) months: March and April


def test_a_kept_page_reads_no_rollups(alice_api, home):
    url = f"/usage/v1/Usage/{home.id}"
    alice_api.get(url, HOURS)

    with CaptureQueriesContext(connection) as queries:
        again = alice_api.get(url, HOURS)

    assert again.status_code == 200
    assert len(queries) == 1, [q["sql"] for q in queries]  # the meter, with its revision
    assert not reads_rollups(queries[0]["sql"])


def test_a_refused_store_serves_the_rendered_months(settings, alice_api, home, entries, caplog):
    """Regression: when Redis refused to store the rendered months, the page was rendered
    from the rollups a second time."""
    rendered = rendered_pages(settings, alice_api, home, {**HOURS, "pageSize": 1000})
    settings.USAGE_HOUR_ITEMS_SECONDS = 10**17  # Redis refuses an expiry this far out

    with (
        caplog.at_level(logging.WARNING, logger="usage.hour_items"),
        CaptureQueriesContext(connection) as queries,
    ):
        pages = series_pages(alice_api, home, {**HOURS, "pageSize": 1000})

    assert pages == rendered
    assert not entries(home)
    assert sum(reads_rollups(q["sql"]) for q in queries) == 1
    assert [r.getMessage() for r in caplog.records if r.name == "usage.hour_items"] == [
        "The HOUR items cache skipped a request: Redis refused a command (ResponseError)"
    ]


def test_items_of_another_currency_are_not_served(alice_api, alice, home):
    alice_api.get(f"/usage/v1/Usage/{home.id}", HOURS)
    alice.billing_currency = "JPY"
    alice.save()

    costs = [
        item["cost"] for item in alice_api.get(f"/usage/v1/Usage/{home.id}", HOURS).json()["items"]
    ]

    assert costs and all("." not in cost for cost in costs)  # yen have no minor unit


def test_an_entry_that_does_not_decode_is_rendered_again(settings, alice_api, home, entries):
    """Regression: bytes that were not an entry raised in decoding -> 500 until they expired."""
    query = {**HOURS, "pageSize": 1000}
    series_pages(alice_api, home, query)
    key = next(iter(entries(home)))
    entries.client.set(key, b"not an entry at all")

    pages = series_pages(alice_api, home, query)

    assert pages == rendered_pages(settings, alice_api, home, query)
    assert _Month.decode(entries(home)[key]) is not None  # stored again


@pytest.mark.parametrize(
    ("zone", "end", "size"),
    [
        pytest.param("Pacific/Honolulu", "2026-03-15", 3, id="token-before-the-new-start"),
        pytest.param("Asia/Tokyo", "2026-03-03", 20, id="token-past-the-new-end"),
    ],
)
def test_a_page_token_from_before_a_zone_change(settings, alice_api, home, zone, end, size):
    """Regression: a token whose bucket lies outside the range the meter's new zone gives
    (the token is bound to the query, not the zone) started the next page before the range,
    or raised in the month bounds -> 500; the rollups give the range's items after it."""
    query = {"granularity": "HOUR", "start": "2026-03-02", "end": end, "pageSize": size}
    url = f"/usage/v1/Usage/{home.id}"
    token = alice_api.get(url, query).json()["nextPageToken"]
    home.timezone = zone
    home.save()
    second = {**query, "pageToken": token}

    cached = alice_api.get(url, second)
    settings.USAGE_HOUR_ITEMS_SECONDS = 0
    rendered = alice_api.get(url, second)

    assert cached.status_code == 200, cached.content
    assert cached.json()["items"] == rendered.json()["items"]


def test_entries_expire(settings, alice_api, home, entries):
    settings.USAGE_HOUR_ITEMS_SECONDS = 600
    alice_api.get(f"/usage/v1/Usage/{home.id}", HOURS)

    ttls = {entries.client.ttl(key) for key in entries(home)}
    assert ttls and all(0 < ttl <= 600 for ttl in ttls)


def test_pages_are_rendered_when_redis_is_unreachable(settings, alice_api, home, caplog):
    rendered = rendered_pages(settings, alice_api, home, {**HOURS, "pageSize": 100})
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/1"

    with caplog.at_level(logging.WARNING, logger="usage.hour_items"):
        pages = series_pages(alice_api, home, {**HOURS, "pageSize": 100})

    assert pages == rendered
    warnings = [r.getMessage() for r in caplog.records if r.name == "usage.hour_items"]
    assert warnings == [
        "The HOUR items cache is off for 5 s: Redis is unreachable (ConnectionError)"
    ]


def test_an_entry_slices_at_item_boundaries():
    month = _Month.of(7, [0, 3600, 7200], [b'{"a":1}', b'{"b":[2]}', b'{"c":3}'])
    decoded = _Month.decode(month.encode())

    assert decoded.revision == 7
    assert decoded.starts.tolist() == [0, 3600, 7200]
    assert decoded.json(0, 3) == b'{"a":1},{"b":[2]},{"c":3}'
    assert decoded.json(1, 2) == b'{"b":[2]}'
    assert decoded.json(0, 1) == b'{"a":1}'
    assert decoded.json(2, 3) == b'{"c":3}'
    assert _Month.decode(_Month.of(0, [], []).encode()).json(0, 0) == b""
