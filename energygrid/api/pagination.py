"""AIP-158 keyset pagination: ``pageSize``/``pageToken`` in, ``items``/``nextPageToken`` out.

Tokens are signed (tamper-evident) and carry the last row's ordering values plus a
fingerprint of the query they belong to (path, filters and principal), so a token reused with
other filters, by another customer, or edited by hand is a 400. The ordering always ends in a
unique column, so rows that share a timestamp are never skipped or repeated.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from energygrid.api.problems import InvalidQuery

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
PAGE_SIZE_PARAM = "pageSize"
PAGE_TOKEN_PARAM = "pageToken"  # noqa: S105 - a parameter name, not a secret
_SALT = "energygrid.pagination"

#: The query parameters of every paged operation, as OpenAPI parameter objects. A page token
#: has the shape of Django's ``signing.dumps`` output: an optionally compressed (``.``)
#: URL-safe base64 payload, a base62 timestamp and a URL-safe base64 HMAC-SHA256, ``:``-joined;
#: or empty, which asks for the first page (AIP-158).
_PAGE_TOKEN_PATTERN = r"^(\.?[A-Za-z0-9_-]+:[A-Za-z0-9]+:[A-Za-z0-9_-]{43})?$"  # noqa: S105 - a regex
PAGE_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": PAGE_SIZE_PARAM,
        "in": "query",
        "required": False,
        "description": f"Items per page, 1-{MAX_PAGE_SIZE} (larger is clamped); "
        f"default {DEFAULT_PAGE_SIZE}.",
        "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_PAGE_SIZE},
    },
    {
        "name": PAGE_TOKEN_PARAM,
        "in": "query",
        "required": False,
        "description": "Opaque token from a previous page's nextPageToken; only valid "
        "with the same filters.",
        "schema": {"type": "string", "pattern": _PAGE_TOKEN_PATTERN},
    },
]
#: The same, for views that paginate by hand and declare them with ``extend_schema``.
PAGE_OPENAPI_PARAMETERS = [
    OpenApiParameter(p["name"], p["schema"], OpenApiParameter.QUERY, description=p["description"])
    for p in PAGE_PARAMETERS
]


def parse_page_size(request: Request) -> int:
    """``pageSize`` clamped to the maximum; empty, 0, negative or not a whole number is a 400.

    Only ASCII digits count (``str.isdigit`` also accepts ``"²"``, which ``int`` refuses), and
    the value is compared by its digits so that a huge number is clamped rather than handed
    to ``int`` (which refuses more than 4300 digits).
    """
    raw = request.query_params.get(PAGE_SIZE_PARAM)
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if raw == "":
        raise InvalidQuery(
            {PAGE_SIZE_PARAM: ["Must not be empty; leave the parameter out for the default."]},
            code="blank",
        )
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or not digits:
        raise InvalidQuery(
            {PAGE_SIZE_PARAM: [f"Must be a whole number from 1 to {MAX_PAGE_SIZE}."]},
            code="invalid",
        )
    if len(digits) > len(str(MAX_PAGE_SIZE)):
        return MAX_PAGE_SIZE
    return min(int(digits), MAX_PAGE_SIZE)


def query_fingerprint(request: Request) -> str:
    """What a token is bound to: the path, every filter, and who asked."""
    params = sorted(
        (key, value)
        for key, values in request.query_params.lists()
        if key not in (PAGE_SIZE_PARAM, PAGE_TOKEN_PARAM)
        for value in values
    )
    principal = getattr(request.user, "pk", None)
    material = repr((request.path, params, str(principal)))
    return hashlib.sha256(material.encode()).hexdigest()[:24]


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | uuid.UUID | decimal.Decimal):
        return str(value)
    return value


def encode_token(request: Request, values: list[Any]) -> str:
    payload = {"k": [_encode_value(v) for v in values], "f": query_fingerprint(request)}
    return signing.dumps(payload, salt=_SALT, compress=True)


def decode_token(request: Request) -> list[Any] | None:
    """The ordering values a token resumes after, or ``None`` for the first page."""
    raw = request.query_params.get(PAGE_TOKEN_PARAM)
    if raw is None or raw == "":
        return None
    invalid = InvalidQuery(
        {PAGE_TOKEN_PARAM: ["Invalid page token, or one issued for a different query."]},
        code="invalid",
    )
    try:
        payload = signing.loads(raw, salt=_SALT)
    except signing.BadSignature:
        raise invalid from None
    if not isinstance(payload, dict) or payload.get("f") != query_fingerprint(request):
        raise invalid
    values = payload.get("k")
    if not isinstance(values, list):
        raise invalid
    return values


def keyset_filter(ordering: tuple[str, ...], values: list[Any]) -> Q:
    """Rows strictly after ``values`` in ``ordering`` (``-field`` for descending)."""
    condition = Q()
    equal_so_far = Q()
    for field, value in zip(ordering, values, strict=True):
        name = field.lstrip("-")
        lookup = "lt" if field.startswith("-") else "gt"
        condition |= equal_so_far & Q(**{f"{name}__{lookup}": value})
        equal_so_far &= Q(**{name: value})
    return condition


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_page_token: str | None

    def envelope(self, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {**extra, "items": self.items}
        if self.next_page_token:
            body["nextPageToken"] = self.next_page_token
        return body


def paginate_queryset(
    queryset: QuerySet, request: Request, ordering: tuple[str, ...]
) -> tuple[list[Any], str | None]:
    """One page of ``queryset`` in ``ordering`` (whose last field must be unique)."""
    size = parse_page_size(request)
    after = decode_token(request)
    if after is not None:
        if len(after) != len(ordering):
            raise InvalidQuery({PAGE_TOKEN_PARAM: ["Invalid page token."]}, code="invalid")
        queryset = queryset.filter(keyset_filter(ordering, after))
    rows = list(queryset.order_by(*ordering)[: size + 1])
    if len(rows) <= size:
        return rows, None
    rows = rows[:size]
    last = rows[-1]
    values = [_attribute(last, field.lstrip("-")) for field in ordering]
    return rows, encode_token(request, values)


def _attribute(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


class KeysetPagination(BasePagination):
    """DRF pagination class for viewsets; the view names its ``keyset_ordering``."""

    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None) -> list[Any]:
        ordering = getattr(view, "keyset_ordering", None)
        if not ordering:
            raise TypeError(f"{type(view).__name__} must set keyset_ordering to paginate")
        rows, self.next_page_token = paginate_queryset(queryset, request, tuple(ordering))
        return rows

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response(Page(list(data), self.next_page_token).envelope())

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": schema,
                "nextPageToken": {
                    "type": "string",
                    "description": "Present only when more results exist; pass as pageToken.",
                },
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        return PAGE_PARAMETERS
