"""AIP-158 keyset pagination: sizes, tamper-evident tokens, and stable pages over ties.

Ties are exercised through a test-only view (tests/api/urls.py) that orders meters by their
service type, which most rows share, so only the ``id`` tie-breaker keeps pages stable.
"""

from __future__ import annotations

import pytest

from customers.models import Customer, Meter
from energygrid.api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from tests.api.helpers import assert_validation_error, walk

TIES = "/test/meters-by-service-type"
SERVICE_TYPES = ("ELECTRIC", "GAS", "WATER")


@pytest.fixture
def ties_urls(settings):
    settings.ROOT_URLCONF = "tests.api.urls"


def add_meters(customer: Customer, count: int) -> list[Meter]:
    """``count`` meters on the customer's account, cycling through three service types."""
    account = customer.accounts.get()
    return Meter.objects.bulk_create(
        Meter(
            utility=customer.utility,
            account=account,
            meter_number=f"T-{n:05d}",
            service_type=SERVICE_TYPES[n % len(SERVICE_TYPES)],
            unit_of_measure="kWh",
            interval_seconds=900,
            timezone="UTC",
        )
        for n in range(count)
    )


def expected_order(descending: bool = False) -> list[str]:
    meters = sorted(Meter.objects.all(), key=lambda m: (m.service_type, str(m.id)))
    ids = [str(meter.id) for meter in meters]
    return ids[::-1] if descending else ids


@pytest.mark.usefixtures("ties_urls")
class TestTies:
    @pytest.mark.parametrize("page_size", [1, 2, 3, 7])
    def test_walk_over_ties_yields_every_item_once_in_order(self, api, alice, page_size):
        add_meters(alice, 20)
        ids = [item["id"] for item in walk(api, TIES, pageSize=page_size)]
        assert ids == expected_order()

    def test_descending_walk_over_ties(self, api, alice):
        add_meters(alice, 10)
        ids = [item["id"] for item in walk(api, TIES, pageSize=2, order="desc")]
        assert ids == expected_order(descending=True)

    def test_rows_deleted_behind_the_cursor_do_not_shift_pages(self, api, alice):
        add_meters(alice, 6)
        first = api.get(TIES, {"pageSize": 3}).json()
        Meter.objects.filter(pk__in=[item["id"] for item in first["items"]]).delete()
        rest = walk(api, TIES, pageSize=3, pageToken=first["nextPageToken"])
        seen = [item["id"] for item in first["items"] + rest]
        assert len(seen) == len(set(seen)) == 7  # alice's own meter + the 6 added

    def test_default_page_size(self, api, alice):
        add_meters(alice, DEFAULT_PAGE_SIZE)
        body = api.get(TIES).json()
        assert len(body["items"]) == DEFAULT_PAGE_SIZE
        assert "nextPageToken" in body

    def test_page_size_is_clamped_to_the_maximum(self, api, alice):
        add_meters(alice, MAX_PAGE_SIZE)
        body = api.get(TIES, {"pageSize": MAX_PAGE_SIZE * 5}).json()
        assert len(body["items"]) == MAX_PAGE_SIZE
        assert "nextPageToken" in body

    def test_leading_zeros_are_allowed(self, api, alice):
        add_meters(alice, 9)
        assert len(api.get(TIES, {"pageSize": "007"}).json()["items"]) == 7

    @pytest.mark.parametrize(
        "path", [TIES, "/usage/v1/Customer/authorizations", "/usage/v1/Metadata/service-types"]
    )
    def test_an_empty_page_size_is_refused_not_read_as_the_default(self, alice_api, path):
        assert_validation_error(alice_api.get(path, {"pageSize": ""}), "pageSize")

    @pytest.mark.parametrize("size", ["٣", "\uff13", "1_0", "+5", "10 "])
    def test_only_plain_ascii_digits_count(self, api, alice, size):
        assert_validation_error(api.get(TIES, {"pageSize": size}), "pageSize")

    def test_token_is_bound_to_the_ordering_query(self, api, alice):
        add_meters(alice, 4)
        token = api.get(TIES, {"pageSize": 1}).json()["nextPageToken"]
        response = api.get(TIES, {"pageSize": 1, "pageToken": token, "order": "desc"})
        assert_validation_error(response, "pageToken")

    def test_token_is_bound_to_the_path(self, api, alice, alice_api):
        add_meters(alice, 4)
        token = api.get(TIES, {"pageSize": 1}).json()["nextPageToken"]
        response = alice_api.get("/usage/v1/Meters", {"pageToken": token})
        assert_validation_error(response, "pageToken")

    def test_token_is_opaque(self, api, alice):
        meters = add_meters(alice, 4)
        token = api.get(TIES, {"pageSize": 1}).json()["nextPageToken"]
        assert not any(str(meter.id) in token for meter in meters)
        assert "ELECTRIC" not in token
