"""POST /Customer/login: the utility's ID token is verified fully, and every failure looks alike."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import SigningKey, assert_problem
from tests.scripted_http import Answer, ScriptedServer

LOGIN = "/usage/v1/Customer/login"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict, claims: dict) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def login(api, token: str):
    return api.post(LOGIN, {"identityToken": token}, format="json")


def _comparable(body: dict) -> dict:
    return {key: value for key, value in body.items() if key != "requestId"}


@pytest.fixture
def refused_body(api, acme) -> dict:
    """What a refusal looks like; every failure below must look exactly the same."""
    return _comparable(assert_problem(login(api, "not-a-jwt"), 401, "invalid-token"))


def test_good_rs256_token_logs_in(api, alice, rsa_key, id_token_claims):
    response = login(api, rsa_key.sign(id_token_claims(alice.utility, "alice")))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["tokenType"] == "Bearer"
    assert body["expiresIn"] == 900
    assert body["customer"] == {
        "id": str(alice.id),
        "displayName": "Alice",
        "email": "alice@example.org",
        "billingCurrency": "USD",
        "timezone": "America/New_York",
        "locale": "en-US",
        "utility": {"id": str(alice.utility.id), "name": "Acme Power"},
    }
    profile = api.get(
        "/usage/v1/Customer/profile", HTTP_AUTHORIZATION=f"Bearer {body['accessToken']}"
    )
    assert profile.status_code == 200
    assert profile.json()["id"] == str(alice.id)


def test_good_es256_token_logs_in(api, alice, ec_key, id_token_claims):
    response = login(api, ec_key.sign(id_token_claims(alice.utility, "alice")))

    assert response.status_code == 200, response.content
    assert response.json()["customer"]["id"] == str(alice.id)


def test_token_without_jti_logs_in_once(api, alice, rsa_key, id_token_claims):
    token = rsa_key.sign(id_token_claims(alice.utility, "alice", jti=None))

    assert login(api, token).status_code == 200
    assert login(api, token).status_code == 401


def test_expiry_within_leeway_is_accepted(api, alice, rsa_key, id_token_claims):
    now = int(time.time())
    claims = id_token_claims(alice.utility, "alice", iat=now - 400, nbf=now - 400, exp=now - 30)

    assert login(api, rsa_key.sign(claims)).status_code == 200


def _other_rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(65537, 2048))


def _tampered_signature(token: str) -> str:
    head, payload, signature = token.split(".")
    flipped = "A" if signature[10] != "A" else "B"
    return f"{head}.{payload}.{signature[:10]}{flipped}{signature[11:]}"


def _tampered_payload(token: str, claims: dict) -> str:
    head, _, signature = token.split(".")
    forged = _b64(json.dumps({**claims, "sub": "bob"}).encode())
    return f"{head}.{forged}.{signature}"


def _hs256_with_public_key(key: SigningKey, claims: dict) -> str:
    public_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": key.kid}, claims)
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


FAILURES = [
    "bad-signature",
    "forged-payload",
    "other-key-same-kid",
    "alg-none",
    "hs256-with-public-key",
    "wrong-audience",
    "wrong-issuer",
    "issuer-of-another-utility",
    "expired",
    "future-nbf",
    "future-iat",
    "missing-exp",
    "missing-sub",
    "unknown-subject",
    "subject-of-another-utility",
]


def _failing_token(case: str, *, alice, bob, rsa_key, id_token_claims) -> str:
    acme = alice.utility
    claims = id_token_claims(acme, "alice")
    now = int(time.time())
    match case:
        case "bad-signature":
            return _tampered_signature(rsa_key.sign(claims))
        case "forged-payload":
            return _tampered_payload(rsa_key.sign(claims), claims)
        case "other-key-same-kid":
            return _other_rsa_key(rsa_key.kid).sign(claims)
        case "alg-none":
            return _unsigned({"alg": "none", "typ": "JWT", "kid": rsa_key.kid}, claims) + "."
        case "hs256-with-public-key":
            return _hs256_with_public_key(rsa_key, claims)
        case "wrong-audience":
            return rsa_key.sign({**claims, "aud": "someone-else"})
        case "wrong-issuer":
            return rsa_key.sign({**claims, "iss": "https://evil.example"})
        case "issuer-of-another-utility":
            return rsa_key.sign({**claims, "iss": bob.utility.issuer, "aud": bob.utility.audience})
        case "expired":
            return rsa_key.sign({**claims, "iat": now - 900, "nbf": now - 900, "exp": now - 120})
        case "future-nbf":
            return rsa_key.sign({**claims, "nbf": now + 300, "exp": now + 900})
        case "future-iat":
            return rsa_key.sign({**claims, "iat": now + 300, "exp": now + 900})
        case "missing-exp":
            return rsa_key.sign({k: v for k, v in claims.items() if k != "exp"})
        case "missing-sub":
            return rsa_key.sign({k: v for k, v in claims.items() if k != "sub"})
        case "unknown-subject":
            return rsa_key.sign({**claims, "sub": "mallory"})
        case "subject-of-another-utility":
            return rsa_key.sign({**claims, "sub": "bob"})
    raise AssertionError(case)


@pytest.mark.parametrize("case", FAILURES)
def test_every_failure_is_the_same_401(
    case, api, alice, bob, rsa_key, id_token_claims, refused_body
):
    token = _failing_token(
        case, alice=alice, bob=bob, rsa_key=rsa_key, id_token_claims=id_token_claims
    )

    body = assert_problem(login(api, token), 401, "invalid-token")

    assert _comparable(body) == refused_body


def test_inactive_customer_is_refused_like_any_failure(
    api, alice, rsa_key, id_token_claims, refused_body
):
    alice.active = False
    alice.save()

    body = assert_problem(
        login(api, rsa_key.sign(id_token_claims(alice.utility, "alice"))), 401, "invalid-token"
    )

    assert _comparable(body) == refused_body


def test_replayed_token_is_refused_like_any_failure(
    api, alice, rsa_key, id_token_claims, refused_body
):
    token = rsa_key.sign(id_token_claims(alice.utility, "alice"))
    assert login(api, token).status_code == 200

    body = assert_problem(login(api, token), 401, "invalid-token")

    assert _comparable(body) == refused_body


def test_refusal_does_not_leak_the_token_into_logs(api, alice, rsa_key, id_token_claims, caplog):
    token = rsa_key.sign(id_token_claims(alice.utility, "mallory"))

    with caplog.at_level("DEBUG"):
        login(api, token)

    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


@pytest.mark.parametrize(
    ("payload", "content_type", "status", "slug"),
    [
        ("{not json", "application/json", 400, "malformed-request"),
        ("identityToken=x", "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
        ("{}", "application/json", 400, "validation-error"),
        ('{"identityToken": ""}', "application/json", 400, "validation-error"),
    ],
)
def test_bad_bodies_are_problems(api, acme, payload, content_type, status, slug):
    response = api.generic("POST", LOGIN, payload, content_type=content_type)

    assert_problem(response, status, slug)


def test_missing_field_names_it_with_a_json_pointer(api, acme):
    body = assert_problem(api.post(LOGIN, {}, format="json"), 400, "validation-error")

    assert body["errors"] == [
        {"field": "/identityToken", "code": "required", "message": "This field is required."}
    ]


class _JwksServer(ScriptedServer):
    """A real HTTP server on loopback serving a JWKS document that the test can change."""

    def __init__(self, keys: list[SigningKey]):
        super().__init__()
        self.keys = keys
        self.answers["/jwks.json"] = Answer(
            200, lambda: {"keys": [key.public_jwk() for key in self.keys]}
        )
        self.url = self.address("/jwks.json")

    @property
    def hits(self) -> int:
        return self.requests["/jwks.json"]


@pytest.fixture
def jwks_server(rsa_key) -> Iterator[_JwksServer]:
    with _JwksServer([rsa_key]) as server:
        yield server


def test_jwks_url_is_fetched_once_and_cached(api, alice, rsa_key, id_token_claims, jwks_server):
    acme = alice.utility
    acme.jwks, acme.jwks_url = None, jwks_server.url
    acme.save()

    assert login(api, rsa_key.sign(id_token_claims(acme, "alice"))).status_code == 200
    assert login(api, rsa_key.sign(id_token_claims(acme, "alice"))).status_code == 200

    assert jwks_server.hits == 1


def test_jwks_url_is_refetched_for_an_unknown_kid(
    api, alice, rsa_key, id_token_claims, jwks_server, monkeypatch
):
    acme = alice.utility
    acme.jwks, acme.jwks_url = None, jwks_server.url
    acme.save()
    assert login(api, rsa_key.sign(id_token_claims(acme, "alice"))).status_code == 200
    rotated = _other_rsa_key("acme-rsa-2")
    jwks_server.keys = [rsa_key, rotated]
    monkeypatch.setattr("customers.identity._JWKS_REFETCH_AFTER_SECONDS", 0)

    assert login(api, rotated.sign(id_token_claims(acme, "alice"))).status_code == 200
    assert jwks_server.hits == 2


def test_unreachable_jwks_url_refuses_login(api, alice, rsa_key, id_token_claims):
    acme = alice.utility
    acme.jwks, acme.jwks_url = None, "http://127.0.0.1:1/jwks.json"
    acme.save()

    assert_problem(login(api, rsa_key.sign(id_token_claims(acme, "alice"))), 401, "invalid-token")
