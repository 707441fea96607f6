"""Partner apps, the consents customers give them, and the webhooks they are sent.

django-oauth-toolkit (``oauth2_provider``) is the authorization server: a partner's OAuth
client is its ``Application`` (hashed secret), its tokens are DOT's ``AccessToken`` and
``RefreshToken``. What DOT does not know lives here: which utility a partner belongs to,
what each customer granted it (scopes and accounts) and which consent a token acts under.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from oauth2_provider.models import AbstractGrant
from oauth2_provider.settings import oauth2_settings

from customers.models import Account, Customer, Utility


class Partner(models.Model):
    """A partner app of one utility: a confidential OAuth client with an optional webhook."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="partners")
    name = models.CharField(max_length=200)
    # Its OAuth client. DOT files every token under a Django user: the client's own
    # ``user``, an inactive account that stands for the partner (customers are no users).
    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.PROTECT, related_name="partner"
    )
    webhook_url = models.URLField(max_length=500, blank=True)
    # The Standard Webhooks signing secret (``whsec_…``): kept in clear because signing needs
    # it; never shown by the admin or logged (add_partner prints it once).
    webhook_secret = models.CharField(max_length=100, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["utility", "name"], name="partner_name_unique")
        ]
        ordering = ["utility", "name"]

    def __str__(self) -> str:
        return self.name


class Authorization(models.Model):
    """A customer's consent: ``partner`` may act for them within ``scope`` on ``accounts``.

    Its ``id`` is also the Green Button Connect My Data ``subscriptionId``. Revoking it ends
    every token issued under it at once.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="authorizations")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="partner_authorizations"
    )
    scope = models.CharField(max_length=200, help_text="Space-separated OAuth scopes.")
    accounts = models.ManyToManyField(Account, related_name="partner_authorizations")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["customer", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.partner} for {self.customer}"

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())


class AuthorizationCode(AbstractGrant):
    """DOT's authorization code (``OAUTH2_PROVIDER_GRANT_MODEL``), tied to the consent it came
    from. Kept after its exchange (``used_at``) so a second use is recognised and revokes
    what the first issued (RFC 6749 section 4.1.2)."""

    authorization = models.ForeignKey(Authorization, on_delete=models.CASCADE, related_name="codes")
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code of {self.authorization_id}"


class AuthorizationToken(models.Model):
    """Which consent a DOT access token acts under (one row per issued access token)."""

    authorization = models.ForeignKey(
        Authorization, on_delete=models.CASCADE, related_name="tokens"
    )
    access_token = models.OneToOneField(
        oauth2_settings.ACCESS_TOKEN_MODEL, on_delete=models.CASCADE, related_name="partner_link"
    )

    def __str__(self) -> str:
        return f"token of {self.authorization_id}"


class WebhookEventStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    DELIVERED = "DELIVERED", "Delivered"
    FAILED = "FAILED", "Failed (gave up after the last retry)"
    CANCELLED = "CANCELLED", "Cancelled (grant revoked or webhook removed)"


class WebhookEvent(models.Model):
    """One event for one partner: the outbox row, written in the transaction of what caused
    it. Workers deliver it at least once, in ``id`` order per (partner, ``ordering_key``)."""

    # The id orders a queue: events of one meter are written under its rollup lock, so ids
    # follow the order they happened in.
    webhook_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="webhook_events")
    authorization = models.ForeignKey(
        Authorization, on_delete=models.CASCADE, related_name="webhook_events"
    )
    type = models.CharField(max_length=40)
    ordering_key = models.CharField(
        max_length=80, help_text="Delivered in order per key: 'meter:<id>' or 'account:<id>'."
    )
    data = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=10, choices=WebhookEventStatus.choices, default=WebhookEventStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="PENDING"),
                name="webhook_event_due",
            ),
            models.Index(fields=["partner", "ordering_key", "status", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.header_id}"

    @property
    def header_id(self) -> str:
        """The ``webhook-id`` header: the same on every attempt of this event."""
        return f"evt_{self.webhook_id.hex}"


class WebhookAttempt(models.Model):
    """One POST of an event: what the receiver answered, or why there was no answer."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="attempts_log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    duration_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ["event", "attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.attempted_at:%Y-%m-%d %H:%M:%S}"
