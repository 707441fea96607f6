"""Operations: JSON logs (one access line per request, no secrets or personal data in any line)
and Prometheus metrics at /metrics (request latency by route, Celery tasks, rollup lag per
meter, queue depth)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from customers.models import Customer
from energygrid.celery import app as celery_app
from tests.conftest import assert_problem
from tests.customers.test_login import login
from usage.models import RollupDirtyRange


class LogCapture:
    """Log lines exactly as the configured console handler writes them (formatter and filter)."""

    def __init__(self) -> None:
        console = next(h for h in logging.getLogger().handlers if h.name == "console")
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(console.formatter)
        for log_filter in console.filters:
            self.handler.addFilter(log_filter)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines()]

    def access(self) -> list[dict]:
        return [r for r in self.records() if r["logger"] == "energygrid.access"]


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    root = logging.getLogger()
    root.addHandler(capture.handler)
    yield capture
    root.removeHandler(capture.handler)


def test_a_login_and_reads_log_one_json_line_each_without_tokens_or_personal_data(
    logs, api, alice: Customer, rsa_key, id_token_claims
):
    identity_token = rsa_key.sign(id_token_claims(alice.utility, "alice"))
    session = login(api, identity_token)
    tokens = session.json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['accessToken']}")
    meter = alice.accounts.get().meters.get()
    responses = [
        session,
        api.get("/usage/v1/Customer/profile"),
        api.get("/usage/v1/Meters", {"pageSize": 5}),
        api.get(
            f"/usage/v1/Usage/{meter.id}",
            {"granularity": "DAY", "start": "2026-11-01", "end": "2026-11-08"},
        ),
        api.post(
            "/usage/v1/Customer/refresh", {"refreshToken": tokens["refreshToken"]}, format="json"
        ),
        api.get("/usage/v1/Accounts/not-a-uuid"),
    ]

    access = logs.access()
    assert [line["request_id"] for line in access] == [r["X-Request-ID"] for r in responses]
    assert [line["status"] for line in access] == [r.status_code for r in responses]
    assert [line["route"] for line in access] == [
        "usage/v1/Customer/login",
        "usage/v1/Customer/profile",
        "usage/v1/Meters",
        "usage/v1/Usage/{meterId}",
        "usage/v1/Customer/refresh",
        "usage/v1/Accounts/{accountId}",
    ]
    assert [line["customer_id"] for line in access] == [
        None,
        *[str(alice.pk)] * 3,
        None,
        str(alice.pk),
    ]
    assert all(line["method"] in {"GET", "POST"} and line["duration_ms"] >= 0 for line in access)
    account = alice.accounts.get()
    secrets = [
        identity_token,
        tokens["accessToken"],
        tokens["refreshToken"],
        responses[4].json()["refreshToken"],
        alice.email,
        alice.display_name,
        account.account_number,
        "2026-11-01",  # query strings stay out
    ]
    for secret in secrets:
        assert secret not in logs.text


def test_django_request_error_lines_carry_the_request_id(logs, api, settings):
    """``django.request`` logs after the middleware has returned; it used to print ``[-]``."""
    settings.ROOT_URLCONF = "tests.api.urls"
    response = api.get("/test/drf-failure", HTTP_X_REQUEST_ID="trace-500")

    assert_problem(response, 500, "internal-error")
    django_lines = [r for r in logs.records() if r["logger"] == "django.request"]
    assert django_lines
    assert {line["request_id"] for line in django_lines} == {"trace-500"}
    assert all(line["request_id"] == "trace-500" for line in logs.records())


def scrape(api, **headers) -> dict[str, list]:
    response = api.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    families = text_string_to_metric_families(response.content.decode())
    return {family.name: family.samples for family in families}


def sample(metrics: dict, name: str, sample_name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in metrics.get(name, [])
        if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_count_requests_by_route_template(api, alice_api, alice):
    labels = {"route": "usage/v1/Meters/{meterId}", "method": "GET", "status": "2xx"}
    before = sample(
        scrape(api),
        "energygrid_request_duration_seconds",
        "energygrid_request_duration_seconds_count",
        **labels,
    )
    meter = alice.accounts.get().meters.get()
    for _ in range(3):
        assert alice_api.get(f"/usage/v1/Meters/{meter.id}").status_code == 200

    after = sample(
        scrape(api),
        "energygrid_request_duration_seconds",
        "energygrid_request_duration_seconds_count",
        **labels,
    )
    assert after - before == 3


def test_metrics_show_rollup_lag_of_meters_with_pending_changes_only(api, alice, bob):
    meter = alice.accounts.get().meters.get()
    now = timezone.now()
    dirty = RollupDirtyRange.objects.create(meter=meter, start=now - timedelta(days=1), end=now)
    RollupDirtyRange.objects.filter(pk=dirty.pk).update(created_at=now - timedelta(minutes=10))

    lags = {s.labels["meter"]: s.value for s in scrape(api)["energygrid_rollup_lag_seconds"]}

    assert set(lags) == {str(meter.id)}
    assert lags[str(meter.id)] >= 600


def test_metrics_show_queue_depth(api, db):
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("insights")
        try:
            for _ in range(2):
                celery_app.send_task("tests.never-run", queue="insights", connection=connection)

            depths = {s.labels["queue"]: s.value for s in scrape(api)["energygrid_queue_depth"]}
        finally:
            connection.default_channel.queue_purge("insights")

    assert depths["insights"] == 2
    assert set(depths) == {"default", "ingest", "insights"}


@celery_app.task(name="tests.operations.fails")
def failing_task() -> None:
    raise ValueError("deliberate failure")


def test_metrics_time_tasks_and_count_their_failures(api, db):
    from customers.tasks import purge_expired_tokens

    name = "customers.tasks.purge_expired_tokens"
    count = "energygrid_task_duration_seconds_count"
    before = scrape(api)
    purge_expired_tokens.delay()
    failed = failing_task.apply(throw=False)  # as a worker runs it: the failure is recorded
    after = scrape(api)

    assert failed.state == "FAILURE"

    family = "energygrid_task_duration_seconds"
    assert (
        sample(after, family, count, task=name, state="SUCCESS")
        - sample(before, family, count, task=name, state="SUCCESS")
        == 1
    )
    failures = "energygrid_task_failures"
    fails = "tests.operations.fails"
    assert (
        sample(after, failures, "energygrid_task_failures_total", task=fails)
        - sample(before, failures, "energygrid_task_failures_total", task=fails)
        == 1
    )


def test_metrics_need_the_token_when_one_is_set(api, settings, db):
    settings.METRICS_TOKEN = "scrape-secret"

    assert_problem(api.get("/metrics"), 404, "not-found")
    assert_problem(api.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong"), 404, "not-found")
    assert "energygrid_queue_depth" in scrape(api, HTTP_AUTHORIZATION="Bearer scrape-secret")


def test_metrics_are_not_under_the_public_api(api, db):
    assert_problem(api.get("/usage/v1/metrics"), 404, "not-found")
