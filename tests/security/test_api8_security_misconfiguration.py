"""API8:2023 Security Misconfiguration — security headers on every response, no debug pages or
stack traces, and behind a TLS-terminating proxy: https recognised only through the configured
header, HSTS, and CSRF trusted origins for the admin — each configurable by environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import assert_problem

ROOT = Path(__file__).parents[2]
PUBLIC_ORIGIN = "https://admin.energygrid.example"


def settings_under(env: dict[str, str]) -> dict | str:
    """The security settings a fresh process reads from ``env`` (or its one-line refusal)."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({n: getattr(settings, n) for n in ('SECURE_PROXY_SSL_HEADER', "
        "'CSRF_TRUSTED_ORIGINS', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
        "'SECURE_HSTS_PRELOAD')}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_HSTS", "DJANGO_CSRF"))}
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "energygrid.settings", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        return result.stderr.strip().splitlines()[-1]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_tls_proxy_settings_come_from_the_environment():
    assert settings_under(
        {
            "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
            "DJANGO_CSRF_TRUSTED_ORIGINS": f"{PUBLIC_ORIGIN}, https://ops.energygrid.example",
            "DJANGO_HSTS_SECONDS": "31536000",
            "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "true",
            "DJANGO_HSTS_PRELOAD": "false",
        }
    ) == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "CSRF_TRUSTED_ORIGINS": [PUBLIC_ORIGIN, "https://ops.energygrid.example"],
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
    }
    assert settings_under({})["SECURE_PROXY_SSL_HEADER"] is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_CSRF_TRUSTED_ORIGINS": "admin.energygrid.example"}, "must list origins"),
        ({"DJANGO_CSRF_TRUSTED_ORIGINS": "https://a.example/path"}, "must list origins"),
        ({"DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"}, "header name"),
        ({"DJANGO_HSTS_SECONDS": "a year"}, "whole number"),
        ({"DJANGO_HSTS_PRELOAD": "maybe"}, "true or false"),
    ],
)
def test_nonsense_refuses_to_start(env, message):
    refusal = settings_under(env)

    assert isinstance(refusal, str)
    assert "ImproperlyConfigured" in refusal
    assert message in refusal


def test_security_headers_on_api_responses_and_problems(api, alice_api, db):
    for response in (
        alice_api.get("/usage/v1/Customer/profile"),
        api.get("/usage/v1/Customer/profile"),
        api.get("/usage/v1/nowhere"),
    ):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert "X-Powered-By" not in response


def test_no_debug_page_and_no_stack_trace(api, alice_api, settings):
    assert settings.DEBUG is False
    body = assert_problem(alice_api.get("/usage/v1/Usage/not-a-uuid/summary"), 404, "not-found")

    assert "Traceback" not in json.dumps(body)
    unknown = assert_problem(api.get("/nowhere"), 404, "not-found")
    assert "urlpatterns" not in json.dumps(unknown)


@pytest.fixture
def behind_tls_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    return settings


def test_hsts_on_https_through_the_proxy_only(api, db, behind_tls_proxy):
    over_tls = api.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    plain = api.get("/healthz")

    assert over_tls["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in plain


def test_without_the_proxy_setting_a_client_cannot_claim_https(api, db, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    assert settings.SECURE_PROXY_SSL_HEADER is None

    response = api.get("/healthz", HTTP_X_FORWARDED_PROTO="https")

    assert "Strict-Transport-Security" not in response


def admin_post_from(origin: str):
    client = Client(enforce_csrf_checks=True, HTTP_X_FORWARDED_PROTO="https")
    form = client.get("/admin/login/")
    token = form.cookies["csrftoken"].value
    return client.post(
        "/admin/login/",
        {"username": "x", "password": "y", "csrfmiddlewaretoken": token},
        HTTP_ORIGIN=origin,
        HTTP_REFERER=f"{origin}/admin/login/",
    )


def test_admin_forms_posted_through_the_proxy_need_a_trusted_origin(db, behind_tls_proxy):
    assert admin_post_from(PUBLIC_ORIGIN).status_code == 403

    behind_tls_proxy.CSRF_TRUSTED_ORIGINS = [PUBLIC_ORIGIN]

    assert admin_post_from(PUBLIC_ORIGIN).status_code == 200  # the form again: bad password
    assert admin_post_from("https://evil.example").status_code == 403


def test_session_and_csrf_cookies_are_secure_and_http_only(settings):
    assert settings.SESSION_COOKIE_SECURE
    assert settings.CSRF_COOKIE_SECURE
    assert settings.SESSION_COOKIE_HTTPONLY
