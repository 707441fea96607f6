"""What every customer-scoped endpoint promises, as test mixins (in the NetBox manner).

A test class for an endpoint inherits the mixins and declares only what differs: its paths and
how to make its resources. The mixins then check the rest through HTTP: a token is required,
another customer's id is a 404 indistinguishable from an unknown one, and lists page
correctly. Later endpoints (Budgets, Insights, ...) reuse them unchanged.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from customers.models import Customer
from tests.conftest import assert_problem, client_for

MAX_PAGES = 1000


def walk(client: APIClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged list, following ``nextPageToken`` until it is absent."""
    items: list[dict[str, Any]] = []
    token = None
    for _ in range(MAX_PAGES):
        response = client.get(path, {**params, **({"pageToken": token} if token else {})})
        assert response.status_code == 200, response.content
        body = response.json()
        items.extend(body["items"])
        token = body.get("nextPageToken")
        if token is None:
            return items
        assert token, "nextPageToken is present only when more results exist"
    raise AssertionError(f"{path} did not run out of pages after {MAX_PAGES}")


def assert_validation_error(response, *fields: str) -> dict[str, Any]:
    """A 400 ``validation-error`` whose ``errors`` name exactly ``fields``."""
    body = assert_problem(response, 400, "validation-error")
    assert {error["field"] for error in body["errors"]} == set(fields), body
    for error in body["errors"]:
        assert error["code"]
        assert error["message"]
    return body


def _without_request_details(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in ("instance", "requestId")}


class CustomerScopedEndpoint:
    """Mixin: needs a bearer token, and never reveals another customer's resource.

    Subclasses set ``list_path`` and ``detail_path`` (with an ``{id}`` placeholder) and
    implement :meth:`resource_id`.
    """

    list_path: str
    detail_path: str

    def resource_id(self, customer: Customer) -> str:
        """The id of one of ``customer``'s resources."""
        raise NotImplementedError

    def detail(self, resource_id: object) -> str:
        return self.detail_path.format(id=resource_id)

    def paths(self, customer: Customer) -> list[str]:
        return [self.list_path, self.detail(self.resource_id(customer))]

    def test_without_token_is_401_not_authenticated(self, api, alice):
        for path in self.paths(alice):
            response = api.get(path)
            assert_problem(response, 401, "not-authenticated")
            assert response["WWW-Authenticate"].startswith("Bearer")

    @pytest.mark.parametrize(
        "authorization",
        ["Bearer not-a-jwt", "Bearer " + "e30." * 2 + "c2ln", "Bearer "],
    )
    def test_bad_token_is_401_invalid_token(self, api, alice, authorization):
        api.credentials(HTTP_AUTHORIZATION=authorization)
        for path in self.paths(alice):
            response = api.get(path)
            body = assert_problem(response, 401, "invalid-token")
            assert body["detail"] == "The token is invalid, expired or revoked."

    def test_token_of_deactivated_customer_is_401(self, alice):
        client = client_for(alice)
        # Saved as the admin and import_customers do; a change made by another process
        # applies within AUTH_CUSTOMER_CACHE_SECONDS (tests/api/test_throttling.py).
        alice.active = False
        alice.save()
        for path in self.paths(alice):
            assert_problem(client.get(path), 401, "invalid-token")

    def test_own_resource_is_found(self, alice, alice_api):
        resource_id = self.resource_id(alice)
        response = alice_api.get(self.detail(resource_id))
        assert response.status_code == 200, response.content
        assert response.json()["id"] == resource_id

    def test_foreign_id_is_the_same_404_as_an_unknown_one(self, alice_api, bob):
        foreign = assert_problem(
            alice_api.get(self.detail(self.resource_id(bob))), 404, "not-found"
        )
        unknown = assert_problem(alice_api.get(self.detail(uuid.uuid4())), 404, "not-found")
        assert _without_request_details(foreign) == _without_request_details(unknown)

    @pytest.mark.parametrize("malformed", ["not-a-uuid", "42", "%20", "00000000-0000"])
    def test_malformed_id_is_404(self, alice_api, malformed):
        assert_problem(alice_api.get(self.detail(malformed)), 404, "not-found")


class PagedListEndpoint:
    """Mixin: the list follows AIP-158 (``pageSize``/``pageToken``, ``items``/``nextPageToken``).

    Subclasses set ``list_path`` and implement :meth:`make_items`.
    """

    list_path: str

    def make_items(self, customer: Customer, count: int) -> set[str]:
        """Adds ``count`` items for ``customer``; returns the ids of all of them it now has."""
        raise NotImplementedError

    def first_page(self, client: APIClient, **params: Any) -> dict[str, Any]:
        response = client.get(self.list_path, {"pageSize": 1, **params})
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["nextPageToken"]
        return body

    def test_walk_with_page_size_1_returns_each_item_once(self, alice, alice_api):
        expected = self.make_items(alice, 4)
        ids = [item["id"] for item in walk(alice_api, self.list_path, pageSize=1)]
        assert len(ids) == len(set(ids)), "an item was repeated"
        assert set(ids) == expected

    def test_last_page_has_no_token(self, alice, alice_api):
        expected = self.make_items(alice, 2)
        body = alice_api.get(self.list_path, {"pageSize": len(expected)}).json()
        assert len(body["items"]) == len(expected)
        assert "nextPageToken" not in body

    @pytest.mark.parametrize("size", ["0", "000", "-1", "abc", "1.5", " 1", "1e3", "0x10", "²"])
    def test_bad_page_size_is_400(self, alice_api, size):
        assert_validation_error(alice_api.get(self.list_path, {"pageSize": size}), "pageSize")

    def test_page_size_above_the_maximum_is_clamped(self, alice, alice_api):
        expected = self.make_items(alice, 2)
        for size in ("5000", "1" * 5000):
            response = alice_api.get(self.list_path, {"pageSize": size})
            assert response.status_code == 200, response.content
            assert {item["id"] for item in response.json()["items"]} == expected

    @pytest.mark.parametrize(
        "forge",
        [
            lambda token: token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
            lambda token: token[:10] + token[11:],
            lambda token: "x" + token,
            lambda token: token.split(":", 1)[1],
            lambda token: "garbage",
            lambda token: "é" * 20,
        ],
        ids=["signature-edited", "char-dropped", "prefixed", "payload-cut", "garbage", "unicode"],
    )
    def test_forged_or_edited_token_is_400(self, alice, alice_api, forge):
        self.make_items(alice, 2)
        token = self.first_page(alice_api)["nextPageToken"]
        response = alice_api.get(self.list_path, {"pageSize": 1, "pageToken": forge(token)})
        assert_validation_error(response, "pageToken")

    def test_token_of_another_customer_is_400(self, alice, alice_api, bob, bob_api):
        self.make_items(alice, 2)
        self.make_items(bob, 2)
        token = self.first_page(alice_api)["nextPageToken"]
        response = bob_api.get(self.list_path, {"pageSize": 1, "pageToken": token})
        assert_validation_error(response, "pageToken")

    def test_token_with_other_query_parameters_is_400(self, alice, alice_api):
        self.make_items(alice, 2)
        token = self.first_page(alice_api)["nextPageToken"]
        response = alice_api.get(
            self.list_path, {"pageSize": 1, "pageToken": token, "unrelated": "1"}
        )
        assert_validation_error(response, "pageToken")

    def test_token_works_with_another_page_size(self, alice, alice_api):
        expected = self.make_items(alice, 3)
        body = self.first_page(alice_api)
        rest = alice_api.get(self.list_path, {"pageSize": 10, "pageToken": body["nextPageToken"]})
        assert rest.status_code == 200, rest.content
        ids = [item["id"] for item in body["items"] + rest.json()["items"]]
        assert sorted(ids) == sorted(expected)
