"""/Budgets through HTTP: shape, every validation rule, scoping, the 20-budget limit, filters,
and conditional writes (ETag / If-Match)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.utils import timezone

from budgets.models import Budget
from budgets.selectors import budget_period
from customers.models import Customer
from tests.api.helpers import (
    CustomerScopedEndpoint,
    PagedListEndpoint,
    _without_request_details,
    assert_validation_error,
)
from tests.budgets.conftest import BUDGETS, load_readings, make_budget, valid_body
from tests.conftest import assert_problem, client_for, make_account, make_customer, make_meter


def detail(budget_id: object) -> str:
    return f"{BUDGETS}/{budget_id}"


def post(client, body: Any, **extra: str):
    return client.post(BUDGETS, body, format="json", **extra)


def patch(client, budget_id: object, body: Any, **extra: str):
    return client.patch(detail(budget_id), body, format="json", **extra)


def errors_of(response) -> dict[str, str]:
    """``{field: code}`` of a validation problem."""
    body = assert_problem(response, 400, "validation-error")
    return {error["field"]: error["code"] for error in body["errors"]}


class TestBudgets(CustomerScopedEndpoint, PagedListEndpoint):
    list_path = BUDGETS
    detail_path = BUDGETS + "/{id}"

    def resource_id(self, customer: Customer) -> str:
        return str(make_budget(customer).id)

    def make_items(self, customer: Customer, count: int) -> set[str]:
        for n in range(count):
            make_budget(customer, name=f"Budget {n}")
        return {str(pk) for pk in customer.budgets.values_list("id", flat=True)}


# --- create and read ---------------------------------------------------------------------------


def test_create_answers_201_with_location_etag_and_the_budget(alice_api, account):
    response = post(alice_api, valid_body(account))

    assert response.status_code == 201, response.content
    body = response.json()
    budget = Budget.objects.get()
    assert response["Location"] == f"/usage/v1/Budgets/{budget.id}"
    assert response["ETag"].startswith('"')
    assert {key: value for key, value in body.items() if key not in ("createdAt", "updatedAt")} == {
        "id": str(budget.id),
        "name": "Electricity",
        "kind": "COST",
        "period": "MONTHLY",
        "accountId": str(account.id),
        "meterId": None,
        "limit": "120.00",
        "alertThresholds": [50, 80, 100],
        "active": True,
        "status": body["status"],
    }
    assert set(body["status"]) == {
        "periodStart",
        "periodEnd",
        "used",
        "projected",
        "percentUsed",
        "state",
        "asOf",
    }
    assert body["status"]["used"] == "0.00"
    assert body["status"]["state"] == "ON_TRACK"

    fetched = alice_api.get(response["Location"])
    assert fetched.status_code == 200
    assert fetched["ETag"] == response["ETag"]
    assert fetched.json()["id"] == body["id"]


def test_defaults_are_active_with_80_and_100_percent_alerts(alice_api, account):
    body = valid_body(account)
    del body["alertThresholds"]

    created = post(alice_api, body).json()

    assert created["alertThresholds"] == [80, 100]
    assert created["active"] is True


def test_energy_budget_is_written_to_3_decimals(alice_api, account, meter):
    response = post(
        alice_api, valid_body(account, kind="ENERGY", meterId=str(meter.id), limit="350.5")
    )

    assert response.status_code == 201, response.content
    assert response.json()["limit"] == "350.500"
    assert response.json()["status"]["used"] == "0.000"
    assert response.json()["meterId"] == str(meter.id)


def test_money_follows_the_currency_minor_unit(acme):
    kenji = make_customer(acme, "kenji", meter_number="E-KENJI-1", billing_currency="JPY")
    client = client_for(kenji)
    account = kenji.accounts.get()

    assert errors_of(post(client, valid_body(account, limit="1200.5"))) == {
        "/limit": "max_decimal_places"
    }
    created = post(client, valid_body(account, limit="1200"))
    assert created.status_code == 201, created.content
    assert created.json()["limit"] == "1200"


def test_list_shows_only_own_budgets_oldest_first(alice, alice_api, bob):
    first, second = make_budget(alice, name="A"), make_budget(alice, name="B")
    make_budget(bob)

    items = alice_api.get(BUDGETS).json()["items"]

    assert [item["id"] for item in items] == [str(first.id), str(second.id)]


def test_put_is_not_allowed(alice, alice_api):
    budget = make_budget(alice)
    response = alice_api.put(detail(budget.id), {}, format="json")
    assert_problem(response, 405, "method-not-allowed")


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"limit": "0"}, {"/limit": "min_value"}),
        ({"limit": "0.00"}, {"/limit": "min_value"}),
        ({"limit": "-5.00"}, {"/limit": "min_value"}),
        ({"limit": 120}, {"/limit": "invalid"}),
        ({"limit": 120.5}, {"/limit": "invalid"}),
        ({"limit": "1e3"}, {"/limit": "invalid"}),
        ({"limit": " 120"}, {"/limit": "invalid"}),
        ({"limit": "12,50"}, {"/limit": "invalid"}),
        ({"limit": None}, {"/limit": "null"}),
        ({"limit": "1000000000000"}, {"/limit": "max_value"}),
        ({"limit": "12.345"}, {"/limit": "max_decimal_places"}),
        ({"name": ""}, {"/name": "blank"}),
        ({"name": "   "}, {"/name": "blank"}),
        ({"name": "x" * 101}, {"/name": "max_length"}),
        ({"name": 42}, {"/name": "invalid"}),
        ({"kind": "GAS"}, {"/kind": "invalid_choice"}),
        ({"kind": "cost"}, {"/kind": "invalid_choice"}),
        ({"period": "WEEKLY"}, {"/period": "invalid_choice"}),
        ({"accountId": "not-a-uuid"}, {"/accountId": "invalid"}),
        ({"accountId": str(uuid.UUID(int=1))}, {"/accountId": "not_found"}),
        ({"meterId": str(uuid.UUID(int=1))}, {"/meterId": "not_found"}),
        ({"kind": "ENERGY"}, {"/meterId": "required"}),
        ({"kind": "ENERGY", "meterId": None}, {"/meterId": "required"}),
        ({"alertThresholds": [0]}, {"/alertThresholds/0": "min_value"}),
        ({"alertThresholds": [50, 201]}, {"/alertThresholds/1": "max_value"}),
        ({"alertThresholds": [50, 80, 70]}, {"/alertThresholds/2": "not_ascending"}),
        (
            {"alertThresholds": [50, 90, 80, 70]},
            {"/alertThresholds/2": "not_ascending", "/alertThresholds/3": "not_ascending"},
        ),
        ({"alertThresholds": [50, 50]}, {"/alertThresholds/1": "duplicate"}),
        ({"alertThresholds": [10, 20, 30, 40, 50, 60]}, {"/alertThresholds": "max_length"}),
        ({"alertThresholds": ["80"]}, {"/alertThresholds/0": "invalid"}),
        ({"alertThresholds": [80.5]}, {"/alertThresholds/0": "invalid"}),
        ({"alertThresholds": [True]}, {"/alertThresholds/0": "invalid"}),
        ({"alertThresholds": 80}, {"/alertThresholds": "not_a_list"}),
        ({"alertThresholds": None}, {"/alertThresholds": "null"}),
        ({"active": "true"}, {"/active": "invalid"}),
        ({"active": 1}, {"/active": "invalid"}),
        ({"colour": "red"}, {"/colour": "unknown_field"}),
        ({"id": str(uuid.UUID(int=7))}, {"/id": "read_only"}),
        ({"status": {}}, {"/status": "read_only"}),
        (
            {"name": "", "limit": "0", "extra": 1},
            {"/name": "blank", "/limit": "min_value", "/extra": "unknown_field"},
        ),
    ],
)
def test_invalid_bodies_are_400_naming_each_field(alice_api, account, overrides, expected):
    response = post(alice_api, valid_body(account, **overrides))

    assert errors_of(response) == expected
    assert not Budget.objects.exists()


@pytest.mark.parametrize("missing", ["name", "kind", "period", "accountId", "limit"])
def test_required_fields(alice_api, account, missing):
    body = valid_body(account)
    del body[missing]
    assert errors_of(post(alice_api, body)) == {f"/{missing}": "required"}


def test_thresholds_may_be_empty_and_reach_200(alice_api, account):
    assert post(alice_api, valid_body(account, alertThresholds=[])).status_code == 201
    assert post(alice_api, valid_body(account, alertThresholds=[1, 100, 200])).status_code == 201


def test_whole_number_floats_are_the_integers_json_schema_says_they_are(alice_api, account):
    """``80.0`` is a JSON Schema ``integer`` (the schema's type), so generated clients send it."""
    response = post(alice_api, valid_body(account, alertThresholds=[80.0, 100]))

    assert response.status_code == 201, response.content
    assert response.json()["alertThresholds"] == [80, 100]


def test_cost_budget_with_a_meter_is_refused(alice_api, account, meter):
    response = post(alice_api, valid_body(account, meterId=str(meter.id)))
    assert errors_of(response) == {"/meterId": "not_allowed"}


def test_meter_of_another_of_your_accounts_is_refused(alice, alice_api, account):
    other = make_meter(make_account(alice, "555000111"), "E-ALICE-2")

    response = post(alice_api, valid_body(account, kind="ENERGY", meterId=str(other.id)))

    assert errors_of(response) == {"/meterId": "not_in_account"}


def test_energy_limit_has_at_most_3_decimals(alice_api, account, meter):
    body = valid_body(account, kind="ENERGY", meterId=str(meter.id))
    assert errors_of(post(alice_api, {**body, "limit": "12.3456"})) == {
        "/limit": "max_decimal_places"
    }
    assert post(alice_api, {**body, "limit": "12.345"}).status_code == 201


def test_trailing_zeros_do_not_count_as_decimals(alice_api, account):
    response = post(alice_api, valid_body(account, limit="120.5000"))
    assert response.status_code == 201, response.content
    assert response.json()["limit"] == "120.50"


def test_foreign_account_is_the_same_400_as_an_unknown_one(alice_api, account, bob):
    foreign = post(alice_api, valid_body(account, accountId=str(bob.accounts.get().id)))
    unknown = post(alice_api, valid_body(account, accountId=str(uuid.uuid4())))

    assert errors_of(foreign) == {"/accountId": "not_found"}
    assert _without_request_details(foreign.json()) == _without_request_details(unknown.json())


def test_foreign_meter_is_the_same_400_as_an_unknown_one(alice_api, account, bob):
    body = valid_body(account, kind="ENERGY")
    foreign = post(alice_api, {**body, "meterId": str(bob.accounts.get().meters.get().id)})
    unknown = post(alice_api, {**body, "meterId": str(uuid.uuid4())})

    assert errors_of(foreign) == {"/meterId": "not_found"}
    assert _without_request_details(foreign.json()) == _without_request_details(unknown.json())


@pytest.mark.parametrize(
    ("body", "code"),
    [("[]", "invalid"), ('"budget"', "invalid"), ("12", "invalid"), ("null", "null")],
)
def test_body_must_be_an_object(alice_api, body, code):
    response = alice_api.post(BUDGETS, body, content_type="application/json")
    assert errors_of(response) == {"": code}


def test_body_must_be_json(alice_api):
    response = alice_api.post(BUDGETS, "{not json", content_type="application/json")
    assert_problem(response, 400, "malformed-request")
    response = alice_api.post(BUDGETS, {"name": "x"}, format="multipart")
    assert_problem(response, 415, "unsupported-media-type")


# --- the 20-budget limit -----------------------------------------------------------------------


def test_the_21st_budget_is_409(alice, alice_api, account):
    for n in range(20):
        make_budget(alice, name=f"B{n}")

    response = post(alice_api, valid_body(account))

    body = assert_problem(response, 409, "conflict")
    assert "20" in body["detail"]
    assert alice.budgets.count() == 20


def test_deleting_one_makes_room_again(alice, alice_api, account):
    budgets = [make_budget(alice, name=f"B{n}") for n in range(20)]
    assert alice_api.delete(detail(budgets[0].id)).status_code == 204
    assert post(alice_api, valid_body(account)).status_code == 201


# --- list filters ------------------------------------------------------------------------------


def test_filter_by_account(alice, alice_api, account):
    second = make_account(alice, "555000222")
    make_budget(alice, account=account)
    mine = make_budget(alice, account=second)

    items = alice_api.get(BUDGETS, {"accountId": str(second.id)}).json()["items"]

    assert [item["id"] for item in items] == [str(mine.id)]


def test_filter_by_active(alice, alice_api):
    on, off = make_budget(alice), make_budget(alice, active=False)

    assert [i["id"] for i in alice_api.get(BUDGETS, {"active": "true"}).json()["items"]] == [
        str(on.id)
    ]
    assert [i["id"] for i in alice_api.get(BUDGETS, {"active": "false"}).json()["items"]] == [
        str(off.id)
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"active": "yes"}, "active"),
        ({"active": "1"}, "active"),
        ({"active": "True"}, "active"),
        ({"accountId": "not-a-uuid"}, "accountId"),
        ({"accountId": str(uuid.uuid4())}, "accountId"),
    ],
)
def test_bad_filters_are_400(alice_api, params, field):
    assert_validation_error(alice_api.get(BUDGETS, params), field)


def test_foreign_account_filter_is_the_same_400_as_an_unknown_one(alice_api, bob):
    foreign = alice_api.get(BUDGETS, {"accountId": str(bob.accounts.get().id)})
    unknown = alice_api.get(BUDGETS, {"accountId": str(uuid.uuid4())})

    assert_validation_error(foreign, "accountId")
    assert _without_request_details(foreign.json()) == _without_request_details(unknown.json())


# --- PATCH / DELETE, ETag / If-Match ------------------------------------------------------------


def test_patch_changes_fields_and_the_etag(alice, alice_api):
    budget = make_budget(alice)
    etag = alice_api.get(detail(budget.id))["ETag"]

    response = patch(
        alice_api, budget.id, {"limit": "150.00", "alertThresholds": [90]}, HTTP_IF_MATCH=etag
    )

    assert response.status_code == 200, response.content
    assert response.json()["limit"] == "150.00"
    assert response.json()["alertThresholds"] == [90]
    assert response.json()["name"] == "Home"
    assert response["ETag"] != etag
    assert alice_api.get(detail(budget.id))["ETag"] == response["ETag"]


def test_patch_with_a_stale_if_match_is_412_and_writes_nothing(alice, alice_api):
    budget = make_budget(alice)
    stale = alice_api.get(detail(budget.id))["ETag"]
    assert patch(alice_api, budget.id, {"name": "Other device"}).status_code == 200

    response = patch(alice_api, budget.id, {"name": "This device"}, HTTP_IF_MATCH=stale)

    assert_problem(response, 412, "precondition-failed")
    assert Budget.objects.get().name == "Other device"


def test_delete_with_a_stale_if_match_is_412_and_keeps_the_budget(alice, alice_api):
    budget = make_budget(alice)
    stale = alice_api.get(detail(budget.id))["ETag"]
    patch(alice_api, budget.id, {"active": False})

    assert_problem(
        alice_api.delete(detail(budget.id), HTTP_IF_MATCH=stale), 412, "precondition-failed"
    )
    assert Budget.objects.filter(pk=budget.pk).exists()


def test_delete_with_the_current_etag_is_204(alice, alice_api):
    budget = make_budget(alice)
    etag = alice_api.get(detail(budget.id))["ETag"]

    response = alice_api.delete(detail(budget.id), HTTP_IF_MATCH=etag)

    assert response.status_code == 204
    assert_problem(alice_api.get(detail(budget.id)), 404, "not-found")


@pytest.mark.parametrize("if_match", ["*", None])
def test_if_match_star_or_absent_writes_unconditionally(alice, alice_api, if_match):
    budget = make_budget(alice)
    headers = {"HTTP_IF_MATCH": if_match} if if_match else {}
    assert patch(alice_api, budget.id, {"name": "New"}, **headers).status_code == 200
    assert alice_api.delete(detail(budget.id), **headers).status_code == 204


def test_a_weak_etag_never_matches_if_match(alice, alice_api):
    budget = make_budget(alice)
    etag = alice_api.get(detail(budget.id))["ETag"]
    response = patch(alice_api, budget.id, {"name": "New"}, HTTP_IF_MATCH=f"W/{etag}")
    assert_problem(response, 412, "precondition-failed")


def test_empty_patch_changes_nothing_not_even_the_etag(alice, alice_api):
    budget = make_budget(alice)
    etag = alice_api.get(detail(budget.id))["ETag"]

    response = patch(alice_api, budget.id, {"name": "Home"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert response["ETag"] == etag


def test_usage_changes_the_status_but_not_the_etag(alice, alice_api, meter):
    budget = make_budget(alice)
    before = alice_api.get(detail(budget.id))
    load_readings(meter, budget_period(budget=budget, now=timezone.now()).start, 4)

    after = alice_api.get(detail(budget.id))

    assert after.json()["status"]["used"] == "0.15"  # 1 kWh at 0.15
    assert after["ETag"] == before["ETag"]


def test_patch_validates_the_merged_budget(alice, alice_api, account, meter):
    budget = make_budget(alice, kind="ENERGY", meter=meter, limit="300.125")

    assert errors_of(patch(alice_api, budget.id, {"kind": "COST"})) == {
        "/meterId": "not_allowed",
        "/limit": "max_decimal_places",
    }
    # The ENERGY limit's 3 decimals are too many for money.
    assert errors_of(patch(alice_api, budget.id, {"kind": "COST", "meterId": None})) == {
        "/limit": "max_decimal_places"
    }
    response = patch(alice_api, budget.id, {"kind": "COST", "meterId": None, "limit": "90.00"})
    assert response.status_code == 200, response.content
    assert response.json()["meterId"] is None
    assert response.json()["limit"] == "90.00"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"limit": "0"}, {"/limit": "min_value"}),
        ({"alertThresholds": [90, 80]}, {"/alertThresholds/1": "not_ascending"}),
        ({"name": None}, {"/name": "null"}),
        ({"createdAt": "2026-01-01T00:00:00Z"}, {"/createdAt": "read_only"}),
        ({"nmae": "typo"}, {"/nmae": "unknown_field"}),
        ({"accountId": str(uuid.uuid4())}, {"/accountId": "not_found"}),
    ],
)
def test_patch_is_validated_strictly(alice, alice_api, body, expected):
    budget = make_budget(alice)
    assert errors_of(patch(alice_api, budget.id, body)) == expected
    assert Budget.objects.get().updated_at == budget.updated_at


def test_precondition_is_checked_before_the_body(alice, alice_api):
    budget = make_budget(alice)
    response = patch(alice_api, budget.id, {"limit": "0"}, HTTP_IF_MATCH='"stale"')
    assert_problem(response, 412, "precondition-failed")


def test_foreign_budget_is_404_for_patch_and_delete(alice_api, bob):
    budget = make_budget(bob)
    etag_free = {"name": "Mine now"}

    assert_problem(patch(alice_api, budget.id, etag_free), 404, "not-found")
    assert_problem(patch(alice_api, budget.id, etag_free, HTTP_IF_MATCH="*"), 404, "not-found")
    assert_problem(alice_api.delete(detail(budget.id)), 404, "not-found")
    assert_problem(alice_api.delete(detail(uuid.uuid4())), 404, "not-found")
    assert Budget.objects.get(pk=budget.pk).name == "Home"
