"""The demo utility: its own signing key, tariffs and customers, deterministic for a seed.

The customers are written through the CIS import (as a generated document), so the demo
exercises the same validation and upsert as a real utility's file and is idempotent with it.
Subjects and numbers follow the customer's position, so another seed rewrites the same
customers; like any import it never deletes, so a meter an earlier seed made stays. Display names
are unique within a seed's document (a repeated first and last name gets middle initials).

Meters as they are in the field (contract section 10): the first customer and a share of the
others have rooftop solar (a bidirectional meter with a feed-in export tariff), a share of the gas
meters are read once a month (billing reads), and a share of the electric meters changed tariff
a few months ago (a tariff history). These are drawn from a random stream of their own, so the
customers themselves are the same as without them.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from string import ascii_uppercase
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from customers.cis import ImportResult, customers_import, save_changed
from customers.keys import public_jwks, signing_key_generate
from customers.models import (
    AccountStatus,
    HomeType,
    Meter,
    ReadResolution,
    ServiceType,
    Utility,
    Weekday,
)

DEMO_SLUG = "demo"
DEMO_ISSUER = "https://id.demo.energygrid.example"
DEMO_AUDIENCE = "energygrid-demo"
DEMO_CURRENCY = "USD"
DEMO_TIMEZONE = "America/New_York"

_WEEKDAYS = Weekday.names[:5]
_ALL_DAYS = Weekday.names

_TARIFFS = [
    {
        "code": "FLAT",
        "name": "Standard flat rate",
        "currency": DEMO_CURRENCY,
        "rates": [{"price": "0.165", "days": _ALL_DAYS, "fromHour": 0, "toHour": 24}],
    },
    {
        "code": "TOU",
        "name": "Time of use (peak 4-9 pm weekdays)",
        "currency": DEMO_CURRENCY,
        "rates": [
            {"price": "0.340", "days": _WEEKDAYS, "fromHour": 16, "toHour": 21},
            {"price": "0.095", "days": _ALL_DAYS, "fromHour": 0, "toHour": 7},
            {"price": "0.140", "days": _ALL_DAYS, "fromHour": 0, "toHour": 24},
        ],
    },
    {
        "code": "GAS",
        "name": "Residential gas",
        "currency": DEMO_CURRENCY,
        "rates": [{"price": "1.450", "days": _ALL_DAYS, "fromHour": 0, "toHour": 24}],
    },
    {
        "code": "EXPORT",
        "name": "Solar feed-in (export credit)",
        "currency": DEMO_CURRENCY,
        "rates": [{"price": "0.062", "days": _ALL_DAYS, "fromHour": 0, "toHour": 24}],
    },
]
#: The electric plans a customer chooses between (and may have switched between).
_PLANS = ["FLAT", "TOU"]


@dataclass(frozen=True)
class _Place:
    city: str
    region: str
    postal_code: str
    weather_region: str
    timezone: str


# Climates from cold-winter to hot-summer, so weather-driven insights have something to find.
# Weather regions are usage.synthetic's, which generates the demo's weather and usage.
_PLACES = [
    _Place("Boston", "MA", "02108", "BOS", "America/New_York"),
    _Place("Chicago", "IL", "60601", "CHI", "America/Chicago"),
    _Place("Denver", "CO", "80202", "DEN", "America/Denver"),
    _Place("Phoenix", "AZ", "85004", "PHX", "America/Phoenix"),
    _Place("Seattle", "WA", "98101", "SEA", "America/Los_Angeles"),
]
# Typical floor area range (m²) per home type.
_FLOOR_AREA = {
    HomeType.DETACHED: (120, 320),
    HomeType.SEMI_DETACHED: (90, 180),
    HomeType.TERRACED: (70, 150),
    HomeType.APARTMENT: (40, 110),
    HomeType.MOBILE: (50, 90),
    HomeType.OTHER: (60, 200),
}
_FIRST_NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia"]
_LAST_NAMES = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton"]
_STREETS = ["Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Park Rd", "Lake View"]
# Share of demo homes heated with gas (they get a second, hourly gas meter).
_GAS_SHARE = 0.4
# Share of demo homes on one Boston street of detached houses in one floor-area band (150-250
# m², as insights.analytics.peers bands them): enough neighbours for
# the peer comparison's minimum cohort once the demo has a couple of dozen customers.
_NEIGHBOURHOOD_SHARE = 0.75
_NEIGHBOURHOOD_AREA = (155, 240)
# Shares of the other homes with rooftop solar (the first customer always has it: the login hint
# names that home), of gas meters read once a month, and of electric meters whose customer
# switched plan 2-5 months ago.
_SOLAR_SHARE = 0.2
_BILLING_READ_GAS_SHARE = 0.35
_PLAN_CHANGE_SHARE = 0.25
_PLAN_CHANGE_MONTHS = (2, 5)


@dataclass(frozen=True)
class DemoResult:
    utility: Utility
    subjects: list[str]
    solar_subjects: list[str]
    imported: ImportResult


def demo_subject(index: int) -> str:
    """Subjects depend on the position only, so any seed re-run updates the same customers."""
    return f"demo-{index + 1:04d}"


def _middle_initials(repeat: int) -> str:
    """``""`` for a name's first holder, then ``"A. "`` … ``"Z. "``, ``"A. A. "`` … (bijective
    base 26), so the n-th holder of a first and last name always gets a name of their own."""
    initials = []
    while repeat:
        repeat, letter = divmod(repeat - 1, 26)
        initials.append(f"{ascii_uppercase[letter]}. ")
    return "".join(reversed(initials))


def _customer(
    rng: random.Random, index: int, names_seen: Counter[tuple[str, str]]
) -> dict[str, Any]:
    number = index + 1
    in_neighbourhood = rng.random() < _NEIGHBOURHOOD_SHARE
    place = _PLACES[0] if in_neighbourhood else rng.choice(_PLACES)
    home_type = HomeType.DETACHED if in_neighbourhood else rng.choice(list(HomeType))
    area = _NEIGHBOURHOOD_AREA if in_neighbourhood else _FLOOR_AREA[home_type]
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    repeats = names_seen[first, last]
    names_seen[first, last] += 1
    meters = [
        {
            "meterNumber": f"E-DEMO-{number:04d}",
            "serviceType": ServiceType.ELECTRIC,
            "unitOfMeasure": "kWh",
            "intervalSeconds": 900,
            "timezone": place.timezone,
            "tariff": rng.choice(_PLANS),
        }
    ]
    if rng.random() < _GAS_SHARE:
        meters.append(
            {
                "meterNumber": f"G-DEMO-{number:04d}",
                "serviceType": ServiceType.GAS,
                "unitOfMeasure": "therm",
                "intervalSeconds": 3600,
                "timezone": place.timezone,
                "tariff": "GAS",
            }
        )
    return {
        "subject": demo_subject(index),
        "displayName": f"{first} {_middle_initials(repeats)}{last}",
        "email": f"{first.lower()}.{last.lower()}.{number}@demo.energygrid.example",
        "billingCurrency": DEMO_CURRENCY,
        "timezone": place.timezone,
        "locale": "en-US",
        "active": True,
        "accounts": [
            {
                "accountNumber": f"{900_000_000 + number}",
                "status": AccountStatus.ACTIVE,
                "billingCycleDay": rng.randint(1, 28),
                "premise": {
                    "addressLine1": f"{rng.randint(1, 999)} {rng.choice(_STREETS)}",
                    "city": place.city,
                    "region": place.region,
                    "postalCode": place.postal_code,
                    "country": "US",
                    "floorAreaSqm": rng.randint(*area),
                    "homeType": home_type,
                    "weatherRegion": place.weather_region,
                },
                "meters": meters,
            }
        ],
    }


def _months_before(day: date, months: int) -> date:
    """The first of the month ``months`` before ``day``'s month."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, 1)


def _field_meters(
    rng: random.Random,
    index: int,
    customer: dict[str, Any],
    today: date,
    read_resolutions: Mapping[str, str],
) -> None:
    """Gives ``customer``'s meters what field meters have (contract section 10): rooftop solar
    (always for the first customer), a monthly-read gas meter, a plan changed a few months
    before ``today`` (the old plan stays in the history, from before any recorded change).

    A meter in ``read_resolutions`` (those with readings) keeps its own: the CIS import refuses
    to change it, and an install seeded before it was drawn, or with another seed, has them."""
    electric, *gas = customer["accounts"][0]["meters"]
    if index == 0 or rng.random() < _SOLAR_SHARE:
        electric.update(bidirectional=True, exportTariff="EXPORT")
    if rng.random() < _PLAN_CHANGE_SHARE:
        changed = _months_before(today, rng.randint(*_PLAN_CHANGE_MONTHS))
        before = next(plan for plan in _PLANS if plan != electric["tariff"])
        electric["tariffHistory"] = [
            {"tariff": before, "from": None},
            {"tariff": electric["tariff"], "from": changed.isoformat()},
        ]
    for meter in gas:
        monthly = rng.random() < _BILLING_READ_GAS_SHARE
        held = read_resolutions.get(meter["meterNumber"])
        if held == ReadResolution.BILLING or (monthly and held is None):
            meter.update(readResolution=ReadResolution.BILLING, intervalSeconds=None)


def demo_document(
    *,
    customers: int,
    seed: int,
    today: date,
    read_resolutions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The demo utility's CIS document; the same seed (and month of ``today``, the local date
    plan changes are counted back from) always gives the same document for a new install.
    ``read_resolutions``: the meters that have readings, by number (they keep theirs)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
    field_rng = random.Random(f"field meters {seed}")  # noqa: S311 - the same
    names_seen: Counter[tuple[str, str]] = Counter()
    document = [_customer(rng, index, names_seen) for index in range(customers)]
    for index, customer in enumerate(document):
        _field_meters(field_rng, index, customer, today, read_resolutions or {})
    return {"utility": DEMO_SLUG, "tariffs": _TARIFFS, "customers": document}


def demo_solar_subjects(document: dict[str, Any]) -> list[str]:
    """The subjects of ``document``'s customers with rooftop solar (a bidirectional meter)."""
    return [
        customer["subject"]
        for customer in document["customers"]
        if any(
            meter.get("bidirectional")
            for account in customer["accounts"]
            for meter in account["meters"]
        )
    ]


def _demo_utility() -> Utility:
    """The demo utility, with a signing key generated once and kept on later runs."""
    utility = Utility.objects.select_for_update().filter(slug=DEMO_SLUG).first()
    if utility is None:
        utility = Utility(slug=DEMO_SLUG)
    private_key_pem = utility.private_key_pem or signing_key_generate()
    save_changed(
        instance=utility,
        values={
            "name": "EnergyGrid Demo Utility",
            "issuer": DEMO_ISSUER,
            "audience": DEMO_AUDIENCE,
            "jwks": public_jwks(private_key_pem=private_key_pem),
            "jwks_url": "",
            "currency": DEMO_CURRENCY,
            "timezone": DEMO_TIMEZONE,
            "private_key_pem": private_key_pem,
        },
    )
    return utility


@transaction.atomic
def demo_seed(
    *, customers: int, seed: int, progress: Callable[[int], None] | None = None
) -> DemoResult:
    """Creates or updates the demo utility, its tariffs and ``customers`` customers."""
    utility = _demo_utility()
    document = demo_document(
        customers=customers,
        seed=seed,
        today=timezone.localdate(timezone=ZoneInfo(DEMO_TIMEZONE)),
        read_resolutions=dict(
            Meter.objects.filter(utility=utility, first_reading_at__isnull=False).values_list(
                "meter_number", "read_resolution"
            )
        ),
    )
    imported = customers_import(document=document, progress=progress)
    return DemoResult(
        utility=utility,
        subjects=[customer["subject"] for customer in document["customers"]],
        solar_subjects=demo_solar_subjects(document),
        imported=imported,
    )
