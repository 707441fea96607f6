"""GET /Insights, GET and PATCH /Insights/{id} (contract section 7)."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from customers.models import Customer, Meter
from insights.models import Insight
from insights.services import InsightDraft, insights_upsert
from tests.api.helpers import CustomerScopedEndpoint, PagedListEndpoint, assert_validation_error
from tests.conftest import assert_problem, make_account, make_meter

LIST = "/usage/v1/Insights"
DETAIL = "/usage/v1/Insights/{id}"
FIELDS = {
    "id",
    "type",
    "severity",
    "title",
    "summary",
    "accountId",
    "meterId",
    "periodStart",
    "periodEnd",
    "data",
    "status",
    "feedback",
    "generatedAt",
    "modelVersion",
}
_days = itertools.count()


def add_insight(
    customer: Customer,
    *,
    insight_type: str = "ALWAYS_ON",
    meter: Meter | None = None,
    account_level: bool = False,
    period_end: datetime | None = None,
) -> Insight:
    """An insight of ``customer`` about its first meter (or its account), each on a new day."""
    meter = meter or Meter.objects.filter(account__customer=customer).order_by("pk").first()
    end = period_end or datetime(2025, 1, 1, 5, tzinfo=UTC) + timedelta(days=next(_days))
    subject = f"account:{meter.account_id}" if account_level else f"meter:{meter.pk}"
    insights_upsert(
        drafts=[
            InsightDraft(
                customer=customer,
                type=insight_type,
                subject_key=subject,
                period_start=end - timedelta(days=30),
                period_end=end,
                title="Your home draws 150 W around the clock",
                summary="Devices that never switch off draw about 150 W.",
                model_version="always-on/1.0",
                account=meter.account,
                meter=None if account_level else meter,
                data={"baseloadWatts": 150.0, "annualCost": "216.81"},
            )
        ]
    )
    return Insight.objects.get(
        customer=customer,
        type=insight_type,
        subject_key=subject,
        period_start=end - timedelta(days=30),
    )


class TestInsightEndpoints(CustomerScopedEndpoint, PagedListEndpoint):
    list_path = LIST
    detail_path = DETAIL

    def resource_id(self, customer: Customer) -> str:
        return str(add_insight(customer).pk)

    def make_items(self, customer: Customer, count: int) -> set[str]:
        for _ in range(count):
            add_insight(customer)
        return {
            str(pk) for pk in Insight.objects.filter(customer=customer).values_list("pk", flat=True)
        }


def test_fields_are_exactly_the_contracts(alice, alice_api):
    insight = add_insight(alice)
    body = alice_api.get(DETAIL.format(id=insight.pk)).json()
    assert set(body) == FIELDS
    meter = insight.meter
    assert body["accountId"] == str(meter.account_id)
    assert body["meterId"] == str(meter.pk)
    assert body["feedback"] is None
    assert body["status"] == "NEW"
    assert body["modelVersion"] == "always-on/1.0"
    assert body["data"] == {"baseloadWatts": 150.0, "annualCost": "216.81"}
    # Period bounds at the meter's local offset (America/New_York in January: -05:00).
    assert body["periodEnd"].endswith("-05:00")


def test_account_level_insight_has_no_meter(alice, alice_api):
    insight = add_insight(alice, insight_type="PEER_COMPARISON", account_level=True)
    body = alice_api.get(DETAIL.format(id=insight.pk)).json()
    assert body["meterId"] is None
    assert body["accountId"] == str(insight.account_id)


def test_list_is_newest_period_first_and_only_mine(alice, alice_api, bob):
    older = add_insight(alice, period_end=datetime(2025, 1, 1, tzinfo=UTC))
    newer = add_insight(alice, period_end=datetime(2025, 3, 1, tzinfo=UTC))
    add_insight(bob)
    ids = [item["id"] for item in alice_api.get(LIST).json()["items"]]
    assert ids == [str(newer.pk), str(older.pk)]


def test_filters(alice, alice_api):
    first_meter = Meter.objects.get(account__customer=alice)
    second_meter = make_meter(make_account(alice, "222222222"), "E-ALICE-2")
    anomaly = add_insight(alice, insight_type="USAGE_ANOMALY", meter=first_meter)
    always_on = add_insight(alice, meter=second_meter)
    Insight.objects.filter(pk=always_on.pk).update(status="DISMISSED")

    def ids(**params) -> set[str]:
        response = alice_api.get(LIST, params)
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["items"]}

    assert ids(type="USAGE_ANOMALY") == {str(anomaly.pk)}
    assert ids(accountId=str(second_meter.account_id)) == {str(always_on.pk)}
    assert ids(meterId=str(first_meter.pk)) == {str(anomaly.pk)}
    assert ids(status="DISMISSED") == {str(always_on.pk)}
    assert ids(status="NEW", type="ALWAYS_ON") == set()


@pytest.mark.parametrize(
    ("param", "value"),
    [("type", "BOGUS"), ("status", "ARCHIVED"), ("accountId", "nope"), ("meterId", "42")],
)
def test_invalid_filter_values_are_400(alice_api, param, value):
    assert_validation_error(alice_api.get(LIST, {param: value}), param)


@pytest.mark.parametrize("param", ["accountId", "meterId"])
def test_foreign_and_unknown_ids_are_the_same_400(alice_api, bob, param):
    bob_meter = Meter.objects.get(account__customer=bob)
    foreign = bob_meter.account_id if param == "accountId" else bob_meter.pk
    foreign_body = assert_validation_error(alice_api.get(LIST, {param: str(foreign)}), param)
    unknown_body = assert_validation_error(alice_api.get(LIST, {param: str(uuid.uuid4())}), param)
    assert foreign_body["errors"] == unknown_body["errors"]


# --- single resources: ETag and PATCH ---------------------------------------------------------


def patch(client: APIClient, insight: Insight, body, **headers):
    return client.patch(
        DETAIL.format(id=insight.pk), json.dumps(body), content_type="application/json", **headers
    )


def test_get_has_an_etag_and_answers_304_to_it(alice, alice_api):
    insight = add_insight(alice)
    response = alice_api.get(DETAIL.format(id=insight.pk))
    etag = response["ETag"]
    assert etag.startswith('"')
    again = alice_api.get(DETAIL.format(id=insight.pk), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304


@pytest.mark.parametrize(
    "body",
    [
        {"status": "READ"},
        {"status": "DISMISSED"},
        {"feedback": "HELPFUL"},
        {"status": "READ", "feedback": "NOT_HELPFUL"},
    ],
)
def test_patch_sets_status_and_feedback(alice, alice_api, body):
    insight = add_insight(alice)
    response = patch(alice_api, insight, body)
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in body} == body
    insight.refresh_from_db()
    assert insight.status == body.get("status", "NEW")
    assert insight.feedback == body.get("feedback", "")
    assert response["ETag"] == alice_api.get(DETAIL.format(id=insight.pk))["ETag"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "NEW"}, "/status"),
        ({"status": "read"}, "/status"),
        ({"feedback": "MEH"}, "/feedback"),
        ({"status": "READ", "title": "mine now"}, "/title"),
        ({}, ""),
        ([], ""),
    ],
)
def test_patch_refuses_anything_else(alice, alice_api, body, field):
    insight = add_insight(alice)
    assert_validation_error(patch(alice_api, insight, body), field)
    insight.refresh_from_db()
    assert (insight.status, insight.feedback) == ("NEW", "")


def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(alice, alice_api):
    insight = add_insight(alice)
    etag = alice_api.get(DETAIL.format(id=insight.pk))["ETag"]
    assert patch(alice_api, insight, {"status": "READ"}, HTTP_IF_MATCH=etag).status_code == 200
    stale = patch(alice_api, insight, {"status": "DISMISSED"}, HTTP_IF_MATCH=etag)
    assert_problem(stale, 412, "precondition-failed")
    insight.refresh_from_db()
    assert insight.status == "READ"


def test_patch_of_another_customers_insight_is_404(alice_api, bob):
    insight = add_insight(bob)
    assert_problem(patch(alice_api, insight, {"status": "READ"}), 404, "not-found")
    insight.refresh_from_db()
    assert insight.status == "NEW"


def test_put_and_delete_are_not_allowed(alice, alice_api):
    insight = add_insight(alice)
    assert_problem(alice_api.delete(DETAIL.format(id=insight.pk)), 405, "method-not-allowed")
    assert_problem(
        alice_api.put(DETAIL.format(id=insight.pk), {}, format="json"), 405, "method-not-allowed"
    )


def test_list_is_served_from_stored_rows(alice, alice_api, django_assert_num_queries):
    """Reads never fit a model: a page is the stored rows, whatever their number."""
    for _ in range(3):
        add_insight(alice)
    # 1: the page of insights with their meters (the token's customer is a cached principal).
    with django_assert_num_queries(1):
        assert len(alice_api.get(LIST).json()["items"]) == 3


# --- schema ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict:
    response = APIClient().get("/usage/v1/schema", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def test_schema_documents_data_per_type(schema):
    from openapi_spec_validator import validate

    validate(schema)
    paths = schema["paths"]
    assert set(paths["/usage/v1/Insights"]) == {"get"}
    assert {"get", "patch"} <= set(paths["/usage/v1/Insights/{insightId}"])
    insight = schema["components"]["schemas"]["Insight"]
    assert insight["discriminator"]["propertyName"] == "type"
    mapping = insight["discriminator"]["mapping"]
    assert set(mapping) == {
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
    components = schema["components"]["schemas"]
    forecast = components[mapping["BILL_FORECAST"].rsplit("/", 1)[1]]
    data = components[forecast["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
    assert {
        "usedToDate",
        "costToDate",
        "forecastQuantity",
        "forecastCost",
        "forecastCostLow",
        "forecastCostHigh",
    } <= set(data["properties"])
    parameters = {p["name"] for p in paths["/usage/v1/Insights"]["get"]["parameters"]}
    assert {"type", "accountId", "meterId", "status", "pageSize", "pageToken"} <= parameters
    assert "412" in paths["/usage/v1/Insights/{insightId}"]["patch"]["responses"]
