"""Our own session tokens: refresh rotation, logout, deactivation, bearer checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.tokens import AccessToken

from customers import authentication
from tests.conftest import assert_problem

REFRESH = "/usage/v1/Customer/refresh"
LOGOUT = "/usage/v1/Customer/logout"
PROFILE = "/usage/v1/Customer/profile"


@pytest.fixture
def session(api, alice, rsa_key, id_token_claims) -> dict:
    token = rsa_key.sign(id_token_claims(alice.utility, "alice"))
    response = api.post("/usage/v1/Customer/login", {"identityToken": token}, format="json")
    assert response.status_code == 200
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_refresh_rotates_and_the_old_token_dies(api, session):
    first = api.post(REFRESH, {"refreshToken": session["refreshToken"]}, format="json")

    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refreshToken"] != session["refreshToken"]
    assert api.get(PROFILE, **bearer(rotated["accessToken"])).status_code == 200
    again = api.post(REFRESH, {"refreshToken": session["refreshToken"]}, format="json")
    assert_problem(again, 401, "invalid-token")


def test_reusing_a_rotated_token_revokes_the_whole_family(api, session):
    rotated = api.post(REFRESH, {"refreshToken": session["refreshToken"]}, format="json").json()

    api.post(REFRESH, {"refreshToken": session["refreshToken"]}, format="json")

    stolen = api.post(REFRESH, {"refreshToken": rotated["refreshToken"]}, format="json")
    assert_problem(stolen, 401, "invalid-token")


def test_access_token_is_not_a_refresh_token(api, session):
    response = api.post(REFRESH, {"refreshToken": session["accessToken"]}, format="json")

    assert_problem(response, 401, "invalid-token")


def test_logout_kills_the_refresh_token(api, session):
    response = api.post(
        LOGOUT,
        {"refreshToken": session["refreshToken"]},
        format="json",
        **bearer(session["accessToken"]),
    )

    assert response.status_code == 204
    dead = api.post(REFRESH, {"refreshToken": session["refreshToken"]}, format="json")
    assert_problem(dead, 401, "invalid-token")


def test_logout_needs_a_bearer_token(api, session):
    response = api.post(LOGOUT, {"refreshToken": session["refreshToken"]}, format="json")

    body = assert_problem(response, 401, "not-authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "errors" not in body


def test_cannot_log_out_someone_elses_session(api, session, bob_api):
    response = bob_api.post(LOGOUT, {"refreshToken": session["refreshToken"]}, format="json")

    assert_problem(response, 401, "invalid-token")
    alive = api.post(REFRESH, {"refreshToken": session["refreshToken"]}, format="json")
    assert alive.status_code == 200


def test_deactivation_cuts_access_at_once(api, alice, session):
    assert api.get(PROFILE, **bearer(session["accessToken"])).status_code == 200
    alice.active = False
    alice.save()

    assert_problem(api.get(PROFILE, **bearer(session["accessToken"])), 401, "invalid-token")
    refused = api.post(REFRESH, {"refreshToken": session["refreshToken"]}, format="json")
    assert_problem(refused, 401, "invalid-token")


@pytest.mark.parametrize(
    "header",
    ["Bearer nonsense", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer"],
)
def test_bad_bearer_tokens_are_problems(api, alice, header):
    response = api.get(PROFILE, HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_token_signed_with_another_key_is_refused(api, alice, session):
    head, payload, _ = session["accessToken"].split(".")
    forged = f"{head}.{payload}.{'A' * 43}"

    assert_problem(api.get(PROFILE, **bearer(forged)), 401, "invalid-token")


def test_a_verified_token_is_refused_once_it_has_expired(api, alice, monkeypatch):
    """Verified tokens are remembered per process, but only until their own expiry (the
    clock moved past it: both the remembered token's check and simplejwt's see the later
    time)."""
    token = AccessToken.for_user(alice)
    raw = str(token)
    assert api.get(PROFILE, **bearer(raw)).status_code == 200

    later = token.payload["exp"] + 1
    monkeypatch.setattr(authentication, "_clock", lambda: later)
    monkeypatch.setattr(tokens, "aware_utcnow", lambda: datetime.fromtimestamp(later, UTC))

    assert_problem(api.get(PROFILE, **bearer(raw)), 401, "invalid-token")


def test_a_forgery_of_a_verified_token_is_still_refused(api, alice, session):
    genuine = session["accessToken"]
    assert api.get(PROFILE, **bearer(genuine)).status_code == 200
    head, payload, _ = genuine.split(".")

    assert_problem(api.get(PROFILE, **bearer(f"{head}.{payload}.{'A' * 43}")), 401, "invalid-token")
