"""A filter given with an empty value is a 400 naming it, on every list and query (issue 9):
``?active=`` must not silently mean "no filter"."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_validation_error


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/usage/v1/Budgets", "active"),
        ("/usage/v1/Budgets", "accountId"),
        ("/usage/v1/Meters", "serviceType"),
        ("/usage/v1/Meters", "accountId"),
        ("/usage/v1/Insights", "type"),
        ("/usage/v1/Insights", "status"),
        ("/usage/v1/Insights", "accountId"),
        ("/usage/v1/Insights", "meterId"),
    ],
)
def test_an_empty_filter_is_a_validation_error(alice_api, path, param):
    body = assert_validation_error(alice_api.get(path, {param: ""}), param)

    assert body["errors"][0]["code"] == "blank"


def test_an_empty_export_format_is_a_validation_error(alice, alice_api):
    meter = alice.accounts.get().meters.get()
    response = alice_api.get(
        f"/usage/v1/Usage/{meter.id}/export",
        {"format": "", "start": "2026-03-01", "end": "2026-03-02"},
    )

    assert_validation_error(response, "format")


def test_a_filter_repeated_with_one_empty_value_is_refused(alice_api):
    response = alice_api.get("/usage/v1/Meters?serviceType=ELECTRIC&serviceType=")

    assert_validation_error(response, "serviceType")


def test_filters_left_out_still_list_everything(alice_api):
    assert len(alice_api.get("/usage/v1/Meters").json()["items"]) == 1
