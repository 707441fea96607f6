"""API10:2023 Unsafe Consumption of APIs — what we take from third parties: utilities' ID tokens
(a token that lives for weeks, odd claim types) and Green Button files (XML entities and DTDs).
Bombs in readings files (CSV and XML) are covered by the import tests (tests/usage)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tests.conftest import assert_problem, make_meter
from tests.security.conftest import login
from tests.usage.test_import_espi import espi_feed, interval_reading
from usage.models import Reading


def test_an_id_token_living_longer_than_the_maximum_is_refused(
    api, alice, rsa_key, id_token_claims
):
    now = int(time.time())
    longest = settings.IDENTITY_TOKEN_MAX_LIFETIME_SECONDS
    too_long = id_token_claims(alice.utility, "alice", iat=now, exp=now + longest + 1)
    year = id_token_claims(alice.utility, "alice", iat=now, exp=now + 365 * 86400)
    just_right = id_token_claims(alice.utility, "alice", iat=now, exp=now + longest)

    assert_problem(login(api, rsa_key.sign(too_long)), 401, "invalid-token")
    assert_problem(login(api, rsa_key.sign(year)), 401, "invalid-token")
    assert login(api, rsa_key.sign(just_right)).status_code == 200


def test_the_maximum_lifetime_is_a_day():
    assert settings.IDENTITY_TOKEN_MAX_LIFETIME_SECONDS == 24 * 3600


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": str(int(time.time()) + 300)},
        {"exp": 1e300},
        {"iat": "yesterday"},
        {"sub": {"nested": "object"}},
        {"aud": ["energygrid-acme", "someone-else"], "sub": 12},
    ],
)
def test_odd_claim_types_are_a_401_never_a_500(api, alice, rsa_key, id_token_claims, overrides):
    token = rsa_key.sign(id_token_claims(alice.utility, "alice", **overrides))

    assert login(api, token).status_code == 401


@pytest.fixture
def gas_meter(alice):
    return make_meter(
        alice.accounts.get(), "G-1", service_type="GAS", unit_of_measure="therm",
        interval_seconds=86400,
    )  # fmt: skip


def import_espi(path) -> None:
    call_command("import_readings", str(path), "--format", "espi", "--meter", "G-1")


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/hostname">]>',
        '<!DOCTYPE feed SYSTEM "http://127.0.0.1:1/feed.dtd">',
        '<!DOCTYPE feed [<!ENTITY % remote SYSTEM "http://127.0.0.1:1/x.dtd"> %remote;]>',
    ],
)
def test_a_green_button_file_with_external_entities_is_refused_unread(gas_meter, tmp_path, prolog):
    reading = interval_reading(datetime(2024, 1, 10, 5, tzinfo=UTC), 1000)
    feed = espi_feed(reading).replace("<feed", prolog + "<feed", 1)
    path = tmp_path / "feed.xml"
    path.write_text(feed.replace("<espi:value>1000", "<espi:value>&secret;1000"))

    with pytest.raises(CommandError) as caught:
        import_espi(path)

    assert "\n" not in str(caught.value)
    assert not Reading.objects.exists()
