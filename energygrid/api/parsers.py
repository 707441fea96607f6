"""The one JSON parser of every endpoint: DRF's, with a bound on how deeply a body may nest.

Python's ``json`` recurses once per level, so a body of a few thousand ``[`` raises
``RecursionError`` inside DRF (a 500). No body this API takes nests more than a few levels.
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

#: Deepest nesting of arrays and objects a request body may have (docs/api.md).
MAX_JSON_DEPTH = 32

_TOO_DEEP = f"JSON nested more than {MAX_JSON_DEPTH} levels deep."


def json_depth(document: Any) -> int:
    """How deeply arrays and objects nest in a parsed document (a scalar is 0), iteratively."""
    deepest = 0
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_JSON_DEPTH:
            stack.extend((child, depth + 1) for child in children)
    return deepest


class JSONParser(parsers.JSONParser):
    """Refuses a body nested deeper than :data:`MAX_JSON_DEPTH` with a 400 problem."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_TOO_DEEP) from None
        if json_depth(document) > MAX_JSON_DEPTH:
            raise ParseError(_TOO_DEEP)
        return document
