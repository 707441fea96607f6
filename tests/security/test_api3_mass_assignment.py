"""API3:2023 Broken Object Property Level Authorization — mass assignment: read-only and
unknown properties sent in a body are refused (400 naming them), never written; responses
carry no property a customer should not see."""

from __future__ import annotations

import uuid

import pytest

from budgets.models import Budget
from insights.models import Insight
from tests.api.helpers import assert_validation_error
from tests.budgets.conftest import make_budget
from tests.insights.test_api import add_insight

BUDGETS = "/usage/v1/Budgets"


def budget_body(account, **extra) -> dict:
    return {"name": "Home", "kind": "COST", "period": "MONTHLY",
            "accountId": str(account.id), "limit": "100.00", **extra}  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("id", str(uuid.uuid4()), "read_only"),
        ("createdAt", "2020-01-01T00:00:00Z", "read_only"),
        ("updatedAt", "2020-01-01T00:00:00Z", "read_only"),
        ("status", {"used": "0.00", "state": "ON_TRACK"}, "read_only"),
        ("customerId", str(uuid.uuid4()), "unknown_field"),
        ("customer", str(uuid.uuid4()), "unknown_field"),
    ],
)
def test_creating_a_budget_with_read_only_or_foreign_properties_is_refused(
    alice, alice_api, bob, field, value, code
):
    if field.startswith("customer"):
        value = str(bob.id)
    response = alice_api.post(BUDGETS, budget_body(alice.accounts.get(), **{field: value}),
                              format="json")  # fmt: skip

    body = assert_validation_error(response, f"/{field}")
    assert body["errors"][0]["code"] == code
    assert not Budget.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", str(uuid.uuid4())), ("createdAt", "2020-01-01T00:00:00Z"), ("customerId", None)],
)
def test_patching_a_budgets_read_only_properties_is_refused(alice, alice_api, bob, field, value):
    budget = make_budget(alice)
    response = alice_api.patch(f"{BUDGETS}/{budget.id}", {field: value or str(bob.id)},
                               format="json")  # fmt: skip

    assert_validation_error(response, f"/{field}")
    after = Budget.objects.get(pk=budget.pk)
    assert (after.customer_id, after.created_at) == (alice.id, budget.created_at)


@pytest.mark.parametrize(
    "field", ["type", "title", "summary", "data", "severity", "customerId", "generatedAt", "id"]
)
def test_an_insight_patch_may_only_set_status_and_feedback(alice, alice_api, field):
    insight = add_insight(alice)
    before = Insight.objects.filter(pk=insight.pk).values().get()

    response = alice_api.patch(f"/usage/v1/Insights/{insight.id}",
                               {"status": "READ", field: "x"}, format="json")  # fmt: skip

    assert_validation_error(response, f"/{field}")
    assert Insight.objects.filter(pk=insight.pk).values().get() == before


def test_the_profile_cannot_be_written(alice, alice_api):
    for method in ("patch", "put", "post"):
        response = getattr(alice_api, method)(
            "/usage/v1/Customer/profile", {"email": "mallory@example.org"}, format="json"
        )
        assert response.status_code == 405
    alice.refresh_from_db()
    assert alice.email == "alice@example.org"


def test_login_ignores_a_customer_named_in_the_body(api, alice, bob, rsa_key, id_token_claims):
    token = rsa_key.sign(id_token_claims(alice.utility, "alice"))

    response = api.post(
        "/usage/v1/Customer/login",
        {"identityToken": token, "customer": {"id": str(bob.id)}, "sub": "bob"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["customer"]["id"] == str(alice.id)


def test_responses_expose_no_internal_properties(alice, alice_api):
    account = alice_api.get("/usage/v1/Accounts").json()["items"][0]
    profile = alice_api.get("/usage/v1/Customer/profile").json()

    assert "subject" not in profile and "active" not in profile
    assert account["accountNumber"].startswith("•")
    assert "billingCycleDay" not in account
