"""The CIS keys of meters as they are in the field (contract section 10): bidirectional meters
and their export tariff, billing-read meters, and tariff histories."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from customers.cis import customers_import
from customers.models import Meter, TariffPeriod
from tests.conftest import client_for
from tests.customers.cis_documents import ALL_DAYS, acme_document, refused, table_snapshot

pytestmark = pytest.mark.django_db

_DROP = object()


def meter_of(document: dict[str, Any], index: int = 0) -> dict[str, Any]:
    """Meter ``index`` of Ada's account (E-1 on TOU-1, then G-1 on GAS-1; New York)."""
    return document["customers"][0]["accounts"][0]["meters"][index]


def with_e1(**keys: Any) -> dict[str, Any]:
    """Acme's document with these keys set on meter E-1 (``_DROP`` removes one)."""
    document = acme_document()
    meter = meter_of(document)
    for key, value in keys.items():
        if value is _DROP:
            del meter[key]
        else:
            meter[key] = value
    return document


def history(meter_number: str, *, export: bool = False) -> list[tuple[date | None, str]]:
    return [
        (period.valid_from, period.tariff.code)
        for period in TariffPeriod.objects.filter(
            meter__meter_number=meter_number, export=export
        ).select_related("tariff")
    ]


def solar_document() -> dict[str, Any]:
    """E-1 exports (credited at EXPORT-1, which replaced GAS-1 in March) and has changed
    tariff twice; G-1 is read once a month."""
    document = acme_document()
    document["tariffs"].append(
        {
            "code": "EXPORT-1",
            "name": "Solar export",
            "currency": "USD",
            "rates": [{"price": "0.05", "days": ALL_DAYS, "fromHour": 0, "toHour": 24}],
        }
    )
    meter_of(document).update(
        bidirectional=True,
        exportTariff="EXPORT-1",
        exportTariffHistory=[
            {"tariff": "GAS-1", "from": "2025-01-01"},
            {"tariff": "EXPORT-1", "from": "2026-03-01"},
        ],
        tariffHistory=[
            {"tariff": "GAS-1", "from": None},
            {"tariff": "EXPORT-1", "from": "2025-06-01"},
            {"tariff": "TOU-1", "from": "2026-01-15"},
        ],
    )
    meter_of(document, 1).update(readResolution="BILLING", intervalSeconds=None)
    return document


def test_field_meter_keys_are_stored_and_shown(acme):
    result = customers_import(document=solar_document())

    assert result.counts["meters", "created"] == 4
    solar = Meter.objects.select_related("export_tariff").get(meter_number="E-1")
    assert (solar.bidirectional, solar.export_tariff.code, solar.read_resolution) == (
        True,
        "EXPORT-1",
        "INTERVAL",
    )
    assert history("E-1") == [
        (None, "GAS-1"),
        (date(2025, 6, 1), "EXPORT-1"),
        (date(2026, 1, 15), "TOU-1"),
    ]
    assert history("E-1", export=True) == [
        (date(2025, 1, 1), "GAS-1"),
        (date(2026, 3, 1), "EXPORT-1"),
    ]
    gas = Meter.objects.get(meter_number="G-1")
    assert (gas.read_resolution, gas.interval_seconds, gas.bidirectional) == (
        "BILLING",
        None,
        False,
    )
    assert history("G-1") == []  # a tariff that never changed needs no history

    client = client_for(solar.account.customer)
    body = client.get(f"/usage/v1/Meters/{solar.id}").json()
    assert body["bidirectional"] is True
    assert body["exportTariff"]["name"] == "Solar export"
    assert [(entry["tariff"]["name"], entry["from"]) for entry in body["tariffHistory"]] == [
        ("Gas", None),
        ("Solar export", "2025-06-01"),
        ("Time of use", "2026-01-15"),
    ]
    gas_body = client.get(f"/usage/v1/Meters/{gas.id}").json()
    assert (gas_body["readResolution"], gas_body["intervalSeconds"]) == ("BILLING", None)


def test_the_same_field_meter_file_again_changes_nothing(acme):
    customers_import(document=solar_document())
    before = table_snapshot()

    result = customers_import(document=solar_document())

    assert table_snapshot() == before
    assert result.counts["meters", "unchanged"] == 4


def test_a_history_the_file_gives_replaces_the_stored_one(acme):
    customers_import(document=solar_document())
    document = solar_document()
    meter_of(document)["tariffHistory"] = [{"tariff": "TOU-1", "from": "2024-01-01"}]

    result = customers_import(document=document)

    assert result.counts["meters", "updated"] == 1
    assert history("E-1") == [(date(2024, 1, 1), "TOU-1")]


def test_a_file_without_a_history_keeps_the_stored_one_while_the_tariff_stays(acme):
    customers_import(document=solar_document())
    document = solar_document()
    del meter_of(document)["tariffHistory"]
    del meter_of(document)["exportTariffHistory"]
    before = table_snapshot()

    customers_import(document=document)

    assert table_snapshot() == before


def test_a_changed_export_tariff_without_a_history_applies_from_the_import_local_date(acme):
    document = solar_document()
    del meter_of(document)["exportTariffHistory"]
    customers_import(document=document)
    meter_of(document)["exportTariff"] = "GAS-1"

    customers_import(document=document)

    today = timezone.now().astimezone(ZoneInfo("America/New_York")).date()
    assert history("E-1", export=True) == [(None, "EXPORT-1"), (today, "GAS-1")]
    assert len(history("E-1")) == 3  # the import tariff's history is another one


def test_a_changed_tariff_extends_a_recorded_history_from_the_meter_local_date(acme):
    """'Today' is the meter's local date (Tokyo's is a day ahead of UTC's after 15:00 UTC)."""
    document = acme_document()
    meter_of(document).update(timezone="Asia/Tokyo")
    meter_of(document)["tariffHistory"] = [
        {"tariff": "GAS-1", "from": None},
        {"tariff": "TOU-1", "from": "2026-01-15"},
    ]
    customers_import(document=document)
    del meter_of(document)["tariffHistory"]
    meter_of(document)["tariff"] = "GAS-1"

    customers_import(document=document)

    today = timezone.now().astimezone(ZoneInfo("Asia/Tokyo")).date()
    assert history("E-1") == [(None, "GAS-1"), (date(2026, 1, 15), "TOU-1"), (today, "GAS-1")]


def test_a_meter_that_loses_its_tariff_loses_its_history(acme):
    customers_import(document=solar_document())

    customers_import(document=with_e1(bidirectional=True))  # no export tariff any more
    assert history("E-1", export=True) == []
    assert len(history("E-1")) == 3

    customers_import(document=with_e1(tariff=None))
    assert history("E-1") == []


def test_a_new_meter_or_one_that_gets_its_first_tariff_has_no_history(acme):
    customers_import(document=with_e1(tariff=None))

    customers_import(document=acme_document())

    assert history("E-1") == []
    assert Meter.objects.get(meter_number="E-1").tariff.code == "TOU-1"


def test_read_resolution_of_a_meter_with_readings_cannot_change(acme):
    customers_import(document=acme_document())
    Meter.objects.filter(meter_number="G-1").update(
        first_reading_at=datetime(2026, 3, 1, 5, tzinfo=UTC)
    )
    document = acme_document()
    meter_of(document, 1).update(readResolution="BILLING", intervalSeconds=None)

    assert str(refused(document)) == (
        "customers[0].accounts[0].meters[1].readResolution: meter 'G-1' has readings: its "
        "readResolution stays INTERVAL"
    )


def _entry(code: Any, day: Any) -> dict[str, Any]:
    return {"tariff": code, "from": day}


FUTURE = (date.today() + timedelta(days=3)).isoformat()


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"bidirectional": "yes"}, "meters[0].bidirectional: must be a boolean"),
        ({"readResolution": "MONTHLY"}, "meters[0].readResolution: must be one of INTERVAL, BI"),
        (
            {"readResolution": "BILLING"},
            "meters[0].intervalSeconds: must be null or absent for a BILLING meter",
        ),
        ({"intervalSeconds": None}, "meters[0].intervalSeconds: is required for an INTERVAL"),
        ({"intervalSeconds": _DROP}, "meters[0].intervalSeconds: is required for an INTERVAL"),
        ({"exportTariff": "GAS-1"}, 'meters[0].exportTariff: needs "bidirectional": true'),
        (
            {"bidirectional": True, "exportTariff": "NOPE"},
            "meters[0].exportTariff: unknown tariff 'NOPE'",
        ),
        (
            {"bidirectional": True, "exportTariff": 7},
            "meters[0].exportTariff: must be a tariff code (a string) or null",
        ),
        ({"tariffHistory": "TOU-1"}, "meters[0].tariffHistory: must be a list"),
        ({"tariffHistory": []}, "meters[0].tariffHistory: must not be empty"),
        ({"tariffHistory": ["TOU-1"]}, "meters[0].tariffHistory[0]: must be an object"),
        (
            {"tariffHistory": [{**_entry("TOU-1", None), "until": "2027-01-01"}]},
            "meters[0].tariffHistory[0].until: unknown key",
        ),
        ({"tariffHistory": [{"tariff": "TOU-1"}]}, "meters[0].tariffHistory[0].from: is required"),
        ({"tariffHistory": [{"from": None}]}, "meters[0].tariffHistory[0].tariff: is required"),
        (
            {"tariffHistory": [_entry("NOPE", None), _entry("TOU-1", "2026-01-01")]},
            "meters[0].tariffHistory[0].tariff: unknown tariff 'NOPE'",
        ),
        (
            {"tariffHistory": [_entry(7, None), _entry("TOU-1", "2026-01-01")]},
            "meters[0].tariffHistory[0].tariff: must be a tariff code (a string)",
        ),
        (
            {"tariffHistory": [_entry("GAS-1", None), _entry("TOU-1", "2026-02-30")]},
            "meters[0].tariffHistory[1].from: '2026-02-30' is not a date",
        ),
        (
            {"tariffHistory": [_entry("TOU-1", "2026/01/01")]},
            'meters[0].tariffHistory[0].from: must be a date "YYYY-MM-DD"',
        ),
        (
            {"tariffHistory": [_entry("TOU-1", "20260101")]},
            'meters[0].tariffHistory[0].from: must be a date "YYYY-MM-DD"',
        ),
        (
            {"tariffHistory": [_entry("TOU-1", 20260101)]},
            'meters[0].tariffHistory[0].from: must be a date "YYYY-MM-DD"',
        ),
        (
            {"tariffHistory": [_entry("GAS-1", "2026-01-01"), _entry("TOU-1", None)]},
            "meters[0].tariffHistory[1].from: may be null only on the first entry",
        ),
        (
            {"tariffHistory": [_entry("GAS-1", "2026-03-01"), _entry("TOU-1", "2026-03-01")]},
            "meters[0].tariffHistory[1].from: must be after the previous entry's (2026-03-01)",
        ),
        (
            {"tariffHistory": [_entry("GAS-1", None), _entry("TOU-1", FUTURE)]},
            "meters[0].tariffHistory[1].from: must not be after today (",
        ),
        (
            {"tariffHistory": [_entry("TOU-1", None), _entry("GAS-1", "2026-01-01")]},
            "meters[0].tariffHistory: the last entry must be the meter's tariff ('TOU-1')",
        ),
        (
            {"tariff": None, "tariffHistory": [_entry("TOU-1", None)]},
            "meters[0].tariffHistory: the last entry must be the meter's tariff (None)",
        ),
        (
            {
                "bidirectional": True,
                "exportTariff": "GAS-1",
                "exportTariffHistory": [_entry("TOU-1", None)],
            },
            "meters[0].exportTariffHistory: the last entry must be the meter's exportTariff "
            "('GAS-1')",
        ),
        (
            {
                "bidirectional": True,
                "exportTariff": "NOPE",
                "exportTariffHistory": [_entry("NOPE", None)],
            },
            "meters[0].exportTariffHistory[0].tariff: unknown tariff 'NOPE'",
        ),
    ],
)
def test_each_field_meter_key_is_validated(acme, keys, expected):
    assert expected in str(refused(with_e1(**keys)))


def test_a_history_tariff_in_another_currency_is_refused(acme):
    document = with_e1(tariffHistory=[_entry("EUR-1", None), _entry("TOU-1", "2026-01-01")])
    document["tariffs"].append(
        {
            "code": "EUR-1",
            "name": "Euro",
            "currency": "EUR",
            "rates": [{"price": "0.2", "days": ALL_DAYS, "fromHour": 0, "toHour": 24}],
        }
    )

    assert str(refused(document)) == (
        "customers[0].accounts[0].meters[0].tariffHistory[0].tariff: tariff 'EUR-1' is priced "
        "in EUR, the customer is billed in USD"
    )
