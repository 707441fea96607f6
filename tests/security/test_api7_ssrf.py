"""API7:2023 Server Side Request Forgery — the one outbound request this service makes is the
JWKS fetch of a utility's registered URL. It follows no redirect (to any host), only https (or
http to loopback for a developer's IdP), and a failing URL is not refetched on every login."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from customers.identity import jwks_failure_backoff
from tests.conftest import assert_problem
from tests.scripted_http import Answer, ScriptedServer
from tests.security.conftest import login


def use_jwks_url(utility, url: str) -> None:
    utility.jwks, utility.jwks_url = None, url
    utility.save()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_jwks_redirect_is_never_followed_even_to_a_good_document(
    api, alice, rsa_key, id_token_claims, idp, status
):
    """The redirect target serves valid keys: following it would log the token in."""
    idp.answers["/keys"] = Answer(200, {"keys": [rsa_key.public_jwk()]})
    idp.answers["/jwks"] = Answer(status, {}, {"Location": idp.address("/keys")})
    use_jwks_url(alice.utility, idp.address("/jwks"))

    response = login(api, rsa_key.sign(id_token_claims(alice.utility, "alice")))

    assert_problem(response, 401, "invalid-token")
    assert idp.requests == {"/jwks": 1}


def test_a_redirect_to_another_host_is_not_followed(api, alice, rsa_key, id_token_claims, idp):
    with ScriptedServer() as internal:
        internal.answers["/latest/meta-data"] = Answer(200, {"keys": [rsa_key.public_jwk()]})
        idp.answers["/jwks"] = Answer(302, {}, {"Location": internal.address("/latest/meta-data")})
        use_jwks_url(alice.utility, idp.address("/jwks"))

        assert login(api, rsa_key.sign(id_token_claims(alice.utility, "alice"))).status_code == 401

        assert internal.requests == {}


def test_registering_a_redirecting_jwks_url_is_refused(idp, rsa_key, db):
    idp.answers["/keys"] = Answer(200, {"keys": [rsa_key.public_jwk()]})
    idp.answers["/jwks"] = Answer(302, {}, {"Location": idp.address("/keys")})

    with pytest.raises(CommandError) as error:
        call_command(
            "add_utility", "--slug", "initech", "--name", "Initech", "--issuer",
            "https://id.initech.example", "--audience", "eg", "--jwks-url", idp.address("/jwks"),
        )  # fmt: skip

    assert "could not fetch the JWKS" in str(error.value)
    assert idp.requests["/keys"] == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/jwks",
        "file:///etc/passwd",
        "ftp://id.acme.example/jwks",
        "http://localhost.evil.example/jwks",
    ],
)
def test_non_https_jwks_urls_are_never_fetched(api, alice, rsa_key, id_token_claims, url):
    use_jwks_url(alice.utility, url)

    assert_problem(
        login(api, rsa_key.sign(id_token_claims(alice.utility, "alice"))), 401, "invalid-token"
    )


def test_a_failing_jwks_url_is_not_refetched_on_every_login(
    api, alice, rsa_key, id_token_claims, idp
):
    idp.answers["/jwks"] = Answer(503, {"error": "down"})
    use_jwks_url(alice.utility, idp.address("/jwks"))

    for _ in range(5):
        response = login(api, rsa_key.sign(id_token_claims(alice.utility, "alice")))
        assert_problem(response, 401, "invalid-token")

    assert idp.requests["/jwks"] == 1


def test_after_the_backoff_the_url_is_tried_again_and_the_backoff_doubles(
    api, alice, rsa_key, id_token_claims, idp, monkeypatch
):
    idp.answers["/jwks"] = Answer(503, {"error": "down"})
    use_jwks_url(alice.utility, idp.address("/jwks"))
    clock = [1_000_000.0]
    monkeypatch.setattr("customers.identity.time.time", lambda: clock[0])

    def attempt():
        return login(api, rsa_key.sign(id_token_claims(alice.utility, "alice", iat=int(clock[0]))))

    attempt()
    clock[0] += jwks_failure_backoff(1) - 1
    attempt()
    assert idp.requests["/jwks"] == 1
    clock[0] += 1
    attempt()
    assert idp.requests["/jwks"] == 2
    clock[0] += jwks_failure_backoff(1)
    attempt()
    assert idp.requests["/jwks"] == 2, "second failure backs off twice as long"

    idp.answers["/jwks"] = Answer(200, {"keys": [rsa_key.public_jwk()]})
    clock[0] += jwks_failure_backoff(2)
    monkeypatch.undo()
    token = rsa_key.sign(id_token_claims(alice.utility, "alice"))
    assert login(api, token).status_code == 200
    assert idp.requests["/jwks"] == 3


def test_backoff_doubles_up_to_its_maximum(settings):
    settings.JWKS_FAILURE_BACKOFF_SECONDS = 30
    settings.JWKS_FAILURE_BACKOFF_MAX_SECONDS = 600

    assert [jwks_failure_backoff(n) for n in (1, 2, 3, 5, 6, 100)] == [30, 60, 120, 480, 600, 600]


def test_a_failing_refresh_keeps_the_last_good_keys(api, alice, rsa_key, id_token_claims, idp):
    idp.answers["/jwks"] = Answer(200, {"keys": [rsa_key.public_jwk()]})
    use_jwks_url(alice.utility, idp.address("/jwks"))
    assert login(api, rsa_key.sign(id_token_claims(alice.utility, "alice"))).status_code == 200
    idp.answers["/jwks"] = Answer(503, {"error": "down"})

    # An unknown kid asks for a refresh; the outage must not stop known keys from verifying.
    unknown = rsa_key.sign(id_token_claims(alice.utility, "alice"), kid="rotated")
    assert login(api, unknown).status_code == 401
    assert login(api, rsa_key.sign(id_token_claims(alice.utility, "alice"))).status_code == 200
