"""Throttles as one Redis counter per client and window, failing open when Redis is down, and
refused bearer tokens counted per client IP (issues 8 and 9)."""

from __future__ import annotations

import logging

import pytest
import redis
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from customers.models import Customer
from customers.services import session_issue
from tests.conftest import assert_problem, client_for
from tests.tcp_proxy import free_port

ACCOUNTS = "/usage/v1/Accounts"
PROFILE = "/usage/v1/Customer/profile"


def _rates(settings, **rates: str) -> None:
    defaults = {"login": "20/min", "customer": "1200/min", "bad_token": "60/min"}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**defaults, **rates},
    }


@pytest.fixture
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(django_settings.REDIS_URL)


def test_customer_window_is_one_counter_in_redis(settings, alice, alice_api, redis_client):
    _rates(settings, customer="3/min")
    for _ in range(3):
        assert alice_api.get(ACCOUNTS).status_code == 200

    key = f"energygrid:throttle:customer:customer:{alice.pk}"
    assert redis_client.get(key) == b"3"
    assert 0 < redis_client.pttl(key) <= 60_000
    limited = alice_api.get(ACCOUNTS)
    assert_problem(limited, 429, "rate-limited")
    assert 1 <= int(limited["Retry-After"]) <= 60


def test_reads_go_on_when_redis_is_unreachable(settings, alice_api, caplog):
    """Regression (issue 9): the customer throttle's cache call raised ConnectionError -> 500."""
    dead = f"redis://127.0.0.1:{free_port()}/1"
    settings.REDIS_URL = dead
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": dead,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    _rates(settings, customer="1/min")

    with caplog.at_level(logging.WARNING, logger="energygrid.api.throttling"):
        responses = [alice_api.get(ACCOUNTS) for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 200]
    warnings = [r for r in caplog.records if "Redis is unreachable" in r.getMessage()]
    assert len(warnings) == 1  # then Redis is left alone for the backoff, not retried per request


def test_a_refused_command_does_not_switch_throttling_off(
    settings, alice, alice_api, bob, bob_api, redis_client, caplog
):
    """Only an unreachable Redis is left alone for the backoff: a command Redis refuses (here
    a counter that is not a number) lets that request through, and the throttles go on."""
    _rates(settings, customer="1/min")
    redis_client.rpush(f"energygrid:throttle:customer:customer:{alice.pk}", "not a counter")

    with caplog.at_level(logging.WARNING, logger="energygrid.api.throttling"):
        refused = alice_api.get(ACCOUNTS)
    bob_first, bob_second = bob_api.get(ACCOUNTS), bob_api.get(ACCOUNTS)

    assert refused.status_code == bob_first.status_code == 200
    assert_problem(bob_second, 429, "rate-limited")
    assert [r.getMessage() for r in caplog.records if r.name == "energygrid.api.throttling"] == [
        "Throttling skipped a request: Redis refused a command (ResponseError)"
    ]


def test_bad_bearer_tokens_are_throttled_per_client_ip(settings, alice_api, api):
    """Regression (issue 9): refused bearer tokens were never throttled."""
    _rates(settings, bad_token="3/min")
    for _ in range(3):
        assert_problem(api.get(PROFILE, HTTP_AUTHORIZATION="Bearer x.y.z"), 401, "invalid-token")

    limited = api.get(PROFILE, HTTP_AUTHORIZATION="Bearer x.y.z")
    assert_problem(limited, 429, "rate-limited")
    assert int(limited["Retry-After"]) >= 1
    other_ip = api.get(PROFILE, HTTP_AUTHORIZATION="Bearer x.y.z", REMOTE_ADDR="192.0.2.9")
    assert_problem(other_ip, 401, "invalid-token")
    assert alice_api.get(PROFILE).status_code == 200  # a valid token from that IP still works


def test_deactivation_elsewhere_applies_within_the_cache_bound(settings, alice, monkeypatch):
    """Another process's deactivation (no signal reaches this one) cuts access once this
    process's cached principal is AUTH_CUSTOMER_CACHE_SECONDS old."""
    now = [1000.0]
    monkeypatch.setattr("customers.selectors._clock", lambda: now[0])
    settings.AUTH_CUSTOMER_CACHE_SECONDS = 30
    client = client_for(alice)
    assert client.get(PROFILE).status_code == 200

    Customer.objects.filter(pk=alice.pk).update(active=False)
    now[0] += 29
    assert client.get(ACCOUNTS).status_code == 200
    now[0] += 2
    assert_problem(client.get(ACCOUNTS), 401, "invalid-token")


def test_a_known_customer_costs_no_query(alice, django_assert_num_queries):
    session = session_issue(customer=alice)
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {session.access_token}")
    client.get(ACCOUNTS)

    # 1: the accounts, 2: their meters' ids; none to authenticate (was one more per request).
    with django_assert_num_queries(2):
        response = client.get(ACCOUNTS)
    assert response.status_code == 200


def test_refresh_is_refused_at_once_after_deactivation(api, alice):
    session = session_issue(customer=alice)
    Customer.objects.filter(pk=alice.pk).update(active=False)

    refused = api.post(
        "/usage/v1/Customer/refresh", {"refreshToken": session.refresh_token}, format="json"
    )
    assert_problem(refused, 401, "invalid-token")
