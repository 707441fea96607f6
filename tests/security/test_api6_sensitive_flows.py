"""API6:2023 Unrestricted Access to Sensitive Business Flows — the login flow (ID-token
exchange) and the refresh flow share a per-client-IP throttle where every attempt counts, good
or bad; past it, 429 with Retry-After. (The admin login's lockout: test_api2.)"""

from __future__ import annotations

import pytest

from customers.services import session_issue
from tests.conftest import assert_problem
from tests.security.conftest import login

LIMIT = 3


@pytest.fixture(autouse=True)
def login_rate(settings):
    """A small hourly budget, so no attempt can age out of the window while a test runs."""
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": f"{LIMIT}/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def login_limit() -> int:
    return LIMIT


def test_guessing_identity_tokens_is_throttled_per_ip(api, acme):
    for _ in range(login_limit()):
        assert login(api, "guess").status_code == 401

    throttled = login(api, "guess")

    assert_problem(throttled, 429, "rate-limited")
    assert int(throttled["Retry-After"]) >= 1


def test_good_logins_count_too_and_refresh_shares_the_budget(api, alice, rsa_key, id_token_claims):
    refresh = session_issue(customer=alice).refresh_token
    for _ in range(login_limit() - 1):
        assert login(api, rsa_key.sign(id_token_claims(alice.utility, "alice"))).status_code == 200
    api.post("/usage/v1/Customer/refresh", {"refreshToken": refresh}, format="json")

    response = login(api, rsa_key.sign(id_token_claims(alice.utility, "alice")))

    assert_problem(response, 429, "rate-limited")


def test_the_throttle_is_per_client_ip(api, acme):
    for _ in range(login_limit() + 1):
        login(api, "guess")

    other = api.post(
        "/usage/v1/Customer/login", {"identityToken": "guess"}, format="json",
        REMOTE_ADDR="203.0.113.50",
    )  # fmt: skip

    assert other.status_code == 401
