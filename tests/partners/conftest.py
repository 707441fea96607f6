"""A partner app of Acme ("SolarCo") and the steps of the code flow with PKCE, as a partner
and a customer's app would take them over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.test import APIClient

from demo.partner import pkce_pair
from partners.models import Partner
from partners.services import Credentials, partner_register

REDIRECT_URI = "https://solar.example/callback"
CONSENT_URL = "/usage/v1/Customer/authorizations"
TOKEN_URL = "/oauth/token"


@dataclass(frozen=True)
class PartnerApp:
    partner: Partner
    credentials: Credentials

    @property
    def client_id(self) -> str:
        return self.credentials.client_id


def register(utility_slug: str, name: str, webhook_url: str | None = None) -> PartnerApp:
    partner, credentials = partner_register(
        utility_slug=utility_slug,
        name=name,
        redirect_uris=[REDIRECT_URI],
        webhook_url=webhook_url,
    )
    return PartnerApp(partner, credentials)


@pytest.fixture
def solarco(acme) -> PartnerApp:
    return register("acme", "SolarCo")


@pytest.fixture
def globex_app(globex) -> PartnerApp:
    return register("globex", "Globex Advisor")


def consent_body(app: PartnerApp, challenge: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "clientId": app.client_id,
        "redirectUri": REDIRECT_URI,
        "scope": "usage:read insights:read",
        "state": "xyz-123",
        "codeChallenge": challenge,
        "codeChallengeMethod": "S256",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def consent(customer_api: APIClient, app: PartnerApp, **overrides: Any) -> tuple[str, str, str]:
    """Records consent; returns (grant id, code, verifier)."""
    verifier, challenge = pkce_pair()
    response = customer_api.post(CONSENT_URL, consent_body(app, challenge, **overrides), "json")
    assert response.status_code == 201, response.content
    query = parse_qs(urlsplit(response.json()["redirectTo"]).query)
    return response.json()["id"], query["code"][0], verifier


def exchange(app: PartnerApp, code: str, verifier: str, **overrides: str):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": app.client_id,
        "client_secret": app.credentials.client_secret,
    }
    form.update(overrides)
    return APIClient().post(TOKEN_URL, form)


def partner_client(access_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client


def authorize(customer_api: APIClient, app: PartnerApp, **overrides: Any) -> dict[str, Any]:
    """The whole flow: consent, then the code exchanged; returns the token response + grant."""
    grant_id, code, verifier = consent(customer_api, app, **overrides)
    response = exchange(app, code, verifier)
    assert response.status_code == 200, response.content
    return {**response.json(), "grant_id": grant_id}
