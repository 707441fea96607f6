"""Ops commands: add_utility, import_customers, issue_identity_token.

Login through the API at the end of a chain proves each command produced something real.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import call_command
from django.core.management.base import CommandError

from customers.models import Customer, Utility
from demo.utility import DEMO_SLUG
from tests.conftest import SigningKey
from tests.customers.cis_documents import acme_document, table_snapshot

pytestmark = pytest.mark.django_db

LOGIN = "/usage/v1/Customer/login"


def run(*args: Any) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def fails(*args: Any) -> str:
    """The one-line reason a command refused its input."""
    with pytest.raises(CommandError) as caught:
        run(*args)
    message = str(caught.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


def write_json(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def login(api, token: str):
    return api.post(LOGIN, {"identityToken": token}, format="json")


# --- import_customers ---------------------------------------------------------------------


def test_import_customers_applies_a_file_and_a_second_run_changes_nothing(acme, tmp_path):
    file = write_json(tmp_path / "acme.json", acme_document())

    first = run("import_customers", file)
    snapshot = table_snapshot()
    second = run("import_customers", file)

    assert "customers 3 created" in first
    assert "meters 0 created, 0 updated, 4 unchanged" in second
    assert table_snapshot() == snapshot
    assert Customer.objects.filter(utility=acme).count() == 3


def test_import_customers_refuses_a_file_with_one_bad_record_in_one_line(acme, tmp_path):
    document = acme_document()
    document["customers"][2]["accounts"][0]["billingCycleDay"] = 40
    file = write_json(tmp_path / "acme.json", document)

    message = fails("import_customers", file)

    assert message.startswith(f"{file}: nothing imported: customers[2].accounts[0].billingCycle")
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"utility": "acme", "utility": "acme"}', "duplicate key 'utility'"),
        (b"\xff\xfe\x00", "not valid JSON"),
    ],
)
def test_import_customers_refuses_unparsable_files(acme, tmp_path, content, expected):
    file = tmp_path / "bad.json"
    file.write_bytes(content)

    assert expected in fails("import_customers", str(file))


def test_import_customers_names_a_missing_file(tmp_path):
    assert fails("import_customers", str(tmp_path / "nope.json")).startswith("cannot read ")


# --- add_utility --------------------------------------------------------------------------


def add_utility(*extra: str, slug: str = "initech", **flags: str) -> list[str]:
    options = {
        "name": "Initech Power",
        "issuer": "https://login.initech.example",
        "audience": "energygrid-initech",
        **flags,
    }
    args = ["add_utility", "--slug", slug]
    for flag, value in options.items():
        args += [f"--{flag.replace('_', '-')}", value]
    return [*args, *extra]


def test_add_utility_from_a_jwks_file_then_a_token_signed_with_that_key_logs_in(
    tmp_path, rsa_key, id_token_claims, api
):
    jwks = write_json(tmp_path / "jwks.json", {"keys": [rsa_key.public_jwk()]})

    output = run(*add_utility(jwks_file=jwks, currency="EUR", timezone="Europe/Berlin"))

    utility = Utility.objects.get(slug="initech")
    assert output.startswith("Registered utility 'initech'")
    assert (utility.currency, utility.timezone, utility.jwks_url) == ("EUR", "Europe/Berlin", "")
    Customer.objects.create(
        utility=utility,
        subject="u-1",
        display_name="U",
        billing_currency="EUR",
        timezone="Europe/Berlin",
    )
    response = login(api, rsa_key.sign(id_token_claims(utility, "u-1")))
    assert response.status_code == 200, response.content
    assert response.json()["customer"]["utility"]["name"] == "Initech Power"


def test_add_utility_rerun_updates_the_same_utility_and_keeps_unstated_settings(
    tmp_path, rsa_key, globex_key
):
    first = write_json(tmp_path / "one.json", {"keys": [rsa_key.public_jwk()]})
    second = write_json(tmp_path / "two.json", {"keys": [globex_key.public_jwk()]})
    run(*add_utility(jwks_file=first, currency="EUR"))
    created = Utility.objects.get(slug="initech")

    output = run(*add_utility(jwks_file=second, name="Initech Energy", audience="eg-initech"))

    updated = Utility.objects.get(slug="initech")
    assert output.startswith("Updated utility 'initech'")
    assert updated.pk == created.pk
    assert (updated.name, updated.audience, updated.currency) == (
        "Initech Energy",
        "eg-initech",
        "EUR",
    )
    assert updated.jwks == {"keys": [globex_key.public_jwk()]}
    assert Utility.objects.count() == 1


def _private_rsa_jwk(key: SigningKey) -> dict[str, Any]:
    return json.loads(jwt.get_algorithm_by_name("RS256").to_jwk(key.private_key))


@pytest.mark.parametrize(
    ("jwks", "expected"),
    [
        ([], 'a JWKS must be a JSON object with a "keys" list'),
        ({"keys": []}, "the JWKS has no usable RS256/ES256 signing key"),
        ({"keys": ["x"]}, "every JWKS key must be a JSON object"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, "holds private key material"),
        ({"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]}, "no usable RS256/ES256"),
        ({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}]}, "no usable RS256/ES256"),
    ],
)
def test_add_utility_refuses_an_unusable_jwks_in_one_line(tmp_path, jwks, expected):
    file = write_json(tmp_path / "jwks.json", jwks)

    assert expected in fails(*add_utility(jwks_file=file))
    assert not Utility.objects.exists()


def test_add_utility_refuses_private_keys_and_keys_it_could_not_verify_with(tmp_path, rsa_key):
    leaked = write_json(tmp_path / "leaked.json", {"keys": [_private_rsa_jwk(rsa_key)]})
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    p384_jwk = json.loads(jwt.get_algorithm_by_name("ES384").to_jwk(p384))
    other_curve = write_json(tmp_path / "p384.json", {"keys": [p384_jwk]})
    encryption = {**rsa_key.public_jwk(), "use": "enc"}
    encryption_only = write_json(tmp_path / "enc.json", {"keys": [encryption]})

    assert "private key material" in fails(*add_utility(jwks_file=leaked))
    assert "no usable RS256/ES256" in fails(*add_utility(jwks_file=other_curve))
    assert "no usable RS256/ES256" in fails(*add_utility(jwks_file=encryption_only))


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"currency": "EURO"}, "--currency: unknown currency 'EURO'"),
        ({"timezone": "Mars/Base"}, "--timezone: unknown time zone 'Mars/Base'"),
        ({"issuer": "http://login.initech.example"}, "must be an https URL"),
        ({"issuer": "https://login.initech.example/?x=1"}, "without query or fragment"),
        ({"name": ""}, "--name: This field cannot be blank."),
    ],
)
def test_add_utility_refuses_bad_settings_in_one_line(tmp_path, rsa_key, flags, expected):
    jwks = write_json(tmp_path / "jwks.json", {"keys": [rsa_key.public_jwk()]})

    assert expected in fails(*add_utility(jwks_file=jwks, **flags))


def test_add_utility_refuses_an_issuer_another_utility_uses(tmp_path, rsa_key, acme):
    jwks = write_json(tmp_path / "jwks.json", {"keys": [rsa_key.public_jwk()]})

    message = fails(*add_utility(jwks_file=jwks, issuer=acme.issuer))

    assert message == f"issuer '{acme.issuer}' is already registered by 'acme'"


def test_add_utility_refuses_a_missing_file_and_needs_exactly_one_key_source(tmp_path):
    assert fails(*add_utility(jwks_file=str(tmp_path / "none.json"))).startswith("cannot read")
    assert "one of the arguments --jwks-file --jwks-url is required" in fails(*add_utility())


@pytest.fixture
def jwks_server(rsa_key) -> Iterator[str]:
    """A real HTTP server on loopback publishing a JWKS (no mocks)."""
    body = json.dumps({"keys": [rsa_key.public_jwk()]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path == "/jwks.json" else 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if status == 200 else b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_add_utility_from_a_jwks_url_fetches_it_and_login_then_uses_it(
    jwks_server, rsa_key, id_token_claims, api
):
    output = run(*add_utility(jwks_url=f"{jwks_server}/jwks.json"))

    utility = Utility.objects.get(slug="initech")
    assert f"JWKS {jwks_server}/jwks.json" in output
    assert (utility.jwks, utility.jwks_url) == (None, f"{jwks_server}/jwks.json")
    Customer.objects.create(
        utility=utility, subject="u-1", display_name="U", billing_currency="USD", timezone="UTC"
    )
    assert login(api, rsa_key.sign(id_token_claims(utility, "u-1"))).status_code == 200


def test_add_utility_refuses_a_jwks_url_that_is_insecure_or_unreachable(jwks_server):
    assert "must be https" in fails(*add_utility(jwks_url="http://keys.initech.example/jwks"))
    assert "must be https" in fails(*add_utility(jwks_url="http://localhost.evil.example/j"))
    assert fails(*add_utility(jwks_url=f"{jwks_server}/missing")).startswith(
        f"could not fetch the JWKS from {jwks_server}/missing: HTTP Error 404"
    )
    assert not Utility.objects.exists()


# --- issue_identity_token -----------------------------------------------------------------


@pytest.fixture
def demo(db) -> Utility:
    run("seed_demo", "--customers", "2", "--seed", "7", "--days", "0")
    return Utility.objects.get(slug=DEMO_SLUG)


def test_issue_identity_token_prints_a_token_that_logs_in_once(demo, api):
    token = run("issue_identity_token", "--utility", "demo", "--subject", "demo-0001").strip()

    response = login(api, token)

    assert response.status_code == 200, response.content
    assert response.json()["customer"]["id"] == str(
        Customer.objects.get(utility=demo, subject="demo-0001").pk
    )
    assert login(api, token).status_code == 401, "an ID token is accepted only once"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == {"iss", "aud", "sub", "iat", "nbf", "exp", "jti"}
    assert claims["exp"] - claims["iat"] == 300


def test_issue_identity_token_honours_ttl_and_gives_each_token_its_own_jti(demo):
    tokens = [
        run("issue_identity_token", "--utility", "demo", "--subject", "demo-0002", "--ttl", "60")
        for _ in range(2)
    ]

    claims = [jwt.decode(t.strip(), options={"verify_signature": False}) for t in tokens]
    assert claims[0]["exp"] - claims[0]["iat"] == 60
    assert claims[0]["jti"] != claims[1]["jti"]


def test_issue_identity_token_refuses_what_it_cannot_sign(demo, alice):
    def issue(utility: str, subject: str, *extra: str) -> str:
        return fails("issue_identity_token", "--utility", utility, "--subject", subject, *extra)

    assert issue("acme", "alice") == "this install holds no signing key for utility 'acme'"
    assert issue("demo", "alice") == "subject 'alice' is not enrolled at utility 'demo'"
    assert issue("initech", "x") == "unknown utility 'initech'"
    assert issue("demo", "demo-0001", "--ttl", "0") == "--ttl must be between 1 and 3600 seconds"
    Customer.objects.filter(subject="demo-0001").update(active=False)
    assert issue("demo", "demo-0001") == "customer 'demo-0001' is deactivated"
