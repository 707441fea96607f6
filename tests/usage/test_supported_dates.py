"""Usage ranges at the edges of the calendar: outside the supported dates is a 400 naming the
parameter, never a 500 from date arithmetic (issue 9)."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_validation_error
from tests.conftest import client_for


@pytest.fixture
def meter(alice):
    return alice.accounts.get().meters.get()


@pytest.mark.parametrize(
    ("granularity", "start", "end", "fields"),
    [
        ("MONTH", "9999-12-30T00:00:00Z", "9999-12-31T00:00:00Z", ("start", "end")),
        ("BILLING_PERIOD", "9999-11-01T00:00:00Z", "9999-12-31T00:00:00Z", ("start", "end")),
        ("DAY", "0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z", ("start", "end")),
        ("HOUR", "0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z", ("start", "end")),
        ("WEEK", "0001-01-01", "0001-01-08", ("start", "end")),
        ("DAY", "2026-03-01", "9999-12-31", ("end",)),
        ("DAY", "2199-12-31T23:00:00Z", "2200-01-01T00:00:01Z", ("end",)),
    ],
)
def test_series_outside_the_supported_dates_is_a_validation_error(
    alice_api, meter, granularity, start, end, fields
):
    response = alice_api.get(
        f"/usage/v1/Usage/{meter.id}", {"granularity": granularity, "start": start, "end": end}
    )

    body = assert_validation_error(response, *fields)
    assert {error["code"] for error in body["errors"]} == {"out_of_range"}


@pytest.mark.parametrize(
    ("start", "end"),
    [("0001-01-01", "0001-01-08"), ("0001-01-01T00:00:00Z", "0001-01-02T00:00:00+05:00")],
)
def test_summary_outside_the_supported_dates_is_a_validation_error(alice_api, meter, start, end):
    response = alice_api.get(f"/usage/v1/Usage/{meter.id}/summary", {"start": start, "end": end})

    assert_validation_error(response, "start", "end")


def test_a_date_whose_local_midnight_is_before_the_supported_start_is_refused(new_meter):
    """1900-01-01 in Tokyo begins on 1899-12-31 UTC: outside, whatever the date says."""
    meter = new_meter(timezone="Asia/Tokyo")
    response = client_for(meter.account.customer).get(
        f"/usage/v1/Usage/{meter.id}",
        {"granularity": "DAY", "start": "1900-01-01", "end": "1900-01-03"},
    )

    assert_validation_error(response, "start")


@pytest.mark.parametrize("granularity", ["HOUR", "DAY", "WEEK", "MONTH", "BILLING_PERIOD"])
def test_the_edges_of_the_supported_dates_are_served(alice_api, meter, granularity):
    edges = [
        ("1900-01-01T00:00:00Z", "1900-01-02T00:00:00Z"),
        ("2199-12-30T00:00:00Z", "2200-01-01T00:00:00Z"),
    ]
    for start, end in edges:
        response = alice_api.get(
            f"/usage/v1/Usage/{meter.id}", {"granularity": granularity, "start": start, "end": end}
        )
        assert response.status_code == 200, response.content
        assert response.json()["items"] == []
    summary = alice_api.get(
        f"/usage/v1/Usage/{meter.id}/summary",
        {"start": "1900-01-01T05:00:00Z", "end": "1900-01-09T05:00:00Z"},
    )
    assert summary.status_code == 200, summary.content
