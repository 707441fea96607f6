"""Schemathesis hooks for contract fuzzing (loaded by ``schemathesis.toml`` and the suite).

One hook, narrow on purpose. ``positive_data_acceptance`` (ST202) expects every request the
schema allows to be accepted, but the contract refuses some schema-valid requests with a 400
for rules that JSON Schema cannot state: they depend on server state (whose ids these are,
which page tokens the server minted, the meter's interval) or relate values to each other
(``end`` after ``start``, ascending thresholds, a meter only on ENERGY budgets, a limit's
decimals by currency). Those rules are written in the parameters' descriptions instead.

Such a 400 is dropped only when **every** error in the problem is one of the (field, code)
pairs below; any other 400 to schema-valid data still fails the run, and every other check
(server errors, schemas, negative data, auth...) is untouched.
"""

from __future__ import annotations

import json
import re

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData

#: Field (query parameter, or JSON pointer into the body) -> codes beyond JSON Schema.
RULES_BEYOND_THE_SCHEMA: list[tuple[re.Pattern[str], frozenset[str]]] = [
    (re.compile(r"/?(accountId|meterId)"), frozenset({"not_found"})),
    (re.compile(r"pageToken"), frozenset({"invalid"})),
    (re.compile(r"end"), frozenset({"not_after_start", "range_too_large", "out_of_range"})),
    # The supported years are in the pattern; an offset can still push 1900-01-01 before them.
    (re.compile(r"start"), frozenset({"out_of_range"})),
    (re.compile(r"granularity"), frozenset({"finer_than_meter"})),
    (re.compile(r"/meterId"), frozenset({"required", "not_allowed", "not_in_account"})),
    (re.compile(r"/limit"), frozenset({"min_value", "max_value", "max_decimal_places"})),
    (re.compile(r"/alertThresholds/[0-9]+"), frozenset({"not_ascending", "duplicate"})),
    # Consent names a registered partner client, its redirect URI and the customer's accounts.
    (re.compile(r"/(clientId|accountIds)"), frozenset({"not_found"})),
    (re.compile(r"/redirectUri"), frozenset({"not_registered"})),
]


def beyond_the_schema(error: dict) -> bool:
    field, code = str(error.get("field", "")), error.get("code")
    return any(
        pattern.fullmatch(field) and code in codes for pattern, codes in RULES_BEYOND_THE_SCHEMA
    )


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keeps every failure except a 400 to valid data whose errors are all beyond the schema."""
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 400:
        return True
    try:
        errors = json.loads(response.content).get("errors") or []
    except (ValueError, AttributeError):
        return True
    return not (errors and all(beyond_the_schema(error) for error in errors))
