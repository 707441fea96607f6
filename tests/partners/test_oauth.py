"""Consent, the code flow with PKCE and what a partner token reaches, all over HTTP
(contract section 11.1)."""

from __future__ import annotations

import base64

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from partners.models import Authorization, AuthorizationCode
from tests.conftest import assert_problem, client_for, make_account, make_meter
from tests.partners.conftest import (
    CONSENT_URL,
    REDIRECT_URI,
    TOKEN_URL,
    authorize,
    consent,
    consent_body,
    exchange,
    partner_client,
    pkce_pair,
    register,
)


def test_the_whole_code_flow_with_pkce(alice, alice_api, solarco):
    verifier, challenge = pkce_pair()
    created = alice_api.post(CONSENT_URL, consent_body(solarco, challenge), "json")

    assert created.status_code == 201, created.content
    redirect_to = created.json()["redirectTo"]
    assert redirect_to.startswith(REDIRECT_URI + "?code=")
    assert redirect_to.endswith("&state=xyz-123")
    code = redirect_to.split("code=")[1].split("&")[0]

    token = exchange(solarco, code, verifier)

    assert token.status_code == 200, token.content
    body = token.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "usage:read insights:read"
    assert body["expires_in"] == 3600
    assert body["access_token"].startswith("egp_at_")
    assert body["refresh_token"].startswith("egp_rt_")
    meter = alice.accounts.get().meters.get()
    read = partner_client(body["access_token"]).get(f"/usage/v1/Meters/{meter.pk}")
    assert read.status_code == 200
    assert read.json()["id"] == str(meter.pk)


def test_client_authenticates_with_http_basic_too(alice_api, solarco):
    _grant, code, verifier = consent(alice_api, solarco)
    basic = f"{solarco.client_id}:{solarco.credentials.client_secret}"

    response = APIClient().post(
        TOKEN_URL,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(basic.encode()).decode(),
    )

    assert response.status_code == 200, response.content


def test_tokens_are_stored_hashed_and_the_client_secret_too(alice_api, solarco):
    tokens = authorize(alice_api, solarco)

    stored = AccessToken.objects.get()
    assert tokens["access_token"] not in (stored.token, stored.token_checksum)
    assert solarco.credentials.client_secret != solarco.partner.application.client_secret


def test_a_wrong_verifier_is_invalid_grant(alice_api, solarco):
    _grant, code, _verifier = consent(alice_api, solarco)
    other_verifier, _ = pkce_pair()

    response = exchange(solarco, code, other_verifier)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_grant"


def test_no_verifier_is_refused(alice_api, solarco):
    _grant, code, _verifier = consent(alice_api, solarco)

    response = exchange(solarco, code, "")

    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "invalid_grant"}


def test_a_reused_code_is_refused_and_revokes_what_the_first_use_issued(alice, alice_api, solarco):
    grant_id, code, verifier = consent(alice_api, solarco)
    first = exchange(solarco, code, verifier)
    assert first.status_code == 200
    partner = partner_client(first.json()["access_token"])
    assert partner.get("/usage/v1/Accounts").status_code == 200

    second = exchange(solarco, code, verifier)

    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert_problem(partner.get("/usage/v1/Accounts"), 401, "invalid-token")
    refreshed = APIClient().post(
        TOKEN_URL,
        {
            "grant_type": "refresh_token",
            "refresh_token": first.json()["refresh_token"],
            "client_id": solarco.client_id,
            "client_secret": solarco.credentials.client_secret,
        },
    )
    assert refreshed.json()["error"] == "invalid_grant"
    assert Authorization.objects.get(pk=grant_id).revoked_at is not None


def test_an_expired_code_is_invalid_grant(alice_api, solarco):
    _grant, code, verifier = consent(alice_api, solarco)
    AuthorizationCode.objects.filter(code=code).update(expires=timezone.now())

    assert exchange(solarco, code, verifier).json()["error"] == "invalid_grant"


def test_the_redirect_uri_must_match_at_exchange(alice_api, solarco):
    _grant, code, verifier = consent(alice_api, solarco)

    response = exchange(solarco, code, verifier, redirect_uri="https://solar.example/other")

    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_grant", "invalid_request"}


def test_a_wrong_client_secret_is_invalid_client(alice_api, solarco):
    _grant, code, verifier = consent(alice_api, solarco)

    response = exchange(solarco, code, verifier, client_secret="not-the-secret")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("field", ["client_id", "client_secret", "code", "code_verifier"])
def test_a_nul_in_a_token_request_is_invalid_request_not_a_500(alice_api, solarco, field):
    _grant, code, verifier = consent(alice_api, solarco)
    form = {"client_id": solarco.client_id, "client_secret": solarco.credentials.client_secret}
    form |= {"code": code, "code_verifier": verifier}
    form[field] = f"{form[field]}\x00"

    response = exchange(solarco, form.pop("code"), form.pop("code_verifier"), **form)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_a_nul_in_http_basic_credentials_is_invalid_request(solarco):
    credentials = base64.b64encode(b"id\x00:secret").decode()
    response = APIClient().post(
        TOKEN_URL,
        {"grant_type": "authorization_code", "code": "0", "redirect_uri": REDIRECT_URI},
        HTTP_AUTHORIZATION=f"Basic {credentials}",
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_a_multipart_body_without_a_boundary_is_invalid_request_not_a_500(db):
    response = APIClient().generic(
        "POST", TOKEN_URL, "grant_type=authorization_code", content_type="multipart/form-data"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_another_clients_code_is_invalid_grant(alice_api, solarco, acme):
    other = register("acme", "Other App")
    _grant, code, verifier = consent(alice_api, solarco)

    assert exchange(other, code, verifier).json()["error"] == "invalid_grant"


def test_only_the_code_and_refresh_grants_are_served(solarco):
    response = APIClient().post(
        TOKEN_URL,
        {
            "grant_type": "client_credentials",
            "client_id": solarco.client_id,
            "client_secret": solarco.credentials.client_secret,
        },
    )

    assert response.status_code in (400, 401)
    assert response.json()["error"] in {"unauthorized_client", "unsupported_grant_type"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"redirectUri": "https://evil.example/callback"}, "redirectUri"),
        ({"clientId": "no-such-client"}, "clientId"),
        ({"scope": "usage:read admin"}, "scope"),
        ({"scope": ""}, "scope"),
        ({"codeChallenge": None}, "codeChallenge"),
        ({"codeChallengeMethod": "plain"}, "codeChallengeMethod"),
        ({"codeChallenge": "too-short"}, "codeChallenge"),
    ],
)
def test_bad_consent_requests_are_400_naming_the_field(alice_api, solarco, overrides, field):
    _verifier, challenge = pkce_pair()

    response = alice_api.post(CONSENT_URL, consent_body(solarco, challenge, **overrides), "json")

    body = assert_problem(response, 400, "validation-error")
    assert [error["field"] for error in body["errors"]] == [f"/{field}"]
    assert not Authorization.objects.exists()


def test_a_client_of_another_utility_is_refused_like_an_unknown_one(alice_api, globex_app):
    _verifier, challenge = pkce_pair()

    response = alice_api.post(CONSENT_URL, consent_body(globex_app, challenge), "json")

    body = assert_problem(response, 400, "validation-error")
    assert body["errors"] == [
        {"field": "/clientId", "code": "not_found", "message": "No such client."}
    ]


def test_a_foreign_account_in_the_grant_is_refused(alice_api, bob, solarco):
    _verifier, challenge = pkce_pair()
    bobs = str(bob.accounts.get().pk)

    response = alice_api.post(
        CONSENT_URL, consent_body(solarco, challenge, accountIds=[bobs]), "json"
    )

    body = assert_problem(response, 400, "validation-error")
    assert body["errors"][0]["field"] == "/accountIds"
    assert not Authorization.objects.exists()


@pytest.fixture
def second_meter(alice):
    """Alice's second account and meter, which her grants below leave out."""
    return make_meter(make_account(alice, "555000111"), "E-ALICE-2")


@pytest.fixture
def granted(alice, alice_api, solarco, second_meter):
    """SolarCo's token for Alice's first account only, scopes usage:read insights:read."""
    first_account = alice.accounts.exclude(pk=second_meter.account_id).get()
    tokens = authorize(alice_api, solarco, accountIds=[str(first_account.pk)])
    return {**tokens, "meter": first_account.meters.get(), "client": None}


def test_a_partner_token_reads_a_granted_meter_and_not_an_ungranted_one(granted, second_meter):
    partner = partner_client(granted["access_token"])

    assert partner.get(f"/usage/v1/Meters/{granted['meter'].pk}").status_code == 200
    assert_problem(partner.get(f"/usage/v1/Meters/{second_meter.pk}"), 404, "not-found")
    usage = partner.get(
        f"/usage/v1/Usage/{second_meter.pk}",
        {"granularity": "DAY", "start": "2026-03-01", "end": "2026-03-02"},
    )
    assert_problem(usage, 404, "not-found")
    listed = partner.get("/usage/v1/Meters").json()["items"]
    assert [item["id"] for item in listed] == [str(granted["meter"].pk)]
    accounts = partner.get("/usage/v1/Accounts").json()["items"]
    assert [item["id"] for item in accounts] == [str(granted["meter"].account_id)]
    assert_problem(partner.get(f"/usage/v1/Accounts/{second_meter.account_id}"), 404, "not-found")


def test_a_budget_write_without_budgets_write_is_403_insufficient_scope(granted):
    partner = partner_client(granted["access_token"])

    response = partner.post(
        "/usage/v1/Budgets",
        {
            "name": "Home",
            "kind": "COST",
            "period": "MONTHLY",
            "accountId": str(granted["meter"].account_id),
            "limit": "100.00",
        },
        "json",
    )

    assert_problem(response, 403, "insufficient-scope")
    assert response["WWW-Authenticate"] == (
        'Bearer realm="energygrid", error="insufficient_scope", scope="budgets:write"'
    )
    assert_problem(partner.get("/usage/v1/Budgets"), 403, "insufficient-scope")


def test_budgets_write_reaches_only_granted_accounts(alice, alice_api, solarco, second_meter):
    first_account = alice.accounts.exclude(pk=second_meter.account_id).get()
    tokens = authorize(
        alice_api,
        solarco,
        scope="budgets:read budgets:write",
        accountIds=[str(first_account.pk)],
    )
    partner = partner_client(tokens["access_token"])
    budget = {"name": "Home", "kind": "COST", "period": "MONTHLY", "limit": "100.00"}

    ok = partner.post("/usage/v1/Budgets", {**budget, "accountId": str(first_account.pk)}, "json")
    foreign = partner.post(
        "/usage/v1/Budgets", {**budget, "accountId": str(second_meter.account_id)}, "json"
    )

    assert ok.status_code == 201, ok.content
    body = assert_problem(foreign, 400, "validation-error")
    assert body["errors"][0]["field"] == "/accountId"
    assert partner.get("/usage/v1/Budgets").json()["items"][0]["id"] == ok.json()["id"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/usage/v1/Customer/profile"),
        ("post", "/usage/v1/Customer/logout"),
        ("get", "/usage/v1/Customer/authorizations"),
    ],
)
def test_a_partner_token_is_never_accepted_by_customer_endpoints(granted, method, path):
    response = getattr(partner_client(granted["access_token"]), method)(path)

    assert_problem(response, 401, "invalid-token")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revocation_ends_a_live_token_and_its_refresh_token(granted, alice_api, solarco):
    partner = partner_client(granted["access_token"])
    assert partner.get("/usage/v1/Meters").status_code == 200

    revoked = alice_api.delete(f"{CONSENT_URL}/{granted['grant_id']}")

    assert revoked.status_code == 204
    assert_problem(partner.get("/usage/v1/Meters"), 401, "invalid-token")
    refreshed = APIClient().post(
        TOKEN_URL,
        {
            "grant_type": "refresh_token",
            "refresh_token": granted["refresh_token"],
            "client_id": solarco.client_id,
            "client_secret": solarco.credentials.client_secret,
        },
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    assert alice_api.get(CONSENT_URL).json()["items"] == []


def test_a_deactivated_customers_partner_tokens_stop(alice, granted):
    alice.active = False
    alice.save()

    assert_problem(
        partner_client(granted["access_token"]).get("/usage/v1/Meters"), 401, "invalid-token"
    )


def test_refresh_rotates_and_the_old_refresh_token_dies(granted, solarco):
    form = {
        "grant_type": "refresh_token",
        "client_id": solarco.client_id,
        "client_secret": solarco.credentials.client_secret,
    }
    anonymous = APIClient()

    rotated = anonymous.post(TOKEN_URL, {**form, "refresh_token": granted["refresh_token"]})
    replayed = anonymous.post(TOKEN_URL, {**form, "refresh_token": granted["refresh_token"]})

    assert rotated.status_code == 200, rotated.content
    assert rotated.json()["refresh_token"] != granted["refresh_token"]
    assert rotated.json()["scope"] == "usage:read insights:read"
    assert replayed.json()["error"] == "invalid_grant"
    new_token = partner_client(rotated.json()["access_token"])
    # Reuse protection: replaying a rotated-away refresh token revokes its whole family.
    assert_problem(new_token.get("/usage/v1/Meters"), 401, "invalid-token")


def test_a_refreshed_token_keeps_the_grant(granted, solarco, second_meter):
    rotated = APIClient().post(
        TOKEN_URL,
        {
            "grant_type": "refresh_token",
            "refresh_token": granted["refresh_token"],
            "client_id": solarco.client_id,
            "client_secret": solarco.credentials.client_secret,
        },
    )
    partner = partner_client(rotated.json()["access_token"])

    assert partner.get(f"/usage/v1/Meters/{granted['meter'].pk}").status_code == 200
    assert_problem(partner.get(f"/usage/v1/Meters/{second_meter.pk}"), 404, "not-found")


def test_a_customer_lists_their_grants_and_not_others(alice, alice_api, bob, solarco, granted):
    assert alice_api.get(CONSENT_URL).json()["items"][0]["lastUsedAt"] is None
    partner_client(granted["access_token"]).get("/usage/v1/Meters")

    response = alice_api.get(CONSENT_URL)

    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["id"] == granted["grant_id"]
    assert item["partner"] == {"id": str(solarco.partner.pk), "name": "SolarCo"}
    assert item["scope"] == "usage:read insights:read"
    assert item["accountIds"] == [str(granted["meter"].account_id)]
    assert item["lastUsedAt"] is not None
    assert client_for(bob).get(CONSENT_URL).json()["items"] == []
    assert_problem(client_for(bob).delete(f"{CONSENT_URL}/{granted['grant_id']}"), 404, "not-found")


def test_partner_scopes_are_public_metadata(api, db):
    response = api.get("/usage/v1/Metadata/partner-scopes")

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [
        "usage:read",
        "insights:read",
        "budgets:read",
        "budgets:write",
        "espi",
    ]


def test_forged_partner_tokens_count_against_the_bad_token_throttle(settings, api, db):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "bad_token": "2/min",
        },
    }
    forged = {"HTTP_AUTHORIZATION": "Bearer egp_at_forged"}
    for _ in range(2):
        assert_problem(api.get("/usage/v1/Meters", **forged), 401, "invalid-token")

    assert_problem(api.get("/usage/v1/Meters", **forged), 429, "rate-limited")
