"""OpenAPI additions: the problem-details schema and its responses on every operation."""

from __future__ import annotations

from typing import Any

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

_DESCRIPTIONS = {
    "400": "Validation error (`validation-error`, `range-too-large`, `malformed-request`).",
    "401": "Missing or invalid token (`not-authenticated`, `invalid-token`).",
    "404": "Not found, or not yours (`not-found`).",
    "405": "Method not allowed (`method-not-allowed`).",
    "429": "Rate limited (`rate-limited`); see Retry-After.",
    "500": "Internal error (`internal-error`).",
}
_PUBLIC_PATH_PREFIXES = (
    "/usage/v1/Metadata/",
    "/usage/v1/Customer/login",
    "/usage/v1/Customer/refresh",
)


def _problem_response(description: str) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": ref}}}


def add_problem_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular post-processing hook: declare problem responses everywhere."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in _DESCRIPTIONS.items():
                if code == "401" and path.startswith(_PUBLIC_PATH_PREFIXES):
                    continue
                responses.setdefault(code, _problem_response(description))
            for code, response in responses.items():
                if code[0] in "45" and "content" not in response:
                    response.update(_problem_response(response.get("description", "")))
    return result
