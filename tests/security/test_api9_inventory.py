"""API9:2023 Improper Inventory Management — the published schema lists every API route the
server answers (health probes included), and the server answers nothing unpublished: no
debug, test or stale routes. Only the schema and its docs pages themselves are not in it."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "/usage/v1/"
#: Partner access (contract section 11): the OAuth token endpoint and Connect My Data feeds.
PARTNER_PREFIXES = ("/oauth/", "/espi/")
HEALTH = {"/healthz", "/readyz"}
UNPUBLISHED_BY_DESIGN = {"/usage/v1/schema", "/usage/v1/docs", "/usage/v1/redoc"}


def routes(patterns=None, prefix: str = "/") -> set[str]:
    """Every URL the project routes, with converters written as OpenAPI ``{name}``."""
    found: set[str] = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        text = str(pattern.pattern).lstrip("^").rstrip("$").replace("\\Z", "")
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", text)
        text = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)
        text = re.sub(r"\\\.\(\?P<format>.*", "", text).replace("\\", "")
        if isinstance(pattern, URLResolver):
            found |= routes(pattern.url_patterns, prefix + text)
        elif isinstance(pattern, URLPattern) and "{format}" not in text:
            found.add((prefix + text).rstrip("/") if text.endswith("/") else prefix + text)
    return found


@pytest.fixture
def published(api, db) -> set[str]:
    schema = api.get("/usage/v1/schema", {"format": "json"}).json()
    return set(schema["paths"])


def test_the_schema_lists_every_api_route(published):
    served = {
        route.rstrip("/")
        for route in routes()
        if (route.startswith((API_PREFIX, *PARTNER_PREFIXES)) or route in HEALTH)
        and route not in UNPUBLISHED_BY_DESIGN
    }

    assert served - published == set()
    assert published - served == set()


def test_only_the_api_partner_access_health_and_admin_are_routed():
    top_level = {route.split("/")[1] for route in routes()}

    assert top_level == {"usage", "oauth", "espi", "healthz", "readyz", "metrics", "admin"}


@pytest.mark.parametrize(
    "path",
    ["/__debug__/", "/silk/", "/api/", "/usage/v0/Meters", "/usage/v2/Meters", "/static/../",
     "/usage/v1/Meters/", "/.env"],
)  # fmt: skip
def test_unpublished_paths_are_404_problems(api, db, path):
    response = api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_debug_is_off(settings):
    assert settings.DEBUG is False
    assert "debug_toolbar" not in settings.INSTALLED_APPS
