"""Shared personas: alice (utility Acme) and bob (utility Globex), each with one account and
meter, and utilities whose JWKS hold keys generated for this test run."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.db.models import Model
from django.test import Client
from rest_framework.test import APIClient

from customers.models import (
    Account,
    Customer,
    Meter,
    Premise,
    Tariff,
    TariffRate,
    Utility,
    UtilityStaff,
)
from customers.selectors import customer_principal
from customers.services import session_issue
from energygrid.celery import app as celery_app

# Shared endpoint-contract mixins: rewrite their asserts so failures show the values.
pytest.register_assert_rewrite("tests.api.helpers")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_key: Any

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        jwk = json.loads(algorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private_key, algorithm=self.algorithm, headers={"kid": self.kid, **header}
        )


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return SigningKey("acme-rsa-1", "RS256", rsa.generate_private_key(65537, 2048))


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return SigningKey("acme-ec-1", "ES256", ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="session")
def globex_key() -> SigningKey:
    return SigningKey("globex-1", "RS256", rsa.generate_private_key(65537, 2048))


@pytest.fixture(autouse=True)
def _isolation(request):
    """Fresh cache (throttles, JWKS) per test; tasks run eagerly unless a test needs a worker."""
    cache.clear()
    eager = request.node.get_closest_marker("worker") is None
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    yield
    celery_app.conf.task_always_eager = previous


def make_utility(slug: str, keys: list[SigningKey], **fields: Any) -> Utility:
    return Utility.objects.create(
        slug=slug,
        name=fields.pop("name", slug.title()),
        issuer=f"https://id.{slug}.example",
        audience=f"energygrid-{slug}",
        jwks={"keys": [key.public_jwk() for key in keys]},
        **fields,
    )


def make_customer(utility: Utility, subject: str, *, meter_number: str, **fields: Any) -> Customer:
    customer = Customer.objects.create(
        utility=utility,
        subject=subject,
        display_name=fields.pop("display_name", subject.title()),
        email=f"{subject}@example.org",
        billing_currency=fields.pop("billing_currency", "USD"),
        timezone=fields.pop("timezone", "America/New_York"),
        **fields,
    )
    account = make_account(customer, f"{abs(hash(subject)) % 10**9:09d}")
    make_meter(account, meter_number)
    return customer


def make_account(customer: Customer, account_number: str, **fields: Any) -> Account:
    """An account of ``customer`` with a premise in Springfield, MA."""
    account = Account.objects.create(
        utility=customer.utility,
        customer=customer,
        account_number=account_number,
        status=fields.pop("status", "ACTIVE"),
        billing_cycle_day=fields.pop("billing_cycle_day", 5),
        **fields,
    )
    Premise.objects.create(
        account=account,
        address_line1="1 Main St",
        city="Springfield",
        region="MA",
        postal_code="01101",
        country="US",
        floor_area_sqm=140,
        home_type="DETACHED",
        weather_region="BOS",
    )
    return account


def flat_tariff(utility: Utility) -> Tariff:
    """The utility's one-price tariff (0.15 USD/kWh around the clock)."""
    tariff, _ = Tariff.objects.get_or_create(
        utility=utility, code="FLAT", defaults={"name": "Flat", "currency": "USD"}
    )
    TariffRate.objects.get_or_create(
        tariff=tariff,
        position=0,
        defaults={"price": "0.150000", "weekdays": 127, "from_hour": 0, "to_hour": 24},
    )
    return tariff


#: ``make_meter`` fields of a billing-read gas meter (contract 10.2): therm, one reading per
#: read period, no interval.
BILLING_GAS = {
    "service_type": "GAS",
    "unit_of_measure": "therm",
    "read_resolution": "BILLING",
    "interval_seconds": None,
}


def make_meter(account: Account, meter_number: str, **fields: Any) -> Meter:
    """An electric 15-minute meter on ``account``; the flat tariff unless ``tariff`` is given."""
    tariff = fields.pop("tariff") if "tariff" in fields else flat_tariff(account.utility)
    return Meter.objects.create(
        utility=account.utility,
        account=account,
        meter_number=meter_number,
        service_type=fields.pop("service_type", "ELECTRIC"),
        unit_of_measure=fields.pop("unit_of_measure", "kWh"),
        interval_seconds=fields.pop("interval_seconds", 900),
        timezone=fields.pop("timezone", account.customer.timezone),
        tariff=tariff,
        **fields,
    )


@pytest.fixture
def acme(db, rsa_key, ec_key) -> Utility:
    return make_utility("acme", [rsa_key, ec_key], name="Acme Power")


@pytest.fixture
def globex(db, globex_key) -> Utility:
    return make_utility("globex", [globex_key], name="Globex Energy")


@pytest.fixture
def alice(acme) -> Customer:
    return make_customer(acme, "alice", meter_number="E-ALICE-1")


@pytest.fixture
def bob(globex) -> Customer:
    return make_customer(globex, "bob", meter_number="E-BOB-1")


@pytest.fixture
def id_token_claims() -> Callable[..., dict[str, Any]]:
    """Claims of a valid ID token for ``subject`` at ``utility``; override any with kwargs."""

    def build(utility: Utility, subject: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": utility.issuer,
            "aud": utility.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    return build


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def client_for(customer: Customer) -> APIClient:
    """A client with ``customer``'s access token; the principal is cached as after a first
    request, so query counts measure the endpoint alone."""
    client = APIClient()
    session = session_issue(customer=customer)
    customer_principal(customer_id=customer.pk)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session.access_token}")
    return client


@pytest.fixture
def alice_api(alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_api(bob) -> APIClient:
    return client_for(bob)


def assert_problem(response, status: int, slug: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and slug; returns its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"https://api.energygrid.example/problems/{slug}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["instance"] == response.wsgi_request.path
    assert body["requestId"] == response["X-Request-ID"]
    return body


def staff_client(utility: Utility | None, **permissions: Any) -> Client:
    """A logged-in admin client of a staff user of ``utility`` (of none when None) holding the
    permissions that match the ``Permission`` lookups given (``codename="view_meter"``)."""
    user = User.objects.create_user(
        f"{utility.slug if utility else 'nobody'}-staff", password="unused", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(**permissions))
    if utility is not None:
        UtilityStaff.objects.create(user=user, utility=utility)
    client = Client()
    client.force_login(user)
    return client


def admin_form_data(client: Client, url: str) -> dict[str, str]:
    """What the admin change form at ``url`` posts unedited, inlines and their counts included."""
    response = client.get(url)
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None and value is not False:
                data[form.add_prefix(name)] = str(value.pk if isinstance(value, Model) else value)
    return data
