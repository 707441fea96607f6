"""Accounts and Meters (contract section 4): shapes, filters, scoping and pagination."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from customers.models import Customer, Meter, Tariff, TariffPeriod, TariffRate
from tests.api.helpers import (
    CustomerScopedEndpoint,
    PagedListEndpoint,
    assert_validation_error,
    walk,
)
from tests.conftest import assert_problem, make_account, make_meter

ACCOUNTS = "/usage/v1/Accounts"
METERS = "/usage/v1/Meters"


def time_of_use_tariff(customer: Customer) -> Tariff:
    """Peak 16-21h on weekdays at 0.31, otherwise 0.12: two prices, so time-of-use."""
    tariff = Tariff.objects.create(
        utility=customer.utility, code="TOU-1", name="Time of use", currency="USD"
    )
    TariffRate.objects.create(
        tariff=tariff, position=0, price="0.31", weekdays=0b0011111, from_hour=16, to_hour=21
    )
    TariffRate.objects.create(
        tariff=tariff, position=1, price="0.12", weekdays=0b1111111, from_hour=0, to_hour=24
    )
    return tariff


class TestAccounts(CustomerScopedEndpoint, PagedListEndpoint):
    list_path = ACCOUNTS
    detail_path = ACCOUNTS + "/{id}"

    def resource_id(self, customer: Customer) -> str:
        return str(customer.accounts.earliest("account_number").id)

    def make_items(self, customer: Customer, count: int) -> set[str]:
        for n in range(count):
            make_account(customer, f"7{n:08d}{customer.subject}")
        return {str(pk) for pk in customer.accounts.values_list("id", flat=True)}

    def test_account_shape(self, alice, alice_api):
        account = make_account(alice, "100200300")
        meters = [make_meter(account, "E-2"), make_meter(account, "G-1", service_type="GAS")]

        response = alice_api.get(self.detail(account.id))

        assert response.status_code == 200, response.content
        assert response.json() == {
            "id": str(account.id),
            "accountNumber": "•••••0300",
            "status": "ACTIVE",
            "premise": {
                "addressLine1": "1 Main St",
                "city": "Springfield",
                "region": "MA",
                "postalCode": "01101",
                "country": "US",
            },
            "meterIds": [str(meter.id) for meter in meters],
        }

    def test_account_number_shows_only_its_last_4(self, alice, alice_api):
        account = make_account(alice, "ACCT-98765-4321")
        response = alice_api.get(ACCOUNTS)
        number = next(
            item["accountNumber"]
            for item in response.json()["items"]
            if item["id"] == str(account.id)
        )
        assert number == "•" * 11 + "4321"
        assert "98765" not in response.content.decode()

    def test_list_shows_only_own_accounts(self, alice, alice_api, bob):
        ids = {item["id"] for item in walk(alice_api, ACCOUNTS)}
        assert ids == {str(alice.accounts.get().id)}

    def test_status_is_shown(self, alice, alice_api):
        account = make_account(alice, "555000111", status="SUSPENDED")
        assert alice_api.get(self.detail(account.id)).json()["status"] == "SUSPENDED"

    def test_list_queries_do_not_grow_with_accounts(
        self, alice, alice_api, django_assert_num_queries
    ):
        for n in range(3):
            make_meter(make_account(alice, f"3000000{n}"), f"E-X{n}")
        # (none for the customer named by the access token: its principal is cached)
        # 1. the page of accounts, with their premises joined
        # 2. the ids of those accounts' meters (one prefetch for the whole page)
        with django_assert_num_queries(2):
            response = alice_api.get(ACCOUNTS)
        assert len(response.json()["items"]) == 4


class TestMeters(CustomerScopedEndpoint, PagedListEndpoint):
    list_path = METERS
    detail_path = METERS + "/{id}"

    def resource_id(self, customer: Customer) -> str:
        return str(Meter.objects.filter(account__customer=customer).earliest("meter_number").id)

    def make_items(self, customer: Customer, count: int) -> set[str]:
        account = customer.accounts.earliest("account_number")
        for n in range(count):
            make_meter(account, f"E-{customer.subject}-{n + 10}")
        return {
            str(pk)
            for pk in Meter.objects.filter(account__customer=customer).values_list("id", flat=True)
        }

    def test_meter_shape(self, alice, alice_api):
        meter = Meter.objects.get(account__customer=alice)
        Meter.objects.filter(pk=meter.pk).update(
            first_reading_at=datetime(2026, 3, 7, 5, 0, tzinfo=UTC),
            last_reading_at=datetime(2026, 3, 9, 4, 0, tzinfo=UTC),
        )
        flat = {"id": str(meter.tariff_id), "name": "Flat", "currency": "USD", "timeOfUse": False}

        response = alice_api.get(self.detail(meter.id))

        assert response.status_code == 200, response.content
        assert response.json() == {
            "id": str(meter.id),
            "accountId": str(meter.account_id),
            "serviceType": "ELECTRIC",
            "unitOfMeasure": "kWh",
            "readResolution": "INTERVAL",
            "intervalSeconds": 900,
            "bidirectional": False,
            "timezone": "America/New_York",
            "firstReadingAt": "2026-03-07T05:00:00Z",
            "lastReadingAt": "2026-03-09T04:00:00Z",
            "tariff": flat,
            "exportTariff": None,
            # No recorded change: the tariff now, since the start.
            "tariffHistory": [{"tariff": flat, "from": None}],
        }

    def test_meter_without_readings_or_tariff(self, alice, alice_api):
        meter = make_meter(alice.accounts.get(), "W-1", service_type="WATER", tariff=None)
        body = alice_api.get(self.detail(meter.id)).json()
        assert body["firstReadingAt"] is None
        assert body["lastReadingAt"] is None
        assert body["tariff"] is None
        assert body["tariffHistory"] == []

    def test_solar_meter_with_an_export_tariff_and_a_tariff_history(self, alice, alice_api):
        flat = Meter.objects.get(account__customer=alice).tariff
        tou = time_of_use_tariff(alice)
        meter = make_meter(alice.accounts.get(), "E-PV", tariff=tou, bidirectional=True)
        meter.export_tariff = flat
        meter.save()
        TariffPeriod.objects.create(meter=meter, tariff=flat, valid_from=None)
        TariffPeriod.objects.create(meter=meter, tariff=tou, valid_from=date(2026, 4, 1))
        TariffPeriod.objects.create(meter=meter, export=True, tariff=flat, valid_from=None)

        body = alice_api.get(self.detail(meter.id)).json()

        flat_ref = {"id": str(flat.id), "name": "Flat", "currency": "USD", "timeOfUse": False}
        tou_ref = {"id": str(tou.id), "name": "Time of use", "currency": "USD", "timeOfUse": True}
        assert body["bidirectional"] is True
        assert body["exportTariff"] == flat_ref
        assert body["tariff"] == tou_ref
        # The import tariff's history only (the export one is not part of the contract).
        assert body["tariffHistory"] == [
            {"tariff": flat_ref, "from": None},
            {"tariff": tou_ref, "from": "2026-04-01"},
        ]

    def test_billing_read_meter(self, alice, alice_api):
        meter = make_meter(
            alice.accounts.get(),
            "G-BILL",
            service_type="GAS",
            unit_of_measure="therm",
            read_resolution="BILLING",
            interval_seconds=None,
        )
        body = alice_api.get(self.detail(meter.id)).json()
        assert (body["readResolution"], body["intervalSeconds"]) == ("BILLING", None)

    def test_time_of_use_tariff(self, alice, alice_api):
        tariff = time_of_use_tariff(alice)
        meter = make_meter(alice.accounts.get(), "E-TOU", tariff=tariff)
        body = alice_api.get(self.detail(meter.id)).json()
        assert body["tariff"] == {
            "id": str(tariff.id),
            "name": "Time of use",
            "currency": "USD",
            "timeOfUse": True,
        }

    def test_filters(self, alice, alice_api):
        first = alice.accounts.get()
        second = make_account(alice, "200300400")
        gas = make_meter(second, "G-1", service_type="GAS", unit_of_measure="therm")
        electric = make_meter(second, "E-2")

        def ids(**params: str) -> set[str]:
            return {item["id"] for item in walk(alice_api, METERS, **params)}

        assert ids(accountId=str(second.id)) == {str(gas.id), str(electric.id)}
        assert ids(serviceType="GAS") == {str(gas.id)}
        assert ids(accountId=str(first.id), serviceType="GAS") == set()
        assert ids(accountId=str(second.id), serviceType="ELECTRIC") == {str(electric.id)}

    @pytest.mark.parametrize(
        ("params", "fields"),
        [
            ({"accountId": "not-a-uuid"}, ["accountId"]),
            ({"serviceType": "NUCLEAR"}, ["serviceType"]),
            ({"serviceType": "gas"}, ["serviceType"]),
            ({"accountId": "1", "serviceType": "SOLAR"}, ["accountId", "serviceType"]),
        ],
    )
    def test_invalid_filter_values_are_400_naming_the_parameter(self, alice_api, params, fields):
        assert_validation_error(alice_api.get(METERS, params), *fields)

    def test_foreign_account_filter_is_the_same_400_as_an_unknown_one(self, alice_api, bob):
        foreign = alice_api.get(METERS, {"accountId": str(bob.accounts.get().id)})
        unknown = alice_api.get(METERS, {"accountId": "00000000-0000-4000-8000-000000000000"})

        assert_validation_error(foreign, "accountId")
        assert foreign.json()["errors"] == unknown.json()["errors"]

    def test_token_reused_with_other_filters_is_400(self, alice, alice_api):
        self.make_items(alice, 2)
        token = self.first_page(alice_api, serviceType="ELECTRIC")["nextPageToken"]
        for params in ({}, {"serviceType": "GAS"}, {"accountId": str(alice.accounts.get().id)}):
            response = alice_api.get(METERS, {"pageSize": 1, "pageToken": token, **params})
            assert_validation_error(response, "pageToken")

    def test_token_from_another_list_is_400(self, alice, alice_api):
        make_account(alice, "900800700")
        token = alice_api.get(ACCOUNTS, {"pageSize": 1}).json()["nextPageToken"]
        self.make_items(alice, 1)
        assert_validation_error(alice_api.get(METERS, {"pageToken": token}), "pageToken")

    def test_list_queries_do_not_grow_with_meters(
        self, alice, alice_api, django_assert_num_queries
    ):
        tariff = time_of_use_tariff(alice)
        flat = Meter.objects.get(account__customer=alice).tariff
        for n in range(3):
            meter = make_meter(
                make_account(alice, f"4000000{n}"),
                f"E-Y{n}",
                tariff=tariff,
                bidirectional=True,
                export_tariff=flat,
            )
            TariffPeriod.objects.create(meter=meter, tariff=flat, valid_from=None)
            TariffPeriod.objects.create(meter=meter, tariff=tariff, valid_from=date(2026, 1, n + 1))
        # (none for the customer named by the access token: its principal is cached)
        # 1. the page of meters, with their tariffs and export tariffs joined
        # 2-3. the prices of those tariffs and export tariffs (for timeOfUse)
        # 4-5. the tariff histories with their tariffs joined, and those tariffs' prices
        with django_assert_num_queries(5):
            response = alice_api.get(METERS)
        items = response.json()["items"]
        assert [item["tariff"]["timeOfUse"] for item in items] == [False, True, True, True]
        assert [len(item["tariffHistory"]) for item in items] == [1, 2, 2, 2]

    def test_detail_of_a_meter_on_a_closed_account_is_still_shown(self, alice, alice_api):
        account = make_account(alice, "600500400", status="CLOSED")
        meter = make_meter(account, "E-OLD")
        assert alice_api.get(self.detail(meter.id)).json()["accountId"] == str(account.id)


def test_accounts_and_meters_refuse_writes(alice_api, alice):
    account_id = alice.accounts.get().id
    for method, path in [
        ("post", ACCOUNTS),
        ("delete", f"{ACCOUNTS}/{account_id}"),
        ("patch", f"{METERS}/{Meter.objects.get(account__customer=alice).id}"),
    ]:
        response = getattr(alice_api, method)(path, {}, format="json")
        assert_problem(response, 405, "method-not-allowed")
        assert "GET" in response["Allow"]


@pytest.mark.parametrize("kind", ["account", "meter", "profile"])
def test_single_resources_carry_an_etag_and_revalidate(alice, alice_api, kind):
    account = alice.accounts.get()
    url = {
        "account": f"/usage/v1/Accounts/{account.id}",
        "meter": f"/usage/v1/Meters/{account.meters.get().id}",
        "profile": "/usage/v1/Customer/profile",
    }[kind]
    first = alice_api.get(url)
    etag = first["ETag"]

    assert first.status_code == 200 and etag.startswith('"')
    unchanged = alice_api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304
    assert unchanged["ETag"] == etag
    alice.display_name = "Ada"
    alice.save()
    account.status = "SUSPENDED"
    account.save()
    Meter.objects.filter(account=account).update(timezone="Europe/London")
    assert alice_api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 200
