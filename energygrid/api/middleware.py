"""Request ids on every response and log line; a body-size guard that answers with a problem;
the database-outage 503 for views outside DRF."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, router
from django.http import HttpRequest, HttpResponse

from energygrid.api.problems import (
    DatabaseUnavailable,
    PayloadTooLarge,
    is_database_unavailable,
    problem_response,
)
from energygrid.api.request_context import current_request_id

REQUEST_ID_HEADER = "X-Request-ID"
#: Where the API lives (``energygrid.urls``).
API_PATH = "/usage/v1/"
DOCUMENTATION = tuple(API_PATH + page for page in ("schema", "docs", "redoc"))
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


class RequestIdMiddleware:
    """Echoes a well-formed incoming ``X-Request-ID``, otherwise mints a UUID."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else str(uuid.uuid4())
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class BodySizeLimitMiddleware:
    """Refuses declared bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` before anything reads them.

    DRF's parsers read the stream directly and so bypass Django's own size check.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            return problem_response(request, PayloadTooLarge())
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """With the database unreachable, every API request (under ``/usage/v1/``, even one that
    needs no database, such as Metadata) and every view outside DRF (the admin) answers the
    same 503 problem with ``Retry-After``, never a 500, so clients see one outage. The API's
    documentation (schema, docs) is static and keeps serving, like ``/healthz``.

    The API's connection is checked before the view. That costs nothing extra for views that
    query anyway: Django health-checks a persistent connection once per request, on first use.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PATH) and not request.path.startswith(DOCUMENTATION):
            try:
                connections[router.db_for_read(None)].cursor().close()
            except (OperationalError, InterfaceError) as exc:
                return self.process_exception(request, exc)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exception, request):
            return None
        problem = DatabaseUnavailable()
        return problem_response(request, problem, headers={"Retry-After": str(problem.retry_after)})
