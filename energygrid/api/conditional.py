"""Entity tags and conditional requests (RFC 9110 sections 8.8.3 and 13).

Shared by every endpoint that hands out an ``ETag``: cacheable reads answer ``304`` to a
matching ``If-None-Match``, writes answer ``412`` to a stale ``If-Match``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags, quote_etag
from rest_framework.request import Request
from rest_framework.response import Response

from energygrid.api.problems import PreconditionFailed

_SAFE_METHODS = frozenset({"GET", "HEAD"})


def strong_etag(content: bytes) -> str:
    """A strong validator: two bodies share it only if they are byte-for-byte equal."""
    return quote_etag(hashlib.sha256(content).hexdigest())


def _opaque(etag: str) -> str:
    return etag.removeprefix("W/")


def _if_match_passes(header: str, etag: str) -> bool:
    """Strong comparison: a weak tag never matches (RFC 9110 section 13.1.1)."""
    tags = parse_etags(header)
    return tags == ["*"] or any(not tag.startswith("W/") and tag == etag for tag in tags)


def _if_none_match_passes(header: str, etag: str) -> bool:
    """Weak comparison: ``W/"x"`` and ``"x"`` match (RFC 9110 section 13.1.2)."""
    tags = parse_etags(header)
    return tags != ["*"] and _opaque(etag) not in {_opaque(tag) for tag in tags}


def not_modified(request: HttpRequest, etag: str) -> bool:
    """Evaluates ``If-Match`` then ``If-None-Match`` against the current ``etag``.

    Returns ``True`` when a ``GET``/``HEAD`` should be answered with ``304``; raises
    :class:`PreconditionFailed` (412) when ``If-Match`` fails, or when ``If-None-Match``
    fails on any other method. The order is RFC 9110 section 13.2.2's.
    """
    if_match = request.headers.get("If-Match")
    if if_match is not None and not _if_match_passes(if_match, etag):
        raise PreconditionFailed()
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is None or _if_none_match_passes(if_none_match, etag):
        return False
    if request.method in _SAFE_METHODS:
        return True
    raise PreconditionFailed("The resource matches If-None-Match.")


def conditional_body(
    request: HttpRequest,
    body: bytes,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    etag: str | None = None,
) -> HttpResponse:
    """``body`` (already rendered) with an ``ETag`` of exactly its bytes (``etag`` when the
    caller kept :func:`strong_etag` of them), or ``304`` when the client's ``If-None-Match``
    already holds them."""
    headers = {"ETag": etag or strong_etag(body), **(headers or {})}
    if not_modified(request, headers["ETag"]):
        return HttpResponseNotModified(headers=headers)
    return HttpResponse(body, content_type=content_type, headers=headers)


def conditional_response(
    request: Request, view: Any, data: Any, *, headers: dict[str, str] | None = None
) -> HttpResponse:
    """``data`` rendered once by the negotiated renderer (``view`` supplies its context), as
    :func:`conditional_body`."""
    renderer = request.accepted_renderer
    body = renderer.render(data, request.accepted_media_type, view.get_renderer_context())
    return conditional_body(request, body, content_type=renderer.media_type, headers=headers)


class ETagRetrieveMixin:
    """``retrieve`` for a single resource: an ``ETag`` on it and ``304`` on a match."""

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return conditional_response(request, self, self.get_serializer(self.get_object()).data)
