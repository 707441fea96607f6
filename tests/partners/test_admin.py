"""Partner access in the admin: partners without secrets, grants revoked by an action, every
webhook delivery with its attempts; staff see their own utility's only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import AccessToken

from customers.models import UtilityStaff
from partners.models import Authorization, WebhookAttempt, WebhookEvent
from tests.conftest import assert_problem, client_for
from tests.partners.conftest import authorize, partner_client, register

pytestmark = pytest.mark.django_db


def staff_client(utility) -> Client:
    user = User.objects.create_user("ops", password="unused", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="partners"))
    UtilityStaff.objects.create(user=user, utility=utility)
    client = Client()
    client.force_login(user)
    return client


def test_partners_are_listed_without_secrets(acme, globex):
    app = register("acme", "SolarCo", webhook_url="https://solar.example/hooks")
    register("globex", "Globex Advisor")
    client = staff_client(acme)

    listing = client.get(reverse("admin:partners_partner_changelist")).content.decode()
    detail = client.get(
        reverse("admin:partners_partner_change", args=[app.partner.pk])
    ).content.decode()

    assert "SolarCo" in listing and "Globex Advisor" not in listing
    assert app.client_id in detail
    for secret in (app.credentials.client_secret, app.credentials.webhook_secret):
        assert secret not in listing and secret not in detail
    assert app.partner.application.client_secret not in detail  # not even its hash


def test_oauth_toolkit_tables_are_not_in_the_admin(acme):
    client = staff_client(acme)

    assert client.get("/admin/oauth2_provider/accesstoken/").status_code == 404


def test_staff_revoke_a_customers_grant_and_its_token_stops(acme, alice):
    app = register("acme", "SolarCo")
    tokens = authorize(client_for(alice), app)
    client = staff_client(acme)
    changelist = reverse("admin:partners_authorization_changelist")
    assert "alice" in client.get(changelist, {"q": "alice"}).content.decode()

    client.post(
        changelist, {"action": "revoke", "_selected_action": [tokens["grant_id"]]}, follow=True
    )

    assert Authorization.objects.get().revoked_at is not None
    assert not AccessToken.objects.exists()
    assert_problem(
        partner_client(tokens["access_token"]).get("/usage/v1/Meters"), 401, "invalid-token"
    )


def test_webhook_deliveries_show_their_attempts(acme, alice):
    app = register("acme", "SolarCo", webhook_url="https://solar.example/hooks")
    tokens = authorize(client_for(alice), app)
    event = WebhookEvent.objects.create(
        partner=app.partner,
        authorization_id=tokens["grant_id"],
        type="usage.available",
        ordering_key="meter:x",
        data={"meterId": "x"},
    )
    WebhookAttempt.objects.create(
        event=event, attempted_at=timezone.now(), status_code=503, error="HTTP 503", duration_ms=4
    )

    page = (
        staff_client(acme)
        .get(reverse("admin:partners_webhookevent_change", args=[event.pk]))
        .content.decode()
    )

    assert event.header_id in page
    assert "HTTP 503" in page
