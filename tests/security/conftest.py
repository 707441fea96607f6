"""Fixtures of the OWASP API Security Top 10 (2023) modules: one per risk, each with the attack
it names, through HTTP against the real stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.scripted_http import ScriptedServer

LOGIN = "/usage/v1/Customer/login"


@pytest.fixture
def idp() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


def login(api, token: str):
    return api.post(LOGIN, {"identityToken": token}, format="json")
