"""Staff see their own utility's customers' insights in the admin, read-only."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.conftest import staff_client
from tests.insights.test_api import add_insight

CHANGELIST = reverse("admin:insights_insight_changelist")


def test_staff_see_their_utilitys_insights_and_search_by_subject(acme, alice, bob):
    mine, theirs = add_insight(alice), add_insight(bob)
    client = staff_client(acme, content_type__app_label="insights")

    page = client.get(CHANGELIST).content.decode()
    assert str(mine.pk) in page
    assert str(theirs.pk) not in page
    assert str(mine.pk) in client.get(CHANGELIST, {"q": "alice"}).content.decode()
    assert str(mine.pk) not in client.get(CHANGELIST, {"q": "bob"}).content.decode()
    change = reverse("admin:insights_insight_change", args=[theirs.pk])
    assert client.get(change).status_code == 302  # not theirs: "does not exist" redirect


def test_insights_are_read_only_and_staff_without_utility_see_none(alice):
    insight = add_insight(alice)
    assert (
        str(insight.pk)
        not in staff_client(None, content_type__app_label="insights")
        .get(CHANGELIST)
        .content.decode()
    )
    root = User.objects.create_superuser("root", password="unused")
    client = Client()
    client.force_login(root)
    change = client.get(reverse("admin:insights_insight_change", args=[insight.pk]))
    assert change.status_code == 200
    assert b'name="_save"' not in change.content
    assert client.get(reverse("admin:insights_insight_add")).status_code == 403
