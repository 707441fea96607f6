"""The OpenAPI schema validates and describes the contract; the docs page needs no CDN."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from django.core.management import call_command
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from tests.conftest import assert_problem

PREFIX = "/usage/v1"
#: Every path the contract names, with its methods.
CONTRACT_OPERATIONS = {
    "/Customer/login": {"post"},
    "/Customer/refresh": {"post"},
    "/Customer/logout": {"post"},
    "/Customer/profile": {"get"},
    "/Accounts": {"get"},
    "/Accounts/{accountId}": {"get"},
    "/Meters": {"get"},
    "/Meters/{meterId}": {"get"},
    "/Metadata/granularity-types": {"get"},
    "/Metadata/service-types": {"get"},
    "/Metadata/units-of-measure": {"get"},
    "/Metadata/insight-types": {"get"},
    "/Metadata/budget-periods": {"get"},
    "/Metadata/flow-directions": {"get"},
    "/Usage/{meterId}": {"get"},
    "/Usage/{meterId}/summary": {"get"},
    "/Usage/{meterId}/export": {"get"},
    "/Budgets": {"get", "post"},
    "/Budgets/{budgetId}": {"get", "patch", "delete"},
    "/Insights": {"get"},
    "/Insights/{insightId}": {"get", "patch"},
}
METADATA = sorted(path for path in CONTRACT_OPERATIONS if path.startswith("/Metadata/"))
PUBLIC = {"/Customer/login", "/Customer/refresh", *METADATA}
PAGED_LISTS = ["/Accounts", "/Meters", "/Budgets", "/Insights"]


@pytest.fixture(scope="module")
def schema() -> dict:
    """The JSON schema as served (generated once per module: it needs no database)."""
    response = APIClient().get(f"{PREFIX}/schema", {"format": "json"})
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_yaml_by_default_and_the_same_document_as_json(db, api, schema):
    response = api.get(f"{PREFIX}/schema")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert "json" not in response["Content-Type"]
    assert yaml.safe_load(response.content) == schema


def test_json_with_format_json(db, api):
    response = api.get(f"{PREFIX}/schema", {"format": "json"})
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")


def test_schema_validates(schema):
    validate(schema)
    assert schema["openapi"].startswith(("3.1", "3.0"))


def test_every_contract_path_is_described(schema):
    for path, methods in CONTRACT_OPERATIONS.items():
        assert path.join([PREFIX, ""]) in schema["paths"], path
        assert set(schema["paths"][PREFIX + path]) >= methods, path


#: The OAuth token endpoint answers its 400 and 401 in OAuth's own JSON (RFC 6749 5.2).
OAUTH_ERRORS = {("/oauth/token", "400"), ("/oauth/token", "401")}


def test_every_error_response_is_a_problem(schema):
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) >= {"type", "title", "status", "detail", "instance"}
    assert "errors" in problem["properties"]
    for path, method, operation in operations(schema):
        errors = {code: r for code, r in operation["responses"].items() if code[0] in "45"}
        assert "500" in errors, (path, method)
        for code, response in errors.items():
            content_type = "application/json" if (path, code) in OAUTH_ERRORS else None
            expected = [content_type or "application/problem+json"]
            assert list(response["content"]) == expected, (path, code)


def test_throttled_and_unavailable_responses_document_retry_after(schema):
    for path, method, operation in operations(schema):
        for code in ("429", "503"):
            if code in operation["responses"]:
                assert "Retry-After" in operation["responses"][code]["headers"], (path, method)
    assert "503" in schema["paths"]["/readyz"]["get"]["responses"]
    assert "429" not in schema["paths"]["/healthz"]["get"]["responses"]


def test_bearer_scheme_on_protected_operations_only(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearerAuth"]["description"],
    }
    for path, methods in CONTRACT_OPERATIONS.items():
        for method in methods:
            operation = schema["paths"][PREFIX + path][method]
            security = operation.get("security", [])
            if path in PUBLIC:
                assert not security or {} in security, path
            elif path.startswith("/Customer/"):
                assert security == [{"bearerAuth": []}], path  # never a partner token
                assert "401" in operation["responses"], path
            else:
                assert {"bearerAuth": []} in security, path
                assert "401" in operation["responses"], path


def test_partner_tokens_are_documented_with_the_scope_each_operation_needs(schema):
    scheme = schema["components"]["securitySchemes"]["partnerOAuth"]
    flow = scheme["flows"]["authorizationCode"]
    assert flow["tokenUrl"] == "/oauth/token"
    assert set(flow["scopes"]) == {
        "usage:read",
        "insights:read",
        "budgets:read",
        "budgets:write",
        "espi",
    }
    paths = schema["paths"]
    assert {"partnerOAuth": ["usage:read"]} in paths[f"{PREFIX}/Meters"]["get"]["security"]
    assert {"partnerOAuth": ["budgets:write"]} in paths[f"{PREFIX}/Budgets"]["post"]["security"]
    assert not any(
        "partnerOAuth" in s for s in paths[f"{PREFIX}/Insights/{{insightId}}"]["patch"]["security"]
    )
    token = paths["/oauth/token"]["post"]
    assert list(token["requestBody"]["content"]) == ["application/x-www-form-urlencoded"]
    assert (
        "access_token"
        in resolve(schema, token["responses"]["200"]["content"]["application/json"]["schema"])[
            "properties"
        ]
    )


@pytest.mark.parametrize("path", PAGED_LISTS)
def test_paged_lists_describe_the_envelope_and_parameters(schema, path):
    operation = schema["paths"][PREFIX + path]["get"]
    body = resolve(schema, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert body["required"] == ["items"]
    assert body["properties"]["items"]["type"] == "array"
    assert body["properties"]["nextPageToken"]["type"] == "string"
    parameters = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert {"pageSize", "pageToken"} <= set(parameters)
    assert parameters["pageSize"]["schema"]["minimum"] == 1
    assert "400" in operation["responses"]


def test_metadata_needs_no_token(schema):
    for path in METADATA:
        assert "401" not in schema["paths"][PREFIX + path]["get"]["responses"], path


def test_meter_filters_are_documented(schema):
    parameters = {p["name"] for p in schema["paths"][f"{PREFIX}/Meters"]["get"]["parameters"]}
    assert {"accountId", "serviceType"} <= parameters


def test_single_resources_document_404(schema):
    for path in ("/Accounts/{accountId}", "/Meters/{meterId}"):
        assert "404" in schema["paths"][PREFIX + path]["get"]["responses"], path


@pytest.mark.parametrize("path", METADATA)
def test_metadata_lists_describe_items_cache_headers_and_304(schema, path):
    operation = schema["paths"][PREFIX + path]["get"]
    ok = operation["responses"]["200"]
    body = resolve(schema, ok["content"]["application/json"]["schema"])
    assert set(body["properties"]) == {"items"}  # never a nextPageToken
    assert {"ETag", "Cache-Control"} <= set(ok["headers"])
    assert "304" in operation["responses"]
    assert "If-None-Match" in {p["name"] for p in operation["parameters"]}
    assert not {"pageSize", "pageToken"} & {p["name"] for p in operation["parameters"]}


DOCS_PAGES = pytest.mark.parametrize(
    ("page", "schema_reference"),
    [("docs", 'url: "{prefix}/schema"'), ("redoc", 'spec-url="{prefix}/schema"')],
)


@DOCS_PAGES
def test_docs_pages_use_only_local_assets(db, api, page, schema_reference):
    """Swagger UI and ReDoc both work offline: every asset is ours, none from a CDN."""
    response = api.get(f"{PREFIX}/{page}")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset
    assert "cdn" not in html.lower()
    assert schema_reference.format(prefix=PREFIX) in html


@DOCS_PAGES
def test_docs_assets_are_served_without_debug(db, api, settings, page, schema_reference):
    """Django serves static files only with DEBUG on; the docs' own assets must not depend on it."""
    settings.DEBUG = False
    html = api.get(f"{PREFIX}/{page}").content.decode()
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        response = api.get(asset)
        assert response.status_code == 200, asset
        assert b"".join(response.streaming_content)


@pytest.mark.parametrize(
    "path",
    [
        "/static/drf_spectacular_sidecar/../../settings.py",
        "/static/drf_spectacular_sidecar/%2e%2e/%2e%2e/__init__.py",
        "/static/drf_spectacular_sidecar/",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/",
    ],
)
def test_static_files_never_leave_their_folders_or_list_them(db, api, path):
    assert_problem(api.get(path), 404, "not-found")


def test_admin_assets_are_served_without_debug(db, api, settings):
    settings.DEBUG = False
    response = api.get("/static/admin/css/base.css")

    assert response.status_code == 200


def test_schema_generates_without_a_warning(tmp_path):
    """No guessed types or colliding enum names: every operation is described on purpose."""
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )

    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.1.0")
