"""A valid CIS document for utility Acme (the contract's example, grown a little), a snapshot
of every customer table to prove what an import did or did not change, and a refused import."""

from __future__ import annotations

from typing import Any

import pytest

from customers.cis import CustomersImportInvalid, customers_import
from customers.models import (
    Account,
    Customer,
    Meter,
    Premise,
    Tariff,
    TariffPeriod,
    TariffRate,
    Utility,
)

WEEKDAYS = ["MON", "TUE", "WED", "THU", "FRI"]
ALL_DAYS = [*WEEKDAYS, "SAT", "SUN"]


def acme_document() -> dict[str, Any]:
    """A fresh copy each call, so a test may break any part of it."""
    return {
        "utility": "acme",
        "tariffs": [
            {
                "code": "TOU-1",
                "name": "Time of use",
                "currency": "USD",
                "rates": [
                    {"price": "0.31", "days": WEEKDAYS, "fromHour": 16, "toHour": 21},
                    {"price": "0.12", "days": ALL_DAYS, "fromHour": 0, "toHour": 24},
                ],
            },
            {
                "code": "GAS-1",
                "name": "Gas",
                "currency": "USD",
                "rates": [{"price": "1.2", "days": ALL_DAYS, "fromHour": 0, "toHour": 24}],
            },
        ],
        "customers": [
            {
                "subject": "idp-sub-1",
                "displayName": "Ada L.",
                "email": "ada@example.org",
                "billingCurrency": "USD",
                "timezone": "America/New_York",
                "locale": "en-US",
                "active": True,
                "accounts": [
                    {
                        "accountNumber": "100200300",
                        "status": "ACTIVE",
                        "billingCycleDay": 5,
                        "premise": {
                            "addressLine1": "1 Main St",
                            "city": "Springfield",
                            "region": "MA",
                            "postalCode": "01101",
                            "country": "US",
                            "floorAreaSqm": 140,
                            "homeType": "DETACHED",
                            "weatherRegion": "BOS",
                        },
                        "meters": [
                            {
                                "meterNumber": "E-1",
                                "serviceType": "ELECTRIC",
                                "unitOfMeasure": "kWh",
                                "intervalSeconds": 900,
                                "timezone": "America/New_York",
                                "tariff": "TOU-1",
                            },
                            {
                                "meterNumber": "G-1",
                                "serviceType": "GAS",
                                "unitOfMeasure": "therm",
                                "intervalSeconds": 3600,
                                "timezone": "America/New_York",
                                "tariff": "GAS-1",
                            },
                        ],
                    }
                ],
            },
            {
                "subject": "idp-sub-2",
                "displayName": "Grace H.",
                "accounts": [
                    {
                        "accountNumber": "100200400",
                        "billingCycleDay": 28,
                        "premise": {
                            "addressLine1": "2 Elm St",
                            "city": "Springfield",
                            "country": "US",
                        },
                        "meters": [
                            {
                                "meterNumber": "E-2",
                                "serviceType": "ELECTRIC",
                                "intervalSeconds": 900,
                            }
                        ],
                    }
                ],
            },
            {
                "subject": "idp-sub-3",
                "displayName": "Edsger D.",
                "email": "edsger@example.org",
                "timezone": "America/Chicago",
                "accounts": [
                    {
                        "accountNumber": "100200500",
                        "status": "SUSPENDED",
                        "billingCycleDay": 31,
                        "premise": {
                            "addressLine1": "3 Oak Ave",
                            "city": "Chicago",
                            "region": "IL",
                            "country": "US",
                            "homeType": "APARTMENT",
                        },
                        "meters": [
                            {
                                "meterNumber": "E-3",
                                "serviceType": "ELECTRIC",
                                "intervalSeconds": 3600,
                                "tariff": "TOU-1",
                            }
                        ],
                    }
                ],
            },
        ],
    }


def table_snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every customer table, all columns (timestamps included)."""
    models = [Utility, Customer, Account, Premise, Meter, Tariff, TariffRate, TariffPeriod]
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


def refused(document: Any) -> CustomersImportInvalid:
    """The one-line error of importing ``document``, which must write nothing."""
    before = table_snapshot()
    with pytest.raises(CustomersImportInvalid) as caught:
        customers_import(document=document)
    assert table_snapshot() == before, "a refused document must write nothing"
    assert "\n" not in str(caught.value)
    return caught.value
