"""Partner access in the Django admin, scoped to the staff user's utility.

Partners are shown without any secret (the client secret is hashed, the webhook secret is not
in any form); django-oauth-toolkit's own token and client tables are not registered at all.
Staff revoke a customer's grant with an action (its tokens die at once) and see every webhook
delivery with its attempts.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from customers.admin import NoAddOrChangeMixin, ScopedModelAdmin, register_utility_path
from partners.models import Authorization, Partner, WebhookAttempt, WebhookEvent
from partners.services import authorization_revoke

for model in (
    get_application_model(),
    get_access_token_model(),
    get_refresh_token_model(),
    get_id_token_model(),
    get_grant_model(),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)

register_utility_path(Partner, "utility")
register_utility_path(Authorization, "partner__utility")
register_utility_path(WebhookEvent, "partner__utility")


@admin.register(Partner)
class PartnerAdmin(NoAddOrChangeMixin, ScopedModelAdmin):
    """Registered with add_partner (which prints the secrets once); read-only here."""

    list_display = ["name", "utility", "client_id", "webhook_url", "created_at"]
    list_select_related = ["utility", "application"]
    list_filter = ["utility"]
    search_fields = ["name", "=application__client_id"]
    fields = ["name", "utility", "client_id", "redirect_uris", "webhook_url", "created_at"]
    readonly_fields = fields

    @admin.display(description="client id")
    def client_id(self, partner: Partner) -> str:
        return partner.application.client_id

    @admin.display(description="redirect URIs")
    def redirect_uris(self, partner: Partner) -> str:
        return partner.application.redirect_uris


@admin.register(Authorization)
class AuthorizationAdmin(NoAddOrChangeMixin, ScopedModelAdmin):
    """Customers' grants to partners; search by the customer's subject to see theirs."""

    list_display = ["customer", "partner", "scope", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["customer", "partner"]
    list_filter = ["partner", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["=customer__subject", "partner__name"]
    fields = [
        "id",
        "customer",
        "partner",
        "scope",
        "accounts",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # revoke instead: it keeps the record of what was granted

    @admin.action(description="Revoke the selected grants (their tokens stop at once)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Authorization]) -> None:
        grants = list(queryset.filter(revoked_at=None))
        for grant in grants:
            authorization_revoke(authorization=grant)
        self.message_user(request, f"Revoked {len(grants)} grant(s).", messages.SUCCESS)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["attempted_at", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(NoAddOrChangeMixin, ScopedModelAdmin):
    """Every delivery (one event to one partner) and each of its attempts."""

    list_display = ["header_id", "type", "partner", "status", "attempts", "created_at"]
    list_select_related = ["partner"]
    list_filter = ["status", "type", "partner"]
    search_fields = ["=webhook_id", "ordering_key"]
    fields = [
        "header_id",
        "type",
        "partner",
        "authorization",
        "ordering_key",
        "data",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    ]
    readonly_fields = fields
    inlines = [WebhookAttemptInline]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
