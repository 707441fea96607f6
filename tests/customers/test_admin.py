"""The Django admin for utility staff: each staff user sees only their own utility."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from customers.models import (
    Account,
    Customer,
    IssuedRefreshToken,
    Meter,
    Tariff,
    TariffPeriod,
    UsedIdentityToken,
    UtilityStaff,
)
from tests.conftest import admin_form_data

pytestmark = pytest.mark.django_db

SCOPED_MODELS = ["customer", "account", "meter", "tariff"]


def admin_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def staff_user(username: str, utility=None) -> User:
    user = User.objects.create_user(username, password="unused", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="customers"))
    if utility is not None:
        UtilityStaff.objects.create(user=user, utility=utility)
    return user


@pytest.fixture
def acme_staff(acme) -> Client:
    return admin_client(staff_user("acme-ops", acme))


@pytest.fixture
def superuser_client(db) -> Client:
    return admin_client(User.objects.create_superuser("root", password="unused"))


def changelist(model: str) -> str:
    return reverse(f"admin:customers_{model}_changelist")


def change(obj) -> str:
    return reverse(f"admin:customers_{obj._meta.model_name}_change", args=[obj.pk])


def listed(client: Client, model: str, query: str = "") -> str:
    response = client.get(changelist(model) + query)
    assert response.status_code == 200
    return response.content.decode()


def test_staff_see_their_utility_s_rows_and_not_another_s(acme_staff, alice, bob):
    assert "alice" in listed(acme_staff, "customer")
    assert "bob" not in listed(acme_staff, "customer")
    assert "E-ALICE-1" in listed(acme_staff, "meter")
    assert "E-BOB-1" not in listed(acme_staff, "meter")
    assert alice.accounts.get().account_number in listed(acme_staff, "account")
    assert bob.accounts.get().account_number not in listed(acme_staff, "account")
    assert "Globex" not in listed(acme_staff, "utility")


def test_staff_cannot_open_another_utility_s_records(acme_staff, alice, bob):
    """Another utility's row is treated as missing: redirected away, nothing of it shown."""
    foreign = [
        bob,
        bob.accounts.get(),
        Meter.objects.get(meter_number="E-BOB-1"),
        Tariff.objects.get(utility=bob.utility),
        bob.utility,
    ]
    for obj in foreign:
        response = acme_staff.get(change(obj))
        assert response.status_code == 302, obj
        assert response["Location"] == reverse("admin:index")

    assert acme_staff.get(change(alice)).status_code == 200


def test_staff_search_does_not_reach_other_utilities(acme_staff, alice, bob):
    bob_meter = Meter.objects.get(meter_number="E-BOB-1")

    assert change(bob) not in listed(acme_staff, "customer", "?q=bob")
    assert change(bob_meter) not in listed(acme_staff, "meter", "?q=E-BOB-1")
    assert change(alice) in listed(acme_staff, "customer", "?q=alice")


def test_foreign_key_choices_are_limited_to_the_staff_utility(acme_staff, alice, bob):
    acme_tariff = Tariff.objects.get(utility=alice.utility)
    globex_tariff = Tariff.objects.get(utility=bob.utility)

    page = acme_staff.get(reverse("admin:customers_meter_add")).content.decode()

    assert f'value="{acme_tariff.pk}"' in page
    assert f'value="{globex_tariff.pk}"' not in page
    assert f'value="{bob.utility.pk}"' not in page


def test_staff_cannot_attach_a_record_to_another_utility_s_customer(acme_staff, alice, bob):
    response = acme_staff.post(
        reverse("admin:customers_account_add"),
        {
            "utility": str(alice.utility.pk),
            "customer": str(bob.pk),
            "account_number": "555000111",
            "status": "ACTIVE",
            "billing_cycle_day": "1",
            "premise-TOTAL_FORMS": "0",
            "premise-INITIAL_FORMS": "0",
            "meters-TOTAL_FORMS": "0",
            "meters-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200  # the form again, with an error
    assert "Select a valid choice" in response.content.decode()
    assert not Account.objects.filter(account_number="555000111").exists()


def test_a_superuser_sees_every_utility(superuser_client, alice, bob):
    customers = listed(superuser_client, "customer")
    assert "alice" in customers and "bob" in customers
    meters = listed(superuser_client, "meter")
    assert "E-ALICE-1" in meters and "E-BOB-1" in meters
    assert superuser_client.get(change(bob)).status_code == 200


def test_staff_without_a_utility_see_nothing(alice, bob):
    client = admin_client(staff_user("drifter"))

    for model in SCOPED_MODELS:
        page = listed(client, model)
        assert "alice" not in page and "E-ALICE-1" not in page


@pytest.mark.parametrize("model", [*SCOPED_MODELS, "utility"])
def test_changelists_load_for_staff_and_superusers(acme_staff, superuser_client, alice, model):
    listed(acme_staff, model)
    listed(superuser_client, model)


def test_change_pages_with_inlines_load(acme_staff, alice):
    account = alice.accounts.get()
    for obj in [alice, account, Meter.objects.get(account=account), account.meters.get().tariff]:
        response = acme_staff.get(change(obj))
        assert response.status_code == 200, obj
    page = acme_staff.get(change(account)).content.decode()
    assert "1 Main St" in page and "E-ALICE-1" in page  # premise and meter inlines


def test_the_signing_key_is_never_shown(superuser_client, acme):
    acme.private_key_pem = "-----BEGIN PRIVATE KEY-----\nTOP-SECRET-KEY\n"
    acme.save()

    for url in [changelist("utility"), change(acme)]:
        page = superuser_client.get(url).content.decode()
        assert "TOP-SECRET-KEY" not in page
        assert "private_key_pem" not in page


def test_staff_may_view_but_not_change_their_utility(acme_staff, acme):
    page = acme_staff.get(change(acme)).content.decode()

    assert acme.issuer in page
    assert 'name="_save"' not in page


def test_token_tables_are_not_in_the_admin_and_staff_links_are_superuser_only(acme_staff):
    assert not admin.site.is_registered(UsedIdentityToken)
    assert not admin.site.is_registered(IssuedRefreshToken)
    assert acme_staff.get(changelist("utilitystaff")).status_code == 403


def test_large_tables_never_count_every_row():
    for model in (Customer, Account, Meter):
        assert admin.site.get_model_admin(model).show_full_result_count is False


def test_the_meter_page_shows_directions_read_resolution_and_tariff_history(
    superuser_client, alice
):
    meter = Meter.objects.get(account__customer=alice)
    meter.bidirectional, meter.export_tariff = True, meter.tariff
    meter.save()
    TariffPeriod.objects.create(meter=meter, tariff=meter.tariff, valid_from=date(2026, 4, 1))

    page = superuser_client.get(change(meter)).content.decode()
    listing = listed(superuser_client, "meter")

    for field in ("read_resolution", "bidirectional", "export_tariff"):
        assert f'name="{field}"' in page
    assert 'name="tariff_periods-0-valid_from" value="2026-04-01"' in page
    assert "Interval (every intervalSeconds)" in listing  # the read resolution column


def test_a_tariff_history_must_end_on_the_meter_s_tariff(superuser_client, alice, acme):
    meter = Meter.objects.get(account__customer=alice)
    other = Tariff.objects.create(utility=acme, code="OTHER", name="Other", currency="USD")
    data = admin_form_data(superuser_client, change(meter))
    data.update(
        {
            "tariff_periods-TOTAL_FORMS": "2",
            "tariff_periods-0-tariff": str(meter.tariff_id),
            "tariff_periods-1-tariff": str(other.pk),
            "tariff_periods-1-valid_from": "2026-04-01",
        }
    )

    response = superuser_client.post(change(meter), data)

    assert response.status_code == 200  # the form again, with the error
    assert "it must be the meter&#x27;s tariff (FLAT (Flat))" in response.content.decode()
    assert not TariffPeriod.objects.exists()

    data["tariff"] = str(other.pk)
    assert superuser_client.post(change(meter), data).status_code == 302
    assert list(TariffPeriod.objects.values_list("valid_from", "tariff__code")) == [
        (None, "FLAT"),
        (date(2026, 4, 1), "OTHER"),
    ]


@pytest.mark.parametrize(
    ("changes", "readings", "error"),
    [
        ({"read_resolution": "BILLING"}, False, "Must be empty for a billing-read meter."),
        ({"interval_seconds": ""}, False, "Required for an interval meter."),
        ({"export_tariff": "FLAT"}, False, "Only a bidirectional meter exports."),
        (
            {"read_resolution": "BILLING", "interval_seconds": ""},
            True,
            "The meter has readings: it stays INTERVAL.",
        ),
    ],
)
def test_the_meter_form_refuses_what_the_cis_import_refuses(
    superuser_client, alice, changes, readings, error
):
    meter = Meter.objects.get(account__customer=alice)
    if readings:
        Meter.objects.filter(pk=meter.pk).update(first_reading_at=datetime(2026, 3, 1, tzinfo=UTC))
    data = admin_form_data(superuser_client, change(meter))
    flat = str(meter.tariff_id)
    data.update({key: flat if value == "FLAT" else value for key, value in changes.items()})

    response = superuser_client.post(change(meter), data)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert Meter.objects.get(pk=meter.pk).read_resolution == "INTERVAL"


def test_a_billing_read_meter_without_readings_can_be_set_up_in_the_admin(superuser_client, alice):
    meter = Meter.objects.get(account__customer=alice)
    data = admin_form_data(superuser_client, change(meter))
    data.update({"read_resolution": "BILLING", "interval_seconds": ""})

    assert superuser_client.post(change(meter), data).status_code == 302
    meter.refresh_from_db()
    assert (meter.read_resolution, meter.interval_seconds) == ("BILLING", None)


def test_the_account_page_leaves_a_meter_with_a_history_its_tariff(superuser_client, alice, acme):
    account = alice.accounts.get()
    meter = account.meters.get()
    TariffPeriod.objects.create(meter=meter, tariff=meter.tariff, valid_from=None)
    other = Tariff.objects.create(utility=acme, code="OTHER", name="Other", currency="USD")
    data = {**admin_form_data(superuser_client, change(account)), "meters-0-tariff": str(other.pk)}

    response = superuser_client.post(change(account), data)

    assert response.status_code == 200
    assert "change its tariff on the meter&#x27;s page" in response.content.decode()
    assert Meter.objects.get(pk=meter.pk).tariff_id != other.pk
    TariffPeriod.objects.all().delete()  # without a history the account page may change it
    assert superuser_client.post(change(account), data).status_code == 302
    assert Meter.objects.get(pk=meter.pk).tariff_id == other.pk
