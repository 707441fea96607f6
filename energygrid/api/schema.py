"""OpenAPI additions: the problem-details schema and its responses on every operation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from energygrid.api.problems import PROBLEM_CONTENT_TYPE, PROBLEM_SLUGS

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details. Slugs in `type`: "
    + "; ".join(f"`{slug}`: {text}" for slug, text in PROBLEM_SLUGS.items()),
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The request path."},
        "requestId": {"type": "string", "description": "Echoes X-Request-ID."},
        "errors": {
            "type": "array",
            "description": "Validation errors (400 only).",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "Query parameter name, or JSON pointer into the body.",
                    },
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _problem_response(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Problem"}
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": ref}},
    }
    if retry_after:
        response["headers"] = _RETRY_AFTER
    return response


def _requires_bearer(operation: dict[str, Any]) -> bool:
    """Bearer is required when every security alternative names a scheme (none is ``{}``)."""
    security = operation.get("security") or []
    return bool(security) and all(security)


def _problems_of(path: str, operation: dict[str, Any], throttled: bool) -> dict[str, str]:
    """The problem statuses this operation can answer with, judged from what it accepts."""
    has_body = "requestBody" in operation
    has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
    problems: dict[str, str] = {}
    if has_body or has_query:
        problems["400"] = "Invalid input (`validation-error`" + (
            ", `malformed-request`)." if has_body else ")."
        )
    if _requires_bearer(operation):
        problems["401"] = "Missing or invalid token (`not-authenticated`, `invalid-token`)."
    if any("partnerOAuth" in requirement for requirement in operation.get("security", [])):
        problems["403"] = "A partner token without the scope this needs (`insufficient-scope`)."
    if "{" in path:
        problems["404"] = "Not found, or not yours (`not-found`)."
    if has_body:
        problems["413"] = "Request body too large (`payload-too-large`)."
        problems["415"] = "Body is not application/json (`unsupported-media-type`)."
    if throttled:
        problems["429"] = "Rate limited (`rate-limited`); see Retry-After."
    problems["500"] = "Internal error (`internal-error`); quote requestId."
    return problems


def _unthrottled(generator) -> set[tuple[str, str]]:
    """``(path, method)`` of operations whose view has no throttle, so never answers 429."""
    return {
        (path, method.lower())
        for path, _regex, method, callback in getattr(generator, "endpoints", None) or ()
        if not getattr(callback.cls, "throttle_classes", True)
    }


def add_problem_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular post-processing hook: every 4xx/5xx an operation can give is a Problem.

    Adds the problems an operation can answer with (without overriding what a view declared),
    and gives declared 4xx/5xx responses without a body the problem body.
    """
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    unthrottled = _unthrottled(generator)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            throttled = (path, method) not in unthrottled
            for code, description in _problems_of(path, operation, throttled).items():
                responses.setdefault(code, {"description": description})
            for code, response in responses.items():
                if code[0] in "45" and "content" not in response:
                    response.update(
                        _problem_response(
                            response.get("description", ""),
                            retry_after=code in ("429", "503"),
                        )
                    )
    return result


# What DRF's CharField refuses: NUL anywhere, and (trimming whitespace, blank not allowed)
# a value of whitespace only. Python's whitespace (str.strip), not JSON Schema's \s.
_PYTHON_SPACE = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_NO_NUL = r"^[^\x00]*$"
_NOT_BLANK = rf"^[^\x00]*[^\x00{_PYTHON_SPACE}][^\x00]*$"


def _char_field_pattern(field: serializers.CharField) -> str:
    return _NO_NUL if field.allow_blank or not field.trim_whitespace else _NOT_BLANK


def _link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "description": description, "parameters": parameters}


_FIRST_ITEM = "$response.body#/items/0/id"
_BUDGET_LINKS = {
    "GetBudget": _link("Budgets_retrieve", "Read it.", budgetId="$response.body#/id"),
    "ChangeBudget": _link(
        "Budgets_partial_update",
        "Change it, conditional on the version just read.",
        budgetId="$response.body#/id",
        **{"header.If-Match": "$response.header.ETag"},
    ),
    "DeleteBudget": _link(
        "Budgets_destroy",
        "Delete it, conditional on the version just read.",
        budgetId="$response.body#/id",
        **{"header.If-Match": "$response.header.ETag"},
    ),
}
_SESSION_LINKS = {
    "Profile": _link(
        "Customer_profile_retrieve",
        "Read the profile with the new access token.",
        **{"header.Authorization": "Bearer {$response.body#/accessToken}"},
    ),
}
_METER_LINKS = {
    name: _link(operation, description, meterId=_FIRST_ITEM)
    for name, operation, description in [
        ("GetMeter", "Meters_retrieve", "The first meter listed."),
        ("MeterUsage", "Usage_retrieve", "The first meter's usage series."),
        ("MeterSummary", "Usage_summary_retrieve", "The first meter's summary."),
        ("MeterExport", "Usage_export_retrieve", "The first meter's Green Button export."),
    ]
}

#: OpenAPI links (operationId, status) -> {name: link}: how a client (and the stateful
#: fuzzer) walks from one response to the next request.
LINKS: dict[tuple[str, str], dict[str, Any]] = {
    ("Customer_login_create", "200"): _SESSION_LINKS,
    ("Customer_refresh_create", "200"): _SESSION_LINKS,
    ("Accounts_list", "200"): {
        "GetAccount": _link(
            "Accounts_retrieve", "The first account listed.", accountId=_FIRST_ITEM
        ),
        "AccountMeters": _link("Meters_list", "The first account's meters.", accountId=_FIRST_ITEM),
        "AccountBudgets": _link(
            "Budgets_list", "The first account's budgets.", accountId=_FIRST_ITEM
        ),
    },
    ("Meters_list", "200"): _METER_LINKS,
    ("Budgets_create", "201"): _BUDGET_LINKS,
    ("Budgets_retrieve", "200"): {
        name: link for name, link in _BUDGET_LINKS.items() if name != "GetBudget"
    },
    ("Budgets_list", "200"): {
        "GetBudget": _link("Budgets_retrieve", "The first budget listed.", budgetId=_FIRST_ITEM)
    },
    ("Insights_list", "200"): {
        "GetInsight": _link("Insights_retrieve", "The first insight.", insightId=_FIRST_ITEM),
        "MarkInsight": _link(
            "Insights_partial_update", "Mark the first insight.", insightId=_FIRST_ITEM
        ),
    },
}


def add_links(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular post-processing hook: the :data:`LINKS` on their responses."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                links = LINKS.get((operation.get("operationId"), code))
                if links:
                    response["links"] = links
    return result


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus the rules our serializers and fields declare for it.

    A serializer's ``request_schema_rules`` (e.g. ``{"additionalProperties": False}`` for one
    that refuses unknown fields, ``{"minProperties": 1}`` for a patch that needs a field) go
    into its request body schema, and a field's ``schema_rules`` (e.g. a ``pattern``) into the
    field's, so the schema refuses exactly what the server refuses.
    """

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        result = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(field, serializers.CharField):
            result.setdefault("pattern", _char_field_pattern(field))
        result.update(getattr(field, "schema_rules", {}))
        return result

    def _map_basic_serializer(self, serializer, direction):
        result = super()._map_basic_serializer(serializer, direction)
        if direction == "request":
            result.update(getattr(serializer, "request_schema_rules", {}))
        return result

    def _get_request_for_media_type(self, serializer, direction="request"):
        """A body that must hold at least one field is a required body, even for PATCH."""
        schema, required = super()._get_request_for_media_type(serializer, direction)
        rules = getattr(force_instance(serializer), "request_schema_rules", {})
        return schema, required or rules.get("minProperties", 0) > 0


#: Years of the supported dates (usage.calendar.SUPPORTED_START/END: 1900-2200 UTC).
_SUPPORTED_YEAR = r"^(19[0-9]{2}|2[01][0-9]{2})-"
#: ``start``/``end`` of the Usage endpoints: an RFC 3339 date-time with offset, or a local date.
INSTANT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "date-time", "pattern": _SUPPORTED_YEAR},
        {"type": "string", "format": "date", "pattern": _SUPPORTED_YEAR},
    ]
}

#: An entity-tag list (RFC 9110 section 8.8.3) or ``*``.
_ETAG_LIST_PATTERN = r'^(\*|(W/)?"[!#-~]*"( *, *(W/)?"[!#-~]*")*)$'

#: OpenAPI pieces for endpoints built on energygrid.api.conditional.
ETAG_HEADER = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 304],
    description="Strong validator: a hash of exactly the body sent; send it back in "
    "If-None-Match (304 when unchanged) or If-Match (writes).",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="ETags from an earlier response (or `*`): a match answers 304.",
)
NOT_MODIFIED = OpenApiResponse(description="Not modified: If-None-Match matched the ETag.")
IF_MATCH = OpenApiParameter(
    "If-Match",
    {"type": "string", "pattern": _ETAG_LIST_PATTERN},
    OpenApiParameter.HEADER,
    description="Optional. The ETag you read: if the resource changed since, 412 and nothing "
    "is written.",
)
PRECONDITION_FAILED = OpenApiResponse(description="`precondition-failed`: If-Match did not match.")
