"""API2:2023 Broken Authentication — forged, expired, mis-scoped and replayed tokens on the API,
and password guessing on the admin login (locked out per username and client IP)."""

from __future__ import annotations

import time

import jwt
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from customers.services import session_issue
from tests.conftest import assert_problem
from tests.security.conftest import login

PROFILE = "/usage/v1/Customer/profile"
ADMIN_LOGIN = "/admin/login/?next=/admin/"


def access_claims(customer, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "token_type": "access",
        "sub": str(customer.id),
        "aud": settings.SIMPLE_JWT["AUDIENCE"],
        "iss": settings.SIMPLE_JWT["ISSUER"],
        "iat": now,
        "exp": now + 300,
        "jti": "x",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def our_key() -> str:
    return settings.SIMPLE_JWT["SIGNING_KEY"]


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda c: jwt.encode(access_claims(c), "a-guessed-secret-of-at-least-32-bytes"),
            id="other-key",
        ),
        pytest.param(
            lambda c: jwt.encode(access_claims(c), settings.SECRET_KEY * 2), id="django-key"
        ),
        pytest.param(lambda c: jwt.encode(access_claims(c), None, algorithm="none"), id="alg-none"),
        pytest.param(
            lambda c: jwt.encode(access_claims(c, exp=int(time.time()) - 3600), our_key()),
            id="expired",
        ),
        pytest.param(
            lambda c: jwt.encode(access_claims(c, aud="someone-else"), our_key()), id="audience"
        ),
        pytest.param(
            lambda c: jwt.encode(access_claims(c, token_type="refresh"), our_key()),
            id="refresh-as-access",
        ),
        pytest.param(lambda c: session_issue(customer=c).refresh_token, id="real-refresh-token"),
        pytest.param(
            lambda c: jwt.encode(
                access_claims(c, sub="00000000-0000-0000-0000-000000000000"), our_key()
            ),
            id="unknown-customer",
        ),
        pytest.param(lambda c: session_issue(customer=c).access_token[:-4] + "AAAA", id="edited"),
    ],
)
def test_forged_or_misused_access_tokens_are_401(api, alice, forge):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {forge(alice)}")

    response = api.get(PROFILE)

    assert_problem(response, 401, "invalid-token")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic YWxpY2U6cHc=", "Token abc", "x"])
def test_malformed_authorization_headers_are_401(api, alice, header):
    api.credentials(HTTP_AUTHORIZATION=header)

    assert api.get(PROFILE).status_code == 401


def test_a_token_in_the_query_string_is_ignored(api, alice):
    token = session_issue(customer=alice).access_token

    assert_problem(api.get(PROFILE, {"access_token": token}), 401, "not-authenticated")


def test_a_deactivated_customers_live_token_stops_working(api, alice):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {session_issue(customer=alice).access_token}")
    assert api.get(PROFILE).status_code == 200
    alice.active = False
    alice.save()

    assert_problem(api.get(PROFILE), 401, "invalid-token")


def test_a_replayed_id_token_is_refused(api, alice, rsa_key, id_token_claims):
    token = rsa_key.sign(id_token_claims(alice.utility, "alice"))
    assert login(api, token).status_code == 200

    assert_problem(login(api, token), 401, "invalid-token")


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user("ops", password="correct horse battery", is_staff=True)


def admin_login(password: str, ip: str = "198.51.100.7", username: str = "ops"):
    return Client(REMOTE_ADDR=ip).post(ADMIN_LOGIN, {"username": username, "password": password})


def test_the_admin_login_locks_a_username_and_ip_out_after_5_failures(staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert admin_login("guess").status_code == 200  # the form again, with an error
    locked = admin_login("guess")

    assert_problem(locked, 429, "rate-limited")
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    # Locked out: even the right password is refused from there...
    assert admin_login("correct horse battery").status_code == 429
    # ...while the same user elsewhere, and other users here, are not held up.
    assert admin_login("correct horse battery", ip="203.0.113.9").status_code == 302
    User.objects.create_user("other", password="pw-other-1", is_staff=True)
    assert admin_login("pw-other-1", username="other").status_code == 302


def test_a_successful_admin_login_resets_the_count(staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        admin_login("guess")
    assert admin_login("correct horse battery").status_code == 302

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert admin_login("guess").status_code == 200


def test_the_lockout_counts_the_client_ip_behind_trusted_proxies(staff, settings):
    """Behind one proxy, the client is the last X-Forwarded-For hop, not the proxy."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def via_proxy(client_ip: str):
        return Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=client_ip).post(
            ADMIN_LOGIN, {"username": "ops", "password": "guess"}
        )

    for _ in range(settings.AXES_FAILURE_LIMIT):
        via_proxy("198.51.100.7")

    assert via_proxy("198.51.100.7").status_code == 429
    assert via_proxy("203.0.113.9").status_code == 200
