"""The OpenAPI schema describes /Budgets: operations, headers, and their problem responses."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

PREFIX = "/usage/v1"


@pytest.fixture(scope="module")
def schema() -> dict:
    response = APIClient().get(f"{PREFIX}/schema", {"format": "json"})
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def parameters(operation: dict) -> dict[str, str]:
    return {p["name"]: p["in"] for p in operation.get("parameters", [])}


def test_budget_operations_are_described(schema):
    assert set(schema["paths"][f"{PREFIX}/Budgets"]) >= {"get", "post"}
    assert set(schema["paths"][f"{PREFIX}/Budgets/{{budgetId}}"]) >= {"get", "patch", "delete"}
    assert "put" not in schema["paths"][f"{PREFIX}/Budgets/{{budgetId}}"]


def test_list_filters_and_paging(schema):
    operation = schema["paths"][f"{PREFIX}/Budgets"]["get"]
    assert {"accountId", "active", "pageSize", "pageToken"} <= set(parameters(operation))
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert body["required"] == ["items"]
    assert body["properties"]["items"]["items"]["$ref"].endswith("/Budget")


def test_create_documents_idempotency_and_its_problems(schema):
    operation = schema["paths"][f"{PREFIX}/Budgets"]["post"]
    assert parameters(operation)["Idempotency-Key"] == "header"
    assert set(operation["responses"]["201"]["headers"]) >= {"Location", "ETag"}
    for code in ("400", "409", "422"):
        assert list(operation["responses"][code]["content"]) == ["application/problem+json"]


def test_conditional_writes_document_if_match_and_412(schema):
    for method in ("patch", "delete"):
        operation = schema["paths"][f"{PREFIX}/Budgets/{{budgetId}}"][method]
        assert parameters(operation)["If-Match"] == "header"
        assert "412" in operation["responses"]
        assert "404" in operation["responses"]


def test_the_budget_shape(schema):
    budget = schema["components"]["schemas"]["Budget"]
    assert set(budget["properties"]) == {
        "id",
        "name",
        "kind",
        "period",
        "accountId",
        "meterId",
        "limit",
        "alertThresholds",
        "active",
        "createdAt",
        "updatedAt",
        "status",
    }
    status = schema["components"]["schemas"]["BudgetStatus"]
    assert set(status["properties"]) == {
        "periodStart",
        "periodEnd",
        "used",
        "projected",
        "percentUsed",
        "state",
        "asOf",
    }
