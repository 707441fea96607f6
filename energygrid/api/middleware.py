"""Request ids on every response and log line; a body-size guard that answers with a problem;
the database-outage 503 for views outside DRF."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from energygrid.api.problems import (
    DatabaseUnavailable,
    PayloadTooLarge,
    is_database_unavailable,
    problem_response,
)
from energygrid.api.request_context import current_request_id

REQUEST_ID_HEADER = "X-Request-ID"
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
    """Views outside DRF (the admin) answer an unreachable database with the same 503 problem
    and ``Retry-After`` as the API (DRF's exception handler does it for the API), not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exception, request):
            return None
        problem = DatabaseUnavailable()
        return problem_response(request, problem, headers={"Retry-After": str(problem.retry_after)})
