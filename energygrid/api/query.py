"""Validation of query parameters with DRF serializers; errors name the parameter."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, serializers
from rest_framework.request import Request

from energygrid.api.problems import InvalidQuery


def parse_query(
    serializer_class: type[serializers.Serializer], request: Request, **context: Any
) -> dict[str, Any]:
    """The validated query parameters, or a 400 whose ``errors`` name each bad parameter.

    ``context`` reaches the serializer beside the request (e.g. the meter whose calendar
    dates are read in)."""
    serializer = serializer_class(
        data=request.query_params, context={"request": request, **context}
    )
    try:
        serializer.is_valid(raise_exception=True)
    except exceptions.ValidationError as exc:
        raise InvalidQuery(exc.detail) from None
    return serializer.validated_data
