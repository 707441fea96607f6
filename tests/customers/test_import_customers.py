"""The CIS import service: strict validation, all-or-nothing, idempotent upsert."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from customers.cis import CustomersImportInvalid, customers_document_parse, customers_import
from customers.models import Account, Customer, Meter, Premise, Tariff, Weekday
from tests.customers.cis_documents import acme_document, refused, table_snapshot

pytestmark = pytest.mark.django_db


def test_import_creates_every_record_with_its_values_and_defaults(acme):
    result = customers_import(document=acme_document())

    assert result.counts["customers", "created"] == 3
    assert result.counts["meters", "created"] == 4
    ada = Customer.objects.get(utility=acme, subject="idp-sub-1")
    assert (ada.display_name, ada.email, ada.billing_currency, ada.locale, ada.active) == (
        "Ada L.",
        "ada@example.org",
        "USD",
        "en-US",
        True,
    )
    account = Account.objects.get(utility=acme, account_number="100200300")
    assert (account.customer, account.status, account.billing_cycle_day) == (ada, "ACTIVE", 5)
    assert account.premise.floor_area_sqm == 140
    assert account.premise.weather_region == "BOS"
    electric = Meter.objects.get(utility=acme, meter_number="E-1")
    assert (electric.account, electric.interval_seconds, electric.tariff.code) == (
        account,
        900,
        "TOU-1",
    )
    tou = Tariff.objects.get(utility=acme, code="TOU-1")
    rates = list(tou.rates.order_by("position"))
    assert [(r.position, r.price, r.from_hour, r.to_hour) for r in rates] == [
        (0, Decimal("0.31"), 16, 21),
        (1, Decimal("0.12"), 0, 24),
    ]
    weekdays_only = Weekday.MON | Weekday.TUE | Weekday.WED | Weekday.THU | Weekday.FRI
    assert rates[0].weekdays == weekdays_only
    assert rates[1].weekdays == sum(Weekday.values)
    assert tou.time_of_use

    # Keys left out take their defaults: the utility's currency and time zone, the customer's
    # time zone for meters, the service type's unit, an ACTIVE account, a premise type OTHER.
    grace = Customer.objects.get(subject="idp-sub-2")
    assert (grace.billing_currency, grace.timezone, grace.email) == ("USD", acme.timezone, "")
    grace_meter = Meter.objects.get(meter_number="E-2")
    assert (grace_meter.unit_of_measure, grace_meter.timezone, grace_meter.tariff) == (
        "kWh",
        acme.timezone,
        None,
    )
    assert grace_meter.account.status == "ACTIVE"
    assert grace_meter.account.premise.home_type == "OTHER"
    assert Meter.objects.get(meter_number="E-3").timezone == "America/Chicago"


def test_importing_the_same_document_twice_changes_nothing(acme):
    customers_import(document=acme_document())
    before = table_snapshot()

    result = customers_import(document=acme_document())

    assert table_snapshot() == before
    assert not result.counts["customers", "created"] + result.counts["customers", "updated"]
    assert result.counts["tariffs", "unchanged"] == 2
    assert result.counts["meters", "unchanged"] == 4
    assert "tariffs 0 created, 0 updated, 2 unchanged" in result.summary()


def test_a_changed_value_updates_only_its_row(acme):
    customers_import(document=acme_document())
    before = table_snapshot()
    document = acme_document()
    document["customers"][1]["displayName"] = "Grace Hopper"
    document["tariffs"][0]["rates"][0]["price"] = "0.35"

    result = customers_import(document=document)

    after = table_snapshot()
    changed = [
        (before_row["subject"], after_row["display_name"])
        for before_row, after_row in zip(before["Customer"], after["Customer"], strict=True)
        if before_row != after_row
    ]
    assert changed == [("idp-sub-2", "Grace Hopper")]
    assert result.counts["customers", "updated"] == 1
    assert result.counts["tariffs", "updated"] == 1
    assert after["Account"] == before["Account"]
    assert after["Meter"] == before["Meter"]
    prices = Tariff.objects.get(code="TOU-1").rates.order_by("position").values_list("price")
    assert [price for (price,) in prices] == [Decimal("0.35"), Decimal("0.12")]


def test_one_bad_record_writes_nothing_and_the_error_names_it(acme):
    customers_import(document=acme_document())
    document = acme_document()
    document["customers"][0]["displayName"] = "Ada Lovelace"  # a valid change, not applied
    document["customers"].append(
        {
            "subject": "idp-sub-4",
            "displayName": "New",
            "accounts": [
                {
                    "accountNumber": "100200600",
                    "billingCycleDay": 1,
                    "premise": {
                        "addressLine1": "4 Pine Rd",
                        "city": "Springfield",
                        "country": "US",
                    },
                    "meters": [
                        {"meterNumber": "E-4", "serviceType": "ELECTRIC", "intervalSeconds": 900},
                        {
                            "meterNumber": "E-5",
                            "serviceType": "ELECTRIC",
                            "intervalSeconds": 900,
                            "timezone": "Mars/Base",
                        },
                    ],
                }
            ],
        }
    )

    error = refused(document)

    assert (
        str(error) == "customers[3].accounts[0].meters[1].timezone: unknown time zone 'Mars/Base'"
    )
    assert not Customer.objects.filter(subject="idp-sub-4").exists()
    assert Customer.objects.get(subject="idp-sub-1").display_name == "Ada L."


def test_nothing_is_written_when_the_database_refuses_a_record(acme, alice):
    """Conflicts found only against stored rows also roll back the valid rest of the file."""
    document = acme_document()
    document["customers"][2]["accounts"][0]["meters"][0]["meterNumber"] = "E-ALICE-1"

    error = refused(document)

    assert str(error) == (
        "customers[2].accounts[0].meters[0].meterNumber: "
        "meter 'E-ALICE-1' belongs to another customer ('alice')"
    )
    assert not Customer.objects.filter(subject="idp-sub-1").exists()


def at(document: dict[str, Any], path: str) -> dict[str, Any]:
    """The object at a dotted path such as ``customers.0.accounts.0``."""
    node: Any = document
    for part in path.split(".") if path else []:
        node = node[int(part)] if part.isdigit() else node[part]
    return node


@pytest.mark.parametrize(
    ("where", "error_path"),
    [
        ("", "colour"),
        ("tariffs.0", "tariffs[0].colour"),
        ("tariffs.0.rates.1", "tariffs[0].rates[1].colour"),
        ("customers.0", "customers[0].colour"),
        ("customers.0.accounts.0", "customers[0].accounts[0].colour"),
        ("customers.0.accounts.0.premise", "customers[0].accounts[0].premise.colour"),
        ("customers.0.accounts.0.meters.1", "customers[0].accounts[0].meters[1].colour"),
    ],
)
def test_unknown_keys_are_refused_anywhere(acme, where, error_path):
    document = acme_document()
    at(document, where)["colour"] = "blue"

    assert str(refused(document)) == f"{error_path}: unknown key"


def _set(path: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        at(document, path)[key] = value

    return mutate


def _drop(path: str, key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        del at(document, path)[key]

    return mutate


CUSTOMER = "customers.0"
ACCOUNT = "customers.0.accounts.0"
PREMISE = "customers.0.accounts.0.premise"
METER = "customers.0.accounts.0.meters.0"
TARIFF = "tariffs.0"
RATE = "tariffs.0.rates.0"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_set(TARIFF, "currency", "US"), "tariffs[0].currency: unknown currency 'US'"),
        (_set(TARIFF, "currency", "XYZ"), "tariffs[0].currency: unknown currency 'XYZ'"),
        (_set(CUSTOMER, "billingCurrency", "usd"), "customers[0].billingCurrency: unknown cur"),
        (_set(CUSTOMER, "timezone", "EST5"), "customers[0].timezone: unknown time zone 'EST5'"),
        (_set(CUSTOMER, "locale", "xx-YY"), "customers[0].locale: unknown locale 'xx-YY'"),
        (_set(CUSTOMER, "email", "not-an-email"), "customers[0].email: Enter a valid email"),
        (_set(CUSTOMER, "active", "yes"), "customers[0].active: must be a boolean"),
        (_set(CUSTOMER, "displayName", ""), "customers[0].displayName: This field cannot be"),
        (_set(CUSTOMER, "subject", None), "customers[0].subject: must not be null"),
        (_drop(CUSTOMER, "displayName"), "customers[0].displayName: is required"),
        (_set(CUSTOMER, "accounts", {}), "customers[0].accounts: must be a list"),
        (_set(PREMISE, "homeType", "CASTLE"), "premise.homeType: must be one of DETACHED, SEMI"),
        (_set(PREMISE, "country", "USA"), "premise.country: unknown country 'USA'"),
        (_set(PREMISE, "floorAreaSqm", 140.5), "premise.floorAreaSqm: must be an integer"),
        (_drop(ACCOUNT, "premise"), "customers[0].accounts[0].premise: is required"),
        (_set(ACCOUNT, "status", "OPEN"), "accounts[0].status: must be one of ACTIVE, SUSPENDED"),
        (_set(ACCOUNT, "billingCycleDay", 0), "billingCycleDay: Ensure this value is greater"),
        (_set(ACCOUNT, "billingCycleDay", 32), "billingCycleDay: Ensure this value is less"),
        (_set(ACCOUNT, "billingCycleDay", "5"), "billingCycleDay: must be an integer"),
        (_set(ACCOUNT, "billingCycleDay", True), "billingCycleDay: must be an integer"),
        (_set(METER, "serviceType", "STEAM"), "meters[0].serviceType: must be one of ELECTRIC"),
        (_set(METER, "unitOfMeasure", "therm"), "unitOfMeasure: 'therm' does not measure ELEC"),
        (_set(METER, "unitOfMeasure", "BTU"), "meters[0].unitOfMeasure: must be one of kWh"),
        (_set(METER, "intervalSeconds", 0), "intervalSeconds: 0 is not a positive divisor of"),
        (_set(METER, "intervalSeconds", 7), "intervalSeconds: 7 is not a positive divisor of"),
        (_set(METER, "intervalSeconds", -900), "intervalSeconds: -900 is not a positive divisor"),
        (_set(METER, "intervalSeconds", 900.0), "meters[0].intervalSeconds: must be an integer"),
        (_set(METER, "timezone", "Mars/Base"), "meters[0].timezone: unknown time zone 'Mars/"),
        (_set(METER, "tariff", "NOPE"), "meters[0].tariff: unknown tariff 'NOPE'"),
        (_set(METER, "tariff", 7), "meters[0].tariff: must be a tariff code (a string) or null"),
        (_set(RATE, "days", ["MONDAY"]), "tariffs[0].rates[0].days[0]: must be one of MON, TUE"),
        (_set(RATE, "days", ["MON", "MON"]), "tariffs[0].rates[0].days[1]: duplicate day 'MON'"),
        (_set(RATE, "days", []), "tariffs[0].rates[0].days: must not be empty"),
        (_set(RATE, "fromHour", 21), "tariffs[0].rates[0].toHour: must be greater than fromHo"),
        (_set(RATE, "fromHour", -1), "tariffs[0].rates[0].fromHour: Ensure this value is grea"),
        (_set(RATE, "toHour", 25), "tariffs[0].rates[0].toHour: Ensure this value is less tha"),
        (_set(RATE, "price", "-0.01"), "tariffs[0].rates[0].price: Ensure this value is greate"),
        (_set(RATE, "price", "cheap"), "tariffs[0].rates[0].price: “cheap” value must be a dec"),
        (_set(RATE, "price", "0.1234567"), "tariffs[0].rates[0].price: Ensure that there are no"),
        (_set(RATE, "price", "NaN"), "tariffs[0].rates[0].price: “NaN” value must be a decima"),
        (_set(TARIFF, "rates", []), "tariffs[0].rates: must not be empty"),
        (_drop(TARIFF, "rates"), "tariffs[0].rates: is required"),
        (_set("", "utility", "initech"), "utility: unknown utility 'initech'"),
        (_drop("", "utility"), "utility: is required"),
    ],
)
def test_each_field_is_validated(acme, mutate, expected):
    document = acme_document()
    mutate(document)

    assert expected in str(refused(document))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            _set("customers.1", "subject", "idp-sub-1"),
            "customers[1].subject: duplicate subject 'idp-sub-1' (first at customers[0].subject)",
        ),
        (
            _set("customers.1.accounts.0", "accountNumber", "100200300"),
            "customers[1].accounts[0].accountNumber: duplicate account '100200300' "
            "(first at customers[0].accounts[0].accountNumber)",
        ),
        (
            _set("customers.2.accounts.0.meters.0", "meterNumber", "E-1"),
            "customers[2].accounts[0].meters[0].meterNumber: duplicate meter 'E-1' "
            "(first at customers[0].accounts[0].meters[0].meterNumber)",
        ),
        (
            _set("tariffs.1", "code", "TOU-1"),
            "tariffs[1].code: duplicate tariff code 'TOU-1' (first at tariffs[0].code)",
        ),
    ],
)
def test_numbers_are_unique_across_the_file(acme, mutate, expected):
    document = acme_document()
    mutate(document)

    assert str(refused(document)) == expected


def test_a_meter_priced_in_another_currency_than_its_customer_is_billed_in_is_refused(acme):
    document = acme_document()
    document["customers"][0]["billingCurrency"] = "EUR"

    assert str(refused(document)).startswith(
        "customers[0].accounts[0].meters[0].tariff: tariff 'TOU-1' is priced in USD, "
        "the customer is billed in EUR"
    )


def test_an_account_number_of_another_customer_is_refused(acme, alice):
    number = alice.accounts.get().account_number
    document = acme_document()
    document["customers"][1]["accounts"][0]["accountNumber"] = number

    assert str(refused(document)) == (
        f"customers[1].accounts[0].accountNumber: account '{number}' belongs to another "
        "customer ('alice')"
    )


def test_numbers_only_need_to_be_unique_within_a_utility(acme, bob):
    """Bob's meter number at Globex does not stop Acme from using the same number."""
    document = acme_document()
    document["customers"][1]["accounts"][0]["meters"][0]["meterNumber"] = "E-BOB-1"

    customers_import(document=document)

    assert Meter.objects.get(utility=acme, meter_number="E-BOB-1").account.customer.subject == (
        "idp-sub-2"
    )
    assert Meter.objects.get(meter_number="E-BOB-1", utility__slug="globex").account.customer == bob


def test_a_meter_may_move_between_accounts_of_the_same_customer(acme):
    document = acme_document()
    customers_import(document=document)
    ada = document["customers"][0]
    gas = ada["accounts"][0]["meters"].pop()
    ada["accounts"].append(
        {
            "accountNumber": "100200301",
            "billingCycleDay": 5,
            "premise": {
                "addressLine1": "1 Main St, Unit B",
                "city": "Springfield",
                "country": "US",
            },
            "meters": [gas],
        }
    )

    result = customers_import(document=document)

    assert Meter.objects.get(meter_number="G-1").account.account_number == "100200301"
    assert result.counts["meters", "updated"] == 1
    assert Meter.objects.filter(utility=acme).count() == 4


def test_a_tariff_stored_earlier_can_be_referenced_without_repeating_it(acme, alice):
    document = acme_document()
    document["customers"][1]["accounts"][0]["meters"][0]["tariff"] = "FLAT"

    customers_import(document=document)

    assert Meter.objects.get(meter_number="E-2").tariff == Tariff.objects.get(
        utility=acme, code="FLAT"
    )


def test_customers_the_file_leaves_out_are_left_alone_and_active_false_deactivates(acme, alice):
    before = Customer.objects.filter(pk=alice.pk).values().get()
    document = acme_document()
    document["customers"][2]["active"] = False

    customers_import(document=document)

    assert Customer.objects.filter(pk=alice.pk).values().get() == before
    assert Customer.objects.get(subject="idp-sub-3").active is False
    assert Customer.objects.get(subject="idp-sub-1").active is True


def test_a_document_that_is_not_an_object_is_refused(acme):
    assert str(refused(["acme"])) == "document: must be a JSON object"


def test_many_problems_are_reported_together_on_one_line(acme):
    document = acme_document()
    for customer in document["customers"]:
        customer["timezone"] = "Nowhere/Special"
    document["tariffs"][0]["currency"] = "ABC"
    document["tariffs"][1]["name"] = ""
    document["customers"][0]["colour"] = "blue"

    error = refused(document)

    assert len(error.errors) == 6
    assert str(error).endswith("(and 1 more)")
    assert str(error).count(";") == 4


def test_the_file_parser_refuses_duplicate_keys_and_keeps_prices_exact():
    with pytest.raises(CustomersImportInvalid, match="duplicate key 'email'"):
        customers_document_parse(raw=b'{"utility": "acme", "email": "a", "email": "b"}')
    with pytest.raises(CustomersImportInvalid, match="not valid JSON"):
        customers_document_parse(raw=b'{"utility": ')

    parsed = customers_document_parse(raw=b'{"price": 0.1}')

    assert parsed["price"] == Decimal("0.1")


def test_a_price_written_as_a_json_number_is_stored_exactly(acme):
    document = customers_document_parse(
        raw=b'{"utility": "acme", "tariffs": [{"code": "F", "name": "Flat", "currency": "USD",'
        b' "rates": [{"price": 0.1, "days": ["SUN"], "fromHour": 0, "toHour": 24}]}]}'
    )

    customers_import(document=document)

    assert Tariff.objects.get(code="F").rates.get().price == Decimal("0.1")
    assert Premise.objects.count() == 0
