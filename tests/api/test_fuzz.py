"""Contract fuzzing: schemathesis drives every operation of our own schema, in process, with a
real bearer token (an RS256 ID-token login), every check and every phase (examples, coverage,
fuzzing, then the stateful phase over the schema's OpenAPI links).

Bounded for CI (``FUZZ_MAX_EXAMPLES``, default 25 per operation, derandomized with the seed in
``schemathesis.toml``); before a release run it longer (docs/api.md "Contract fuzzing")::

    FUZZ_MAX_EXAMPLES=500 python -m pytest tests/api/test_fuzz.py -p no:cacheprovider
"""

from __future__ import annotations

import os
import tomllib
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from budgets.models import Budget, BudgetKind
from budgets.services import budget_create
from customers.models import Customer
from insights.models import Insight
from tests.api import fuzz_hooks  # noqa: F401 - registers the failure filter
from tests.conftest import make_account, make_meter
from tests.customers.test_login import login

CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"
SCHEMA_PATH = "/usage/v1/schema?format=json"
# Ids of the fuzzing customer's own resources: the fuzzer sends these for every id parameter,
# so its cases reach the endpoints' logic instead of stopping at 404/400 "not yours".
ACCOUNT_ID = uuid.UUID("00000000-0000-4000-8000-00000000a001")
METER_ID = uuid.UUID("00000000-0000-4000-8000-00000000e001")
BUDGET_ID = uuid.UUID("00000000-0000-4000-8000-00000000b001")
INSIGHT_ID = uuid.UUID("00000000-0000-4000-8000-00000000c001")


def fuzz_config() -> schemathesis.Config:
    """The project's schemathesis settings, bounded by ``FUZZ_MAX_EXAMPLES``, with our ids."""
    options = tomllib.loads(CONFIG.read_text())
    options.pop("hooks")  # imported above
    options["generation"]["max-examples"] = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
    options["parameters"] = {
        "accountId": str(ACCOUNT_ID),
        "meterId": str(METER_ID),
        "budgetId": str(BUDGET_ID),
        "insightId": str(INSIGHT_ID),
    }
    return schemathesis.Config.from_dict(options)


# UUIDs drawn from Hypothesis' own choices: its ``uuids()`` draws true randomness, so replaying
# an example (the stateful walk does) reads as FlakyStrategyDefinition for some seeds.
schemathesis.openapi.format(
    "uuid",
    st.builds(lambda n: str(uuid.UUID(int=n, version=4)), st.integers(0, 2**128 - 1)),
)

# The OAuth token endpoint answers in OAuth's own format (RFC 6749 section 5.2), not problem
# details; its flows are tested in tests/partners.
schema = schemathesis.openapi.from_wsgi(
    SCHEMA_PATH, get_wsgi_application(), config=fuzz_config()
).exclude(path="/oauth/token")
_session: dict[str, str] = {}


@schema.auth(refresh_interval=None)
class FuzzerBearer:
    """The access token the ``fuzzer`` fixture logged in for (fresh for every test)."""

    def get(self, case, context) -> str:
        return _session.get("token", "")

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.hook
def map_case(context, case):
    """Valid bodies name the fuzzing customer's own account and meter (ids are not
    overridable in bodies by configuration); invalid ones are left as generated."""
    body = case.body
    if case.meta and case.meta.generation.mode.is_positive and isinstance(body, dict):
        own = {"accountId": str(ACCOUNT_ID), "meterId": str(METER_ID)}
        body.update({name: own[name] for name in own if body.get(name) is not None})
    return case


@pytest.fixture
def fuzzer(db, acme, rsa_key, id_token_claims, settings) -> Customer:
    """A customer of Acme with one account, meter and budget, logged in with an RS256 ID token."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            scope: "100000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        },
    }
    customer = Customer.objects.create(
        utility=acme,
        subject="fuzzer",
        display_name="Fuzzer",
        email="fuzzer@example.org",
        billing_currency="USD",
        timezone="America/New_York",
    )
    account = make_account(customer, "000000777", id=ACCOUNT_ID)
    meter = make_meter(account, "E-FUZZ-1", id=METER_ID)
    budget = budget_create(
        customer=customer,
        account=account,
        meter=meter,
        name="Fuzzed",
        kind=BudgetKind.ENERGY,
        period="MONTHLY",
        limit=Decimal("300"),
        alert_thresholds=[80, 100],
        active=True,
    )
    Budget.objects.filter(pk=budget.pk).update(id=BUDGET_ID)
    now = timezone.now()
    Insight.objects.create(
        id=INSIGHT_ID,
        customer=customer,
        type="ALWAYS_ON",
        subject_key=f"meter:{meter.pk}",
        account=account,
        meter=meter,
        period_start=now - timedelta(days=30),
        period_end=now,
        title="Your home draws 120 W around the clock",
        summary="...",
        data={
            "baseloadWatts": 120.0,
            "annualQuantity": 1051.2,
            "annualCost": "157.68",
            "shareOfUsage": 0.2,
            "unitOfMeasure": "kWh",
        },
        generated_at=now,
        model_version="always-on/1.0",
    )
    response = login(APIClient(), rsa_key.sign(id_token_claims(acme, "fuzzer")))
    assert response.status_code == 200, response.content
    _session["token"] = response.json()["accessToken"]
    # As Django's test client does: the test's transaction must outlive each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield customer
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    _session.clear()


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
def test_every_operation_keeps_its_contract(case, fuzzer):
    case.call_and_validate()


def test_stateful_walks_over_the_schema_links_keep_the_contract(fuzzer):
    """Sequences of calls chained by the schema's links (create a budget, read it, change it
    with its ETag, delete it, read it again...), every check after every call."""
    calls: set[tuple[str, int]] = set()

    # Partner access (consent, its scopes, Connect My Data) has no links to walk, and its ids
    # come from a partner's flow the fuzzing customer cannot start: fuzzed one by one above.
    walked = schema.exclude(
        path_regex=r"^(/usage/v1/Customer/authorizations|/usage/v1/Metadata/partner-scopes|/espi/)"
    )

    class Workflow(walked.as_state_machine()):
        def after_call(self, response, case) -> None:
            super().after_call(response, case)
            calls.add((case.operation.label, response.status_code))

    Workflow.run(
        settings=settings(
            max_examples=int(os.environ.get("FUZZ_MAX_EXAMPLES", "25")),
            stateful_step_count=8,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )

    # The walks got past auth and validation: reads along the links, and a write.
    succeeded = {operation for operation, status in calls if status < 300}
    assert len(succeeded) >= 5, sorted(calls)
    writes = {operation for operation in succeeded if operation.split()[0] != "GET"}
    assert writes, sorted(calls)
