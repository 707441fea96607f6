"""Every error is an RFC 9457 problem (contract section 1), and every response has a request id."""

from __future__ import annotations

import re
import uuid

import pytest
from rest_framework.test import APIClient

from customers.services import session_issue
from tests.api.urls import SECRET_FAILURE
from tests.conftest import assert_problem

LOGIN = "/usage/v1/Customer/login"
ACCOUNTS = "/usage/v1/Accounts"
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/nowhere"),
        ("get", "/usage/v1/Nowhere"),
        ("post", "/usage/v1/Accounts/extra/segments"),
        ("get", "/usage/v2/Accounts"),
        ("get", "/usage/v1/Accounts/"),  # no trailing-slash redirect: a 404 problem
    ],
)
def test_unknown_url_is_404_problem(db, api, method, path):
    body = assert_problem(getattr(api, method)(path), 404, "not-found")
    assert body["instance"] == path


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", LOGIN),
        ("delete", LOGIN),
        ("put", "/usage/v1/Customer/refresh"),
        ("post", "/healthz"),
    ],
)
def test_wrong_method_is_405_problem_with_allow(db, api, method, path):
    response = getattr(api, method)(path)
    assert_problem(response, 405, "method-not-allowed")
    assert response["Allow"]
    assert method.upper() not in response["Allow"].split(", ")


def test_wrong_method_on_a_protected_path_asks_for_a_token_first(db, api):
    assert_problem(api.delete(ACCOUNTS), 401, "not-authenticated")


def test_no_token_is_401_not_authenticated(db, api):
    response = api.get(ACCOUNTS)
    assert_problem(response, 401, "not-authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="energygrid"'


@pytest.mark.parametrize(
    ("authorization", "slug"),
    [
        ("Bearer garbage", "invalid-token"),
        ("Bearer a.b.c", "invalid-token"),
        ("Bearer x y", "invalid-token"),
        # Another scheme is no bearer token at all.
        ("Basic YWxpY2U6cHc=", "not-authenticated"),
    ],
)
def test_bad_token_is_401(db, api, authorization, slug):
    api.credentials(HTTP_AUTHORIZATION=authorization)
    response = api.get(ACCOUNTS)
    assert_problem(response, 401, slug)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_access_token_with_an_edited_signature_is_401(alice):
    access = session_issue(customer=alice).access_token
    header, payload, signature = access.split(".")
    forged = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {header}.{payload}.{forged}")
    body = assert_problem(client.get(ACCOUNTS), 401, "invalid-token")
    assert body["detail"] == "The token is invalid, expired or revoked."


def test_non_json_content_type_is_415(db, api):
    response = api.post(LOGIN, "identityToken=x", content_type="application/x-www-form-urlencoded")
    body = assert_problem(response, 415, "unsupported-media-type")
    assert "application/x-www-form-urlencoded" in body["detail"]


@pytest.mark.parametrize("payload", ["{not json", '{"identityToken": "x",}', "NaN", b"\xff\xfe"])
def test_body_that_is_not_json_is_400_malformed_request(db, api, payload):
    response = api.post(LOGIN, payload, content_type="application/json")
    assert_problem(response, 400, "malformed-request")


@pytest.mark.parametrize("payload", ['"just a string"', "[]", "{}", '{"identityToken": null}'])
def test_json_of_the_wrong_shape_is_400_validation_error(db, api, payload):
    response = api.post(LOGIN, payload, content_type="application/json")
    body = assert_problem(response, 400, "validation-error")
    assert body["errors"]
    assert all(set(error) == {"field", "code", "message"} for error in body["errors"])


def test_body_field_errors_name_a_json_pointer(db, api):
    response = api.post(LOGIN, {}, format="json")
    body = assert_problem(response, 400, "validation-error")
    assert body["errors"] == [
        {"field": "/identityToken", "code": "required", "message": "This field is required."}
    ]


def test_oversized_body_is_413_before_it_is_read(db, api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    payload = '{"identityToken": "' + "x" * 1000 + '"}'
    assert_problem(
        api.post(LOGIN, payload, content_type="application/json"), 413, "payload-too-large"
    )


def test_unacceptable_accept_is_406(db, api):
    response = api.get(ACCOUNTS, HTTP_ACCEPT="text/html")
    assert_problem(response, 406, "not-acceptable")


def test_disallowed_host_is_400_problem(db, api):
    response = api.get("/healthz", HTTP_HOST="evil.example")
    assert_problem(response, 400, "bad-request")


@pytest.mark.parametrize("path", ["/test/django-failure", "/test/drf-failure"])
def test_unhandled_exception_is_500_problem_without_internals(db, settings, path):
    settings.ROOT_URLCONF = "tests.api.urls"
    client = APIClient(raise_request_exception=False)

    response = client.get(path)

    assert_problem(response, 500, "internal-error")
    text = response.content.decode()
    for leak in (SECRET_FAILURE, "SELECT", "Traceback", "RuntimeError", ".py"):
        assert leak not in text


class TestLoginThrottle:
    """Login is limited per client IP; every attempt counts, good or bad."""

    @pytest.fixture(autouse=True)
    def _three_logins_a_minute(self, settings):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"login": "3/min", "customer": "1200/min"},
        }

    @staticmethod
    def attempt(client: APIClient, **extra: str):
        return client.post(LOGIN, {"identityToken": "not-a-jwt"}, format="json", **extra)

    def test_fourth_attempt_is_429_with_retry_after(self, db, api):
        for _ in range(3):
            assert_problem(self.attempt(api), 401, "invalid-token")

        response = self.attempt(api)

        assert_problem(response, 429, "rate-limited")
        assert 1 <= int(response["Retry-After"]) <= 60

    def test_malformed_attempts_count_too(self, db, api):
        api.post(LOGIN, "{", content_type="application/json")
        api.post(LOGIN, "x", content_type="text/plain")
        api.post(LOGIN, {}, format="json")
        assert_problem(self.attempt(api), 429, "rate-limited")

    def test_x_forwarded_for_cannot_pick_a_fresh_identity(self, db, api):
        """With no trusted proxy (NUM_PROXIES=0) the header is ignored: REMOTE_ADDR counts."""
        for n in range(3):
            self.attempt(api, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        response = self.attempt(api, HTTP_X_FORWARDED_FOR="203.0.113.99")
        assert_problem(response, 429, "rate-limited")

    def test_behind_a_trusted_proxy_each_client_ip_counts_alone(self, db, api, settings):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
        for _ in range(3):
            self.attempt(api, HTTP_X_FORWARDED_FOR="198.51.100.7")
        assert_problem(self.attempt(api, HTTP_X_FORWARDED_FOR="198.51.100.7"), 429, "rate-limited")
        # A client spoofing the left of the header is still identified by what the proxy added.
        assert_problem(
            self.attempt(api, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7"), 429, "rate-limited"
        )
        assert_problem(self.attempt(api, HTTP_X_FORWARDED_FOR="198.51.100.8"), 401, "invalid-token")


def test_customer_throttle_counts_per_customer(settings, alice_api, bob_api):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "20/min", "customer": "2/min"},
    }
    assert alice_api.get(ACCOUNTS).status_code == 200
    assert alice_api.get(ACCOUNTS).status_code == 200

    response = alice_api.get(ACCOUNTS)

    assert_problem(response, 429, "rate-limited")
    assert int(response["Retry-After"]) >= 1
    assert bob_api.get(ACCOUNTS).status_code == 200


class TestRequestId:
    @pytest.mark.parametrize("request_id", ["abc", "A.b_c-1", "x" * 128, "0"])
    def test_well_formed_id_is_echoed(self, db, api, request_id):
        response = api.get("/healthz", HTTP_X_REQUEST_ID=request_id)
        assert response["X-Request-ID"] == request_id

    @pytest.mark.parametrize("request_id", ["", "x" * 129, "has space", "semi;colon", "ünï"])
    def test_malformed_id_is_replaced_by_a_uuid(self, db, api, request_id):
        response = api.get("/healthz", HTTP_X_REQUEST_ID=request_id)
        assert UUID_PATTERN.fullmatch(response["X-Request-ID"])

    def test_every_response_gets_a_fresh_one(self, db, api):
        ids = {api.get("/healthz")["X-Request-ID"] for _ in range(3)}
        assert len(ids) == 3
        assert all(UUID_PATTERN.fullmatch(request_id) for request_id in ids)

    def test_problem_body_carries_it(self, db, api):
        response = api.get("/nowhere", HTTP_X_REQUEST_ID="trace-42")
        assert assert_problem(response, 404, "not-found")["requestId"] == "trace-42"

    def test_instance_is_the_path_without_query(self, alice_api):
        response = alice_api.get(ACCOUNTS, {"pageSize": "0", "pageToken": "x"})
        assert assert_problem(response, 400, "validation-error")["instance"] == ACCOUNTS

    def test_unhandled_error_still_carries_it(self, db, settings):
        settings.ROOT_URLCONF = "tests.api.urls"
        client = APIClient(raise_request_exception=False)
        response = client.get("/test/django-failure", HTTP_X_REQUEST_ID=str(uuid.UUID(int=7)))
        assert response["X-Request-ID"] == str(uuid.UUID(int=7))
        assert response.json()["requestId"] == str(uuid.UUID(int=7))
