"""OpenAPI additions: the problem-details schema and its responses on every operation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

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
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Optional. The ETag you read: if the resource changed since, 412 and nothing "
    "is written.",
)
PRECONDITION_FAILED = OpenApiResponse(description="`precondition-failed`: If-Match did not match.")
