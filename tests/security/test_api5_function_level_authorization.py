"""API5:2023 Broken Function Level Authorization — the admin's functions, tried by a utility's
staff user holding every model permission there is: other utilities' records stay out of
reach, and the superuser-only functions (Django's users and groups, utility registration,
staff links) stay superuser-only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from budgets.models import Budget
from customers.models import UtilityStaff
from tests.budgets.conftest import make_budget


@pytest.fixture
def greedy_staff(acme) -> Client:
    """Acme staff granted *every* permission, Django's auth ones included."""
    user = User.objects.create_user("acme-ops", password="unused", is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    UtilityStaff.objects.create(user=user, utility=acme)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def root() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="unused"))
    return client


def url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


@pytest.mark.parametrize(
    "page",
    [
        ("auth_user_changelist",),
        ("auth_user_add",),
        ("auth_group_changelist",),
        ("auth_group_add",),
        ("customers_utilitystaff_changelist",),
        ("customers_utility_add",),
    ],
)
def test_superuser_only_pages_are_403_for_staff(greedy_staff, root, page):
    assert greedy_staff.get(url(*page)).status_code == 403
    assert root.get(url(*page)).status_code == 200


def test_staff_cannot_make_themselves_superuser(greedy_staff):
    me = User.objects.get(username="acme-ops")

    response = greedy_staff.post(
        url("auth_user_change", me.pk),
        {"username": "acme-ops", "is_staff": "on", "is_superuser": "on", "is_active": "on"},
    )

    assert response.status_code == 403
    me.refresh_from_db()
    assert not me.is_superuser


def test_staff_cannot_edit_groups(greedy_staff):
    group = Group.objects.create(name="support")

    assert greedy_staff.get(url("auth_group_change", group.pk)).status_code == 403
    assert greedy_staff.post(url("auth_group_delete", group.pk), {"post": "yes"}).status_code == 403
    assert Group.objects.filter(pk=group.pk).exists()


def test_the_index_does_not_offer_users_and_groups_to_staff(greedy_staff):
    page = greedy_staff.get(url("index")).content.decode()

    assert url("auth_user_changelist") not in page
    assert url("auth_group_changelist") not in page


def test_staff_cannot_reach_another_utilitys_records(greedy_staff, alice, bob):
    bob_budget = make_budget(bob)
    foreign = [
        url("customers_customer_change", bob.pk),
        url("customers_account_change", bob.accounts.get().pk),
        url("customers_meter_change", bob.accounts.get().meters.get().pk),
        url("customers_utility_change", bob.utility.pk),
        url("budgets_budget_change", bob_budget.pk),
    ]
    for page in foreign:
        # The admin answers an object outside the queryset with a redirect to the index.
        assert greedy_staff.get(page).status_code == 302, page
    response = greedy_staff.post(url("customers_customer_delete", bob.pk), {"post": "yes"})
    assert response.status_code == 302
    assert type(bob).objects.filter(pk=bob.pk).exists()


def test_staff_cannot_delete_or_change_budgets_even_their_own(greedy_staff, alice):
    budget = make_budget(alice)

    greedy_staff.post(url("budgets_budget_change", budget.pk), {"name": "Hacked"})

    assert Budget.objects.get(pk=budget.pk).name == "Home"
