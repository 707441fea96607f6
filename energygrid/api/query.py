"""Validation of query parameters with DRF serializers; errors name the parameter."""

from __future__ import annotations

from functools import cache
from typing import Any

from rest_framework import exceptions, serializers
from rest_framework.request import Request

from energygrid.api.problems import InvalidQuery


def parse_query(
    serializer_class: type[serializers.Serializer], request: Request, **context: Any
) -> dict[str, Any]:
    """The validated query parameters, or a 400 whose ``errors`` name each bad parameter.

    ``context`` reaches the serializer beside the request (e.g. the meter whose calendar
    dates are read in). A parameter given empty (``?active=``) is refused, not read as absent
    (DRF's form-input rule), so a client's unset variable never silently widens a filter."""
    blank = {
        name: [exceptions.ErrorDetail("Must not be empty; leave the parameter out.", "blank")]
        for name in _field_names(serializer_class)
        if "" in request.query_params.getlist(name)
    }
    if blank:
        raise InvalidQuery(blank)
    serializer = serializer_class(
        data=request.query_params, context={"request": request, **context}
    )
    try:
        serializer.is_valid(raise_exception=True)
    except exceptions.ValidationError as exc:
        raise InvalidQuery(exc.detail) from None
    return serializer.validated_data


@cache
def _field_names(serializer_class: type[serializers.Serializer]) -> tuple[str, ...]:
    return tuple(serializer_class().fields)
