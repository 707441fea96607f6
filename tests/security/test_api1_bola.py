"""API1:2023 Broken Object Level Authorization — bob, logged in, tries alice's ids on every
route that takes one (path, body and filters): each answers exactly as for an id that does not
exist (404 in the path, the same 400 in a body or filter), and nothing of alice's changes."""

from __future__ import annotations

import uuid

import pytest

from budgets.models import Budget
from insights.models import Insight
from tests.budgets.conftest import make_budget
from tests.insights.test_api import add_insight

RANGE = {"start": "2026-03-01", "end": "2026-03-02"}


@pytest.fixture
def alices(alice) -> dict[str, str]:
    account = alice.accounts.get()
    return {
        "account": str(account.id),
        "meter": str(account.meters.get().id),
        "budget": str(make_budget(alice).id),
        "insight": str(add_insight(alice).id),
    }


def path_routes(ids: dict[str, str]) -> list[tuple[str, str, dict | None]]:
    """(method, path, query or body) of every route that takes an id in its path."""
    return [
        ("get", f"/usage/v1/Accounts/{ids['account']}", None),
        ("get", f"/usage/v1/Meters/{ids['meter']}", None),
        ("get", f"/usage/v1/Usage/{ids['meter']}", {"granularity": "DAY", **RANGE}),
        ("get", f"/usage/v1/Usage/{ids['meter']}/summary", RANGE),
        ("get", f"/usage/v1/Usage/{ids['meter']}/export", {"format": "csv", **RANGE}),
        ("get", f"/usage/v1/Usage/{ids['meter']}/export", {"format": "espi", **RANGE}),
        ("get", f"/usage/v1/Budgets/{ids['budget']}", None),
        ("patch", f"/usage/v1/Budgets/{ids['budget']}", {"name": "Mine now"}),
        ("delete", f"/usage/v1/Budgets/{ids['budget']}", None),
        ("get", f"/usage/v1/Insights/{ids['insight']}", None),
        ("patch", f"/usage/v1/Insights/{ids['insight']}", {"status": "DISMISSED"}),
    ]


def send(client, method: str, path: str, data):
    if method == "get":
        return client.get(path, data)
    return getattr(client, method)(path, data, format="json")


def without_request_details(response) -> dict:
    body = response.json()
    return {k: v for k, v in body.items() if k not in ("instance", "requestId")}


def test_every_id_route_hides_another_customers_object(alice, alices, bob_api):
    unknown = {name: str(uuid.uuid4()) for name in alices}
    for (method, path, data), (_, unknown_path, _) in zip(
        path_routes(alices), path_routes(unknown), strict=True
    ):
        foreign = send(bob_api, method, path, data)
        missing = send(bob_api, method, unknown_path, data)
        assert foreign.status_code == 404, (method, path, foreign.content)
        assert without_request_details(foreign) == without_request_details(missing), path

    budget = Budget.objects.get(pk=alices["budget"])
    assert budget.name == "Home"
    assert Insight.objects.get(pk=alices["insight"]).status == "NEW"


def test_every_id_route_serves_its_owner(alices, alice_api):
    for method, path, data in path_routes(alices)[:-3]:  # not the delete, nor the writes after
        assert send(alice_api, method, path, data).status_code in (200, 204), path


@pytest.mark.parametrize(
    ("path", "param", "kind"),
    [
        ("/usage/v1/Meters", "accountId", "account"),
        ("/usage/v1/Budgets", "accountId", "account"),
        ("/usage/v1/Insights", "accountId", "account"),
        ("/usage/v1/Insights", "meterId", "meter"),
    ],
)
def test_filters_with_another_customers_id_are_the_unknown_id_400(
    alices, bob_api, path, param, kind
):
    foreign = bob_api.get(path, {param: alices[kind]})
    missing = bob_api.get(path, {param: str(uuid.uuid4())})

    assert foreign.status_code == 400
    assert without_request_details(foreign) == without_request_details(missing)


@pytest.mark.parametrize("field", ["accountId", "meterId"])
def test_a_budget_body_naming_another_customers_ids_is_the_unknown_id_400(
    alices, bob, bob_api, field
):
    bobs_account = str(bob.accounts.get().id)
    body = {"name": "x", "kind": "ENERGY", "period": "MONTHLY", "limit": "10"}
    ids = {"accountId": bobs_account, "meterId": str(bob.accounts.get().meters.get().id)}

    foreign = bob_api.post("/usage/v1/Budgets", {**body, **ids, field: alices[field[:-2]]},
                           format="json")  # fmt: skip
    missing = bob_api.post("/usage/v1/Budgets", {**body, **ids, field: str(uuid.uuid4())},
                           format="json")  # fmt: skip

    assert foreign.status_code == 400
    assert without_request_details(foreign) == without_request_details(missing)
    assert not Budget.objects.filter(customer=bob).exists()


def test_lists_never_include_another_customers_objects(alices, bob_api):
    for path in ("/usage/v1/Accounts", "/usage/v1/Meters", "/usage/v1/Budgets",
                 "/usage/v1/Insights"):  # fmt: skip
        ids = {item["id"] for item in bob_api.get(path).json()["items"]}
        assert not ids & set(alices.values()), path
