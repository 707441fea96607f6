"""Deeply nested JSON bodies are a 400 problem on every JSON endpoint, never a RecursionError
500 (issue 9); the depth limit is the one parser's, so it holds for endpoints added later."""

from __future__ import annotations

import json

import pytest

from energygrid.api.parsers import MAX_JSON_DEPTH, json_depth
from tests.conftest import assert_problem


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/usage/v1/Customer/login"),
        ("post", "/usage/v1/Customer/refresh"),
        ("post", "/usage/v1/Customer/logout"),
        ("post", "/usage/v1/Budgets"),
    ],
)
def test_a_body_nested_thousands_deep_is_malformed(alice_api, method, path):
    body = '{"identityToken": ' + nested(50_000) + "}"

    response = getattr(alice_api, method)(path, body, content_type="application/json")

    problem = assert_problem(response, 400, "malformed-request")
    assert "nested" in problem["detail"]


def test_insight_patch_refuses_deep_json(alice_api):
    response = alice_api.patch(
        "/usage/v1/Insights/00000000-0000-0000-0000-000000000000",
        nested(5_000),
        content_type="application/json",
    )

    assert_problem(response, 400, "malformed-request")


def test_just_past_the_limit_is_refused_and_at_the_limit_is_parsed(alice_api):
    """At the limit the body parses (and fails validation as a body); one more level is refused."""
    login = "/usage/v1/Customer/login"
    deep = {"identityToken": json.loads(nested(MAX_JSON_DEPTH - 1))}
    deeper = {"identityToken": json.loads(nested(MAX_JSON_DEPTH))}

    assert_problem(alice_api.post(login, deep, format="json"), 400, "validation-error")
    assert_problem(alice_api.post(login, deeper, format="json"), 400, "malformed-request")


@pytest.mark.parametrize(
    ("document", "depth"),
    [(1, 0), ("x", 0), ([], 1), ({}, 1), ({"a": [1, {"b": []}]}, 4), ([[[]], []], 3)],
)
def test_json_depth(document, depth):
    assert json_depth(document) == depth
