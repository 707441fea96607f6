"""add_partner: registers an OAuth client of a utility, prints secrets once, rotates them."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from oauth2_provider.models import Application
from standardwebhooks import Webhook

from partners.models import Partner


def add_partner(*args: str) -> str:
    out = io.StringIO()
    call_command("add_partner", *args, stdout=out)
    return out.getvalue()


def lines(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


ARGS = ["--utility", "acme", "--name", "SolarCo", "--redirect-uri", "https://solar.example/cb"]


def test_registers_a_confidential_client_and_prints_its_secrets_once(acme):
    printed = lines(add_partner(*ARGS, "--webhook-url", "https://solar.example/hooks"))

    partner = Partner.objects.get()
    application = partner.application
    assert application.client_id == printed["client_id"]
    assert application.client_type == Application.CLIENT_CONFIDENTIAL
    assert application.authorization_grant_type == Application.GRANT_AUTHORIZATION_CODE
    assert application.client_secret != printed["client_secret"]  # stored hashed
    assert printed["webhook_secret"].startswith("whsec_")
    Webhook(printed["webhook_secret"])  # a secret the spec's library accepts
    assert partner.utility == acme

    again = lines(add_partner(*ARGS, "--redirect-uri", "https://solar.example/cb2"))

    assert again == {"client_id": printed["client_id"]}
    application.refresh_from_db()
    assert application.redirect_uris.split() == [
        "https://solar.example/cb",
        "https://solar.example/cb2",
    ]


def test_rotate_secret_replaces_both_secrets(acme):
    first = lines(add_partner(*ARGS, "--webhook-url", "https://solar.example/hooks"))

    rotated = lines(add_partner(*ARGS, "--rotate-secret"))

    assert rotated["client_id"] == first["client_id"]
    assert rotated["client_secret"] != first["client_secret"]
    assert rotated["webhook_secret"] != first["webhook_secret"]
    assert Partner.objects.get().webhook_secret == rotated["webhook_secret"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--utility", "nope", "--name", "X", "--redirect-uri", "https://x.example/cb"], "nope"),
        (["--utility", "acme", "--name", "X", "--redirect-uri", "http://x.example/cb"], "https"),
        (["--utility", "acme", "--name", " ", "--redirect-uri", "https://x.example/cb"], "name"),
        (
            [*ARGS[:4], "--redirect-uri", "https://x.example/cb", "--webhook-url", "ftp://x"],
            "--webhook-url",
        ),
    ],
)
def test_bad_input_is_one_line_and_registers_nothing(acme, args, message):
    with pytest.raises(CommandError) as error:
        add_partner(*args)

    assert message in str(error.value)
    assert "\n" not in str(error.value)
    assert not Partner.objects.exists()
    assert not Application.objects.exists()


def test_loopback_http_is_allowed_for_development(acme):
    add_partner("--utility", "acme", "--name", "Dev", "--redirect-uri", "http://127.0.0.1:18701/cb")

    assert Partner.objects.get().application.redirect_uris == "http://127.0.0.1:18701/cb"
