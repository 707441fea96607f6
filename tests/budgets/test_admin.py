"""Budgets in the admin: staff see their utility's customers' budgets only, and cannot edit."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.budgets.conftest import make_budget
from tests.conftest import staff_client

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:budgets_budget_changelist")


def change(budget) -> str:
    return reverse("admin:budgets_budget_change", args=[budget.pk])


def test_staff_see_only_their_utility_s_budgets(acme, alice, bob):
    make_budget(alice, name="Alice's budget")
    bobs = make_budget(bob, name="Bob's budget")
    client = staff_client(acme, content_type__app_label="budgets")

    page = client.get(CHANGELIST).content.decode()

    assert "Alice&#x27;s budget" in page
    assert "Bob&#x27;s budget" not in page
    assert client.get(change(bobs)).status_code == 302  # treated as missing


def test_staff_without_a_utility_see_none(alice):
    make_budget(alice, name="Alice's budget")
    assert (
        "Alice&#x27;s budget"
        not in staff_client(None, content_type__app_label="budgets")
        .get(CHANGELIST)
        .content.decode()
    )


def test_budgets_are_read_only_in_the_admin(acme, alice):
    budget = make_budget(alice)
    client = staff_client(acme, content_type__app_label="budgets")

    page = client.get(change(budget)).content.decode()

    assert 'name="_save"' not in page
    assert client.get(reverse("admin:budgets_budget_add")).status_code == 403
