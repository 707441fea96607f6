"""RFC 9457 problem details for every error the service returns.

One renderer (:func:`problem_response`) serves DRF's exception handler, Django's
``handler404``/``handler500`` and the middleware, so every 4xx/5xx has the same shape.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

PROBLEM_BASE_URI = "https://api.energygrid.example/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"


class Problem(exceptions.APIException):
    """An error with a stable slug; subclasses name the ones our endpoints raise."""

    slug = "bad-request"
    title = "Bad request"
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request could not be processed."
    headers: dict[str, str] = {}

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail or self.default_detail)
        if headers:
            self.headers = headers


class TokenRefused(Problem):
    """A login, refresh or logout token was refused; one message whatever the reason."""

    slug = "invalid-token"
    title = "Invalid token"
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "The token is invalid, expired or revoked."
    headers = {"WWW-Authenticate": 'Bearer realm="energygrid"'}


class InsufficientScope(Problem):
    """A partner token whose grant does not cover this endpoint (RFC 6750 section 3.1)."""

    slug = "insufficient-scope"
    title = "Insufficient scope"
    status_code = status.HTTP_403_FORBIDDEN
    default_detail = "The token's grant does not cover this endpoint."

    def __init__(self, *, scope: str | None):
        challenge = 'Bearer realm="energygrid", error="insufficient_scope"'
        if scope:
            challenge += f', scope="{scope}"'
        detail = f"This needs the {scope} scope." if scope else "No scope allows this."
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class PayloadTooLarge(Problem):
    slug = "payload-too-large"
    title = "Request body too large"
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this endpoint accepts."


class Conflict(Problem):
    slug = "conflict"
    title = "Conflict"
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."


class PreconditionFailed(Problem):
    slug = "precondition-failed"
    title = "Precondition failed"
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource has changed since you read it (If-Match did not match)."


class IdempotencyKeyReused(Problem):
    slug = "idempotency-key-reused"
    title = "Idempotency key reused"
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used with a different request body."


class ServiceUnavailable(Problem):
    slug = "service-unavailable"
    title = "Service unavailable"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A dependency of this service is unavailable."
    #: Seconds a client should wait before retrying (the ``Retry-After`` header).
    retry_after = 30


class DatabaseUnavailable(ServiceUnavailable):
    """The database could not be reached or dropped the connection; transient by nature."""

    default_detail = "The database is unavailable; retry shortly."
    retry_after = 5


class InvalidQuery(exceptions.ValidationError):
    """A validation error about query parameters: ``field`` names the parameter."""


class RangeTooLarge(InvalidQuery):
    """A time range longer than the granularity allows (slug ``range-too-large``)."""


def is_database_unavailable(exc: Exception, request: HttpRequest | None) -> bool:
    """Whether ``exc`` says the database is unreachable, restarting or dropped the connection
    (logged once, as a warning): a reason to retry, not a bug. Django closes the broken
    connection when the request finishes, so the next request reconnects."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    logger.warning("database unavailable in %s: %s", getattr(request, "path", "?"), exc)
    return True


# DRF exception class -> (slug, title). Checked in order, so subclasses come first.
_DRF_PROBLEMS: list[tuple[type[Exception], str, str]] = [
    (RangeTooLarge, "range-too-large", "Range too large"),
    (exceptions.ValidationError, "validation-error", "Validation failed"),
    (exceptions.ParseError, "malformed-request", "Malformed request body"),
    (exceptions.NotAuthenticated, "not-authenticated", "Authentication required"),
    (exceptions.AuthenticationFailed, "invalid-token", "Invalid token"),
    (exceptions.PermissionDenied, "forbidden", "Forbidden"),
    (exceptions.NotFound, "not-found", "Not found"),
    (exceptions.MethodNotAllowed, "method-not-allowed", "Method not allowed"),
    (exceptions.NotAcceptable, "not-acceptable", "Not acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported-media-type", "Unsupported media type"),
    (exceptions.Throttled, "rate-limited", "Too many requests"),
]

#: Every slug this service can answer with, for the docs and the schema.
PROBLEM_SLUGS: dict[str, str] = {
    "bad-request": "The request could not be processed.",
    "validation-error": "A parameter or body field is invalid; see `errors`.",
    "range-too-large": "The time range is longer than the granularity's `maxRangeDays`.",
    "malformed-request": "The body is not valid JSON.",
    "not-authenticated": "No bearer token was sent.",
    "invalid-token": "A token (identity, access or refresh) was refused.",
    "forbidden": "The caller may not do this.",
    "insufficient-scope": "A partner token's grant lacks the scope this endpoint needs.",
    "not-found": "No such resource (or not yours).",
    "method-not-allowed": "The path exists but not with this method.",
    "not-acceptable": "No representation matches the Accept header.",
    "conflict": "The request conflicts with current state (e.g. a limit, or a retry in flight).",
    "precondition-failed": "If-Match did not match the current ETag.",
    "payload-too-large": "The request body is too large.",
    "unsupported-media-type": "The body must be application/json.",
    "idempotency-key-reused": "The Idempotency-Key was used with another body.",
    "rate-limited": "Too many requests; retry after `Retry-After` seconds.",
    "internal-error": "An unexpected error; quote `requestId` when reporting it.",
    "service-unavailable": "A dependency is down; retry after `Retry-After` seconds.",
}


def _request_id(request: HttpRequest | None) -> str | None:
    return getattr(request, "request_id", None)


def problem_body(
    request: HttpRequest | None,
    *,
    status_code: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE_URI + slug,
        "title": title,
        "status": status_code,
        "detail": detail,
        "instance": request.path if request is not None else None,
        "requestId": _request_id(request),
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(
    request: HttpRequest | None,
    problem: Problem,
    *,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """Renders one of our :class:`Problem` exceptions outside DRF."""
    body = problem_body(
        request,
        status_code=problem.status_code,
        slug=problem.slug,
        title=problem.title,
        detail=str(problem.detail),
    )
    return render_problem(body, headers={**problem.headers, **(headers or {})})


def render_problem(body: dict[str, Any], *, headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse(body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _error_items(detail: Any, pointer: bool, prefix: str = "") -> list[dict[str, str]]:
    """Flattens DRF's nested error detail into ``[{"field", "code", "message"}]``.

    Body errors name the field with a JSON pointer (``/alertThresholds/2``); query errors name
    the parameter. Non-field errors point at the whole document (``""``).
    """
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            if key == "non_field_errors":
                child = prefix
            elif pointer:
                child = f"{prefix}/{str(key).replace('~', '~0').replace('/', '~1')}"
            else:
                child = f"{prefix}.{key}" if prefix else str(key)
            items.extend(_error_items(value, pointer, child))
        return items
    if isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            return [
                {"field": prefix, "code": str(item.code), "message": str(item)} for item in detail
            ]
        items = []
        for index, value in enumerate(detail):
            child = f"{prefix}/{index}" if pointer else f"{prefix}[{index}]"
            items.extend(_error_items(value, pointer, child))
        return items
    code = getattr(detail, "code", "invalid")
    return [{"field": prefix, "code": str(code), "message": str(detail)}]


def _validation_detail(errors: list[dict[str, str]]) -> str:
    if len(errors) == 1:
        field = errors[0]["field"]
        return f"{field}: {errors[0]['message']}" if field else errors[0]["message"]
    return f"{len(errors)} fields are invalid; see errors."


def _slug_and_title(exc: exceptions.APIException) -> tuple[str, str]:
    for cls, slug, title in _DRF_PROBLEMS:
        if isinstance(exc, cls):
            return slug, title
    return "bad-request", "Bad request"


def exception_handler(exc: Exception, context: dict[str, Any]):
    """DRF exception handler: every exception, expected or not, becomes a problem."""
    request = context.get("request")
    if is_database_unavailable(exc, request):
        exc = DatabaseUnavailable()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if not isinstance(exc, exceptions.APIException):
        set_rollback()
        logger.exception("Unhandled exception in %s", getattr(request, "path", "?"))
        return render_problem(internal_error_body(request))

    headers: dict[str, str] = dict(getattr(exc, "headers", None) or {})
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    if isinstance(exc, exceptions.Throttled):
        headers["Retry-After"] = str(max(1, math.ceil(exc.wait or 1)))
    if isinstance(exc, ServiceUnavailable):
        headers.setdefault("Retry-After", str(exc.retry_after))

    errors = None
    if isinstance(exc, Problem):
        slug, title, detail = exc.slug, exc.title, str(exc.detail)
    else:
        slug, title = _slug_and_title(exc)
        detail = str(exc.detail)
        if isinstance(exc, exceptions.ValidationError):
            errors = _error_items(exc.detail, pointer=not isinstance(exc, InvalidQuery))
            detail = _validation_detail(errors)
        elif isinstance(exc, exceptions.AuthenticationFailed):
            # One message for every failure: no hint of which check refused the token.
            detail = "The token is invalid, expired or revoked."

    set_rollback()
    body = problem_body(
        request,
        status_code=exc.status_code,
        slug=slug,
        title=title,
        detail=detail,
        errors=errors,
    )
    return render_problem(body, headers=headers)


def internal_error_body(request: HttpRequest | None) -> dict[str, Any]:
    return problem_body(
        request,
        status_code=500,
        slug="internal-error",
        title="Internal server error",
        detail="An unexpected error occurred. Quote the requestId when reporting it.",
    )


def _django_problem(request: HttpRequest, status_code: int, slug: str, title: str, detail: str):
    body = problem_body(request, status_code=status_code, slug=slug, title=title, detail=detail)
    return render_problem(body)


def handler400(request: HttpRequest, exception: Exception | None = None):
    """Django's own 400s (a disallowed Host, a suspicious operation): not a body problem."""
    return _django_problem(
        request, 400, "bad-request", "Bad request", "The request could not be processed."
    )


def handler403(request: HttpRequest, exception: Exception | None = None):
    return _django_problem(request, 403, "forbidden", "Forbidden", "Forbidden.")


def handler404(request: HttpRequest, exception: Exception | None = None):
    return _django_problem(
        request, 404, "not-found", "Not found", "No resource lives at this path."
    )


def handler500(request: HttpRequest):
    return render_problem(internal_error_body(request))
