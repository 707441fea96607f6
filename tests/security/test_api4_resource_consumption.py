"""API4:2023 Unrestricted Resource Consumption — every request is bounded: page size (clamped),
time ranges (per granularity, export a year), body size (1 MiB, refused before parsing), JSON
depth (tests/api/test_json_depth.py), token and header lengths, budgets per customer. CSV and
XML bombs through ``import_readings`` are covered by the import tests (tests/usage)."""

from __future__ import annotations

import json

import pytest

from energygrid.api.pagination import MAX_PAGE_SIZE
from tests.conftest import assert_problem

MIB = 1024 * 1024


@pytest.mark.parametrize("size", [str(MAX_PAGE_SIZE + 1), "10" * 3000])
def test_a_huge_page_size_is_clamped_not_obeyed(alice_api, size):
    response = alice_api.get("/usage/v1/Meters", {"pageSize": size})

    assert response.status_code == 200
    assert len(response.json()["items"]) <= MAX_PAGE_SIZE


@pytest.mark.parametrize(
    ("granularity", "end"),
    [("FIFTEEN_MINUTE", "2026-02-02"), ("HOUR", "2026-04-05"), ("DAY", "2029-01-06")],
)
def test_ranges_longer_than_the_granularity_allows_are_refused(alice, alice_api, granularity, end):
    meter = alice.accounts.get().meters.get()
    response = alice_api.get(
        f"/usage/v1/Usage/{meter.id}", {"granularity": granularity, "start": "2026-01-01",
                                        "end": end},
    )  # fmt: skip

    assert_problem(response, 400, "range-too-large")


def test_an_export_longer_than_a_year_is_refused(alice, alice_api):
    meter = alice.accounts.get().meters.get()
    response = alice_api.get(
        f"/usage/v1/Usage/{meter.id}/export", {"start": "2025-01-01", "end": "2026-01-03"}
    )

    assert_problem(response, 400, "range-too-large")


@pytest.mark.parametrize("path", ["/usage/v1/Customer/login", "/usage/v1/Budgets"])
def test_a_body_over_a_mebibyte_is_refused_before_parsing(alice_api, path):
    body = json.dumps({"identityToken": "x" * MIB})

    assert_problem(alice_api.post(path, body, content_type="application/json"), 413,
                   "payload-too-large")  # fmt: skip


def test_an_oversized_identity_token_is_refused_without_verifying_it(api, db):
    response = api.post("/usage/v1/Customer/login", {"identityToken": "a." * 9000}, format="json")

    assert_problem(response, 400, "validation-error")


def test_an_oversized_request_id_is_replaced_not_echoed(api, db):
    response = api.get("/healthz", HTTP_X_REQUEST_ID="r" * 10_000)

    assert len(response["X-Request-ID"]) == 36


def test_a_customer_holds_at_most_20_budgets(alice, alice_api):
    body = {"name": "B", "kind": "COST", "period": "MONTHLY",
            "accountId": str(alice.accounts.get().id), "limit": "1.00"}  # fmt: skip
    for _ in range(20):
        assert alice_api.post("/usage/v1/Budgets", body, format="json").status_code == 201

    assert_problem(alice_api.post("/usage/v1/Budgets", body, format="json"), 409, "conflict")


def test_alert_thresholds_are_bounded(alice, alice_api):
    body = {"name": "B", "kind": "COST", "period": "MONTHLY", "limit": "1.00",
            "accountId": str(alice.accounts.get().id),
            "alertThresholds": list(range(1, 200))}  # fmt: skip

    assert_problem(alice_api.post("/usage/v1/Budgets", body, format="json"), 400,
                   "validation-error")  # fmt: skip
