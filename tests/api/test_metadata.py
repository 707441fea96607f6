"""Metadata lists (contract section 3): public, fixed, and cacheable with ETag/304."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import assert_problem

BASE = "/usage/v1/Metadata/"
LISTS = [
    "granularity-types",
    "service-types",
    "units-of-measure",
    "insight-types",
    "budget-periods",
    "flow-directions",
]


def items(api, name: str) -> list[dict]:
    response = api.get(BASE + name)
    assert response.status_code == 200, response.content
    return response.json()["items"]


def by_id(api, name: str) -> dict[str, dict]:
    return {item["id"]: item for item in items(api, name)}


def test_granularity_types(db, api):
    granularities = by_id(api, "granularity-types")
    assert set(granularities) >= {
        "FIFTEEN_MINUTE",
        "HOUR",
        "DAY",
        "WEEK",
        "MONTH",
        "BILLING_PERIOD",
    }
    assert granularities["FIFTEEN_MINUTE"] == {
        "id": "FIFTEEN_MINUTE",
        "name": "15 minutes",
        "nominalSeconds": 900,
        "calendar": False,
        "maxRangeDays": 31,
    }
    assert granularities["HOUR"]["nominalSeconds"] == 3600
    for calendar_id in ("DAY", "WEEK", "MONTH", "BILLING_PERIOD"):
        assert granularities[calendar_id]["nominalSeconds"] is None
        assert granularities[calendar_id]["calendar"] is True
    for granularity in granularities.values():
        assert set(granularity) == {"id", "name", "nominalSeconds", "calendar", "maxRangeDays"}
        assert granularity["maxRangeDays"] > 0


def test_granularities_are_listed_finest_first(db, api):
    ids = [item["id"] for item in items(api, "granularity-types")]
    assert ids == ["FIFTEEN_MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "BILLING_PERIOD"]


def test_service_types_and_units_agree(db, api):
    services = by_id(api, "service-types")
    units = by_id(api, "units-of-measure")
    assert set(services) == {"ELECTRIC", "GAS", "WATER"}
    assert {"kWh", "therm", "CCF", "gal"} <= set(units)
    for service in services.values():
        assert set(service) == {"id", "name", "defaultUnitOfMeasure"}
        assert service["id"] in units[service["defaultUnitOfMeasure"]]["serviceTypes"]
    for unit in units.values():
        assert set(unit) == {"id", "name", "serviceTypes"}
        assert unit["serviceTypes"]
        assert set(unit["serviceTypes"]) <= set(services)
    assert units["kWh"] == {"id": "kWh", "name": "Kilowatt-hour", "serviceTypes": ["ELECTRIC"]}


def test_insight_types_cover_the_contract(db, api):
    insight_types = by_id(api, "insight-types")
    assert set(insight_types) == {
        "BILL_FORECAST",
        "HIGH_BILL_ALERT",
        "USAGE_ANOMALY",
        "PERIOD_COMPARISON",
        "PEER_COMPARISON",
        "ALWAYS_ON",
        "PEAK_TIME",
        "BUDGET_ALERT",
        "SOLAR_EXPORT",
    }
    for insight_type in insight_types.values():
        assert set(insight_type) == {"id", "name", "description"}
        assert insight_type["name"]
        assert insight_type["description"]


def test_budget_periods(db, api):
    assert items(api, "budget-periods") == [
        {"id": "MONTHLY", "name": "Calendar month"},
        {"id": "BILLING_PERIOD", "name": "Billing period"},
    ]


def test_flow_directions(db, api):
    assert items(api, "flow-directions") == [
        {"id": "NET", "name": "Net (delivered minus received)"},
        {"id": "DELIVERED", "name": "Delivered (grid to customer)"},
        {"id": "RECEIVED", "name": "Received (customer to grid)"},
    ]


@pytest.mark.parametrize("name", LISTS)
class TestEveryList:
    def test_public_envelope_without_page_token(self, db, api, name):
        response = api.get(BASE + name, {"pageSize": 1})
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert list(body) == ["items"]
        assert len(body["items"]) > 1  # a fixed list is never paged

    def test_a_stale_bearer_token_does_not_break_a_public_read(self, db, api, name):
        api.credentials(HTTP_AUTHORIZATION="Bearer expired.or.garbage")
        assert api.get(BASE + name).status_code == 200

    def test_cache_headers_and_strong_etag_of_the_body(self, db, api, name):
        response = api.get(BASE + name)
        assert response["Cache-Control"] == "public, max-age=3600"
        assert response["ETag"] == f'"{hashlib.sha256(response.content).hexdigest()}"'

    @pytest.mark.parametrize(
        "if_none_match",
        ["{etag}", "W/{etag}", '"stale", {etag}', '"a",W/{etag} ,"b"', "*", " * "],
    )
    def test_matching_if_none_match_is_304(self, db, api, name, if_none_match):
        etag = api.get(BASE + name)["ETag"]

        response = api.get(BASE + name, HTTP_IF_NONE_MATCH=if_none_match.format(etag=etag))

        assert response.status_code == 304
        assert response.content == b""
        assert response["ETag"] == etag
        assert response["Cache-Control"] == "public, max-age=3600"
        assert response["X-Request-ID"]

    @pytest.mark.parametrize("if_none_match", ['"stale"', 'W/"stale"', "garbage", '""'])
    def test_other_if_none_match_is_200(self, db, api, name, if_none_match):
        response = api.get(BASE + name, HTTP_IF_NONE_MATCH=if_none_match)
        assert response.status_code == 200
        assert response.json()["items"]

    def test_if_match_is_compared_strongly(self, db, api, name):
        etag = api.get(BASE + name)["ETag"]
        assert api.get(BASE + name, HTTP_IF_MATCH=etag).status_code == 200
        assert api.get(BASE + name, HTTP_IF_MATCH="*").status_code == 200
        assert_problem(api.get(BASE + name, HTTP_IF_MATCH=f"W/{etag}"), 412, "precondition-failed")
        assert_problem(api.get(BASE + name, HTTP_IF_MATCH='"stale"'), 412, "precondition-failed")

    def test_head_has_the_same_validators(self, db, api, name):
        get = api.get(BASE + name)
        head = api.head(BASE + name)
        assert head.status_code == 200
        assert head["ETag"] == get["ETag"]

    def test_writes_are_405(self, db, api, name):
        assert_problem(api.post(BASE + name, {}, format="json"), 405, "method-not-allowed")
        assert_problem(api.delete(BASE + name), 405, "method-not-allowed")


def test_each_list_has_its_own_etag(db, api):
    etags = {api.get(BASE + name)["ETag"] for name in LISTS}
    assert len(etags) == len(LISTS)


def test_unknown_metadata_list_is_404(db, api):
    assert_problem(api.get(BASE + "colour-types"), 404, "not-found")


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("size", ["0", "-1", "abc", "1.5"])
def test_a_bad_page_size_is_a_400_even_on_a_fixed_list(db, api, name, size):
    body = assert_problem(api.get(BASE + name, {"pageSize": size}), 400, "validation-error")

    assert [error["field"] for error in body["errors"]] == ["pageSize"]


def test_a_good_page_size_still_returns_the_whole_fixed_list(db, api):
    assert len(api.get(BASE + "granularity-types", {"pageSize": "1"}).json()["items"]) >= 6
