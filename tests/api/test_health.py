"""Liveness and readiness probes; a dependency is "down" by pointing it at a closed port."""

from __future__ import annotations

import pytest

from tests.conftest import assert_problem

CLOSED_PORT = "redis://127.0.0.1:1/0"


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CLOSED_PORT,
        }
    }


@pytest.fixture
def broker_down(settings):
    settings.CELERY_BROKER_URL = CLOSED_PORT


def test_healthz_is_200_without_a_token(db, api):
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_everything_is_reachable(db, api):
    response = api.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok", "broker": "ok"}


def test_readyz_needs_no_broker_connection_for_the_in_process_broker(db, api, settings):
    settings.CELERY_BROKER_URL = "memory://"
    assert api.get("/readyz").status_code == 200


@pytest.mark.usefixtures("cache_down")
def test_readyz_is_503_naming_the_cache_when_it_is_down(db, api):
    response = api.get("/readyz")
    body = assert_problem(response, 503, "service-unavailable")
    assert body["detail"] == "Unavailable: cache."
    assert int(response["Retry-After"]) > 0


@pytest.mark.usefixtures("broker_down")
def test_readyz_is_503_naming_the_broker_when_it_is_down(db, api):
    response = api.get("/readyz")
    body = assert_problem(response, 503, "service-unavailable")
    assert body["detail"] == "Unavailable: broker."
    assert int(response["Retry-After"]) > 0


@pytest.mark.usefixtures("cache_down", "broker_down")
def test_readyz_names_everything_that_is_down(db, api):
    body = assert_problem(api.get("/readyz"), 503, "service-unavailable")
    assert body["detail"] == "Unavailable: cache, broker."


@pytest.mark.usefixtures("cache_down")
def test_healthz_does_not_depend_on_the_cache(db, api):
    assert api.get("/healthz").status_code == 200


def test_probes_are_never_throttled(db, api, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "1/min", "customer": "1/min"},
    }
    for _ in range(3):
        assert api.get("/healthz").status_code == 200
        assert api.get("/readyz").status_code == 200
