"""Django admin for utility staff: each staff user sees only their own utility's data.

A staff user is tied to one utility by :class:`UtilityStaff`; superusers see every utility. A
staff user with no utility sees nothing rather than everything. Signing keys are never shown
and the token tables are not registered at all.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Model, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from customers.history import meters_priced_by
from customers.models import (
    Account,
    Customer,
    Meter,
    Premise,
    Tariff,
    TariffPeriod,
    TariffRate,
    Utility,
    UtilityStaff,
)
from customers.signals import METER_BASIS_FIELDS, meters_basis_changed


def _staff_utility_id(request: HttpRequest) -> UUID | None:
    """The utility a (non-superuser) staff user works for; None if they belong to none.

    Remembered on the request: a change form asks once per foreign-key field.
    """
    if not hasattr(request, "_staff_utility_id"):
        request._staff_utility_id = (
            UtilityStaff.objects.filter(user=request.user)
            .values_list("utility_id", flat=True)
            .first()
        )
    return request._staff_utility_id


# How each model reaches its utility, for filtering rows and foreign-key choices.
_UTILITY_PATHS: dict[type[Model], str] = {
    Utility: "pk",
    Customer: "utility",
    Account: "utility",
    Meter: "utility",
    Tariff: "utility",
    Premise: "account__utility",
    TariffRate: "tariff__utility",
    TariffPeriod: "meter__utility",
}


def register_utility_path(model: type[Model], path: str) -> None:
    """Lets another app's admin scope ``model`` by the lookup that leads to its utility."""
    _UTILITY_PATHS[model] = path


def _scoped(queryset: QuerySet, request: HttpRequest) -> QuerySet:
    if request.user.is_superuser:
        return queryset
    utility_id = _staff_utility_id(request)
    if utility_id is None:
        return queryset.none()
    return queryset.filter(**{_UTILITY_PATHS[queryset.model]: utility_id})


class UtilityScopedMixin:
    """Rows and foreign-key choices limited to the staff user's utility."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return _scoped(super().get_queryset(request), request)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        related = db_field.related_model
        if related in _UTILITY_PATHS:
            kwargs["queryset"] = _scoped(related._default_manager.all(), request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ScopedModelAdmin(UtilityScopedMixin, admin.ModelAdmin):
    # Customer-scale tables: never count every row just to print a total.
    show_full_result_count = False

    def get_list_filter(self, request: HttpRequest):
        """The utility filter would list every utility's name, so superusers only get it."""
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        return [f for f in filters if f != "utility"]


class SuperuserWritesMixin:
    """Only superusers add, change or delete these rows; staff may at most look."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


class SuperusersOnlyMixin(SuperuserWritesMixin):
    """Only superusers see these at all (staff do not even get the menu entry)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


class NoAddOrChangeMixin:
    """Rows that only our services write (imports, workers, the API): the admin shows them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


#: Meter form fields whose change alters its rollups (tariffs: over the whole span too, the
#: admin does not work out from which date).
_METER_BASIS_FORM_FIELDS = {*METER_BASIS_FIELDS, "tariff", "export_tariff"}


class MeterBasisMixin:
    """Announces a save that changed what meters' rollups are computed from (a meter's tariff,
    export tariff, tariff history, time zone or interval, a tariff's rates, an account's
    billing cycle day), inlines included, so usage recomputes the whole span of each
    (:data:`customers.signals.meter_basis_changed`)."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        meter_ids, accounts, tariffs = set(), set(), set()
        for each in [form, *(inline for formset in formsets for inline in formset.forms)]:
            instance, changed = each.instance, set(each.changed_data)
            if isinstance(instance, Meter) and changed & _METER_BASIS_FORM_FIELDS:
                meter_ids.add(instance.pk)
            elif isinstance(instance, Account) and "billing_cycle_day" in changed:
                accounts.add(instance.pk)
        for formset in formsets:
            if formset.model is TariffRate and formset.has_changed():
                tariffs.add(formset.instance.pk)
            elif formset.model is TariffPeriod and formset.has_changed():
                meter_ids.add(formset.instance.pk)
        meter_ids.update(
            meters_priced_by(tariffs).values_list("pk", flat=True),
            Meter.objects.filter(account_id__in=accounts).values_list("pk", flat=True),
        )
        meters_basis_changed(sender=type(form.instance), meter_ids=meter_ids)


@admin.register(Utility)
class UtilityAdmin(SuperuserWritesMixin, UtilityScopedMixin, admin.ModelAdmin):
    """Registering utilities and their keys is an operator's job (add_utility), not staff's."""

    list_display = ["slug", "name", "issuer", "audience", "currency", "timezone", "signs_tokens"]
    search_fields = ["slug", "name", "issuer"]
    # private_key_pem is not editable, so it is in no form; it must not be listed either.
    fields = ["slug", "name", "issuer", "audience", "jwks", "jwks_url", "currency", "timezone"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(boolean=True, description="signs its own tokens")
    def signs_tokens(self, utility: Utility) -> bool:
        return bool(utility.private_key_pem)


@admin.register(UtilityStaff)
class UtilityStaffAdmin(SuperusersOnlyMixin, admin.ModelAdmin):
    """Who works for which utility: managed by superusers only."""

    list_display = ["user", "utility"]
    list_select_related = ["user", "utility"]
    search_fields = ["user__username", "utility__slug"]
    autocomplete_fields = ["user", "utility"]


# Django's own users and groups: a staff user granted the auth permissions could otherwise
# make themselves a superuser, or a member of another utility's staff. Superusers only.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class SuperusersOnlyUserAdmin(SuperusersOnlyMixin, UserAdmin):
    pass


@admin.register(Group)
class SuperusersOnlyGroupAdmin(SuperusersOnlyMixin, GroupAdmin):
    pass


class AccountInline(UtilityScopedMixin, admin.TabularInline):
    model = Account
    fields = ["account_number", "status", "billing_cycle_day", "utility"]
    extra = 0
    show_change_link = True


@admin.register(Customer)
class CustomerAdmin(MeterBasisMixin, ScopedModelAdmin):
    list_display = ["subject", "display_name", "email", "utility", "billing_currency", "active"]
    list_select_related = ["utility"]
    list_filter = ["active", "utility"]
    search_fields = [
        "=subject",
        "display_name",
        "email",
        "=accounts__account_number",
        "=accounts__meters__meter_number",
    ]
    search_help_text = "Subject, name, e-mail, or an exact account or meter number."
    readonly_fields = ["created_at", "updated_at"]
    inlines = [AccountInline]


class PremiseInline(admin.StackedInline):
    model = Premise
    can_delete = False


class MeterInlineFormSet(BaseInlineFormSet):
    """A meter with a tariff history changes tariff on its own page, together with the history
    (whose last entry is the tariff now)."""

    def clean(self) -> None:
        super().clean()
        changed = [
            form
            for form in self.forms
            if "tariff" in form.changed_data and not form.instance._state.adding
        ]
        with_history = set(
            TariffPeriod.objects.filter(
                meter__in=[form.instance.pk for form in changed], export=False
            ).values_list("meter_id", flat=True)
        )
        for form in changed:
            if form.instance.pk in with_history:
                form.add_error(
                    "tariff",
                    "This meter has a tariff history: change its tariff on the meter's page, "
                    "with the history.",
                )


class MeterInline(UtilityScopedMixin, admin.TabularInline):
    model = Meter
    formset = MeterInlineFormSet
    fields = [
        "meter_number",
        "service_type",
        "unit_of_measure",
        "read_resolution",
        "interval_seconds",
        "bidirectional",
        "timezone",
        "tariff",
        "utility",
    ]
    extra = 0
    show_change_link = True


@admin.register(Account)
class AccountAdmin(MeterBasisMixin, ScopedModelAdmin):
    list_display = ["account_number", "customer", "status", "billing_cycle_day", "utility"]
    list_select_related = ["customer", "utility"]
    list_filter = ["status", "utility"]
    search_fields = ["=account_number", "=customer__subject"]
    autocomplete_fields = ["customer"]
    inlines = [PremiseInline, MeterInline]


class TariffHistoryFormSet(BaseInlineFormSet):
    """A meter's tariff histories as the contract has them (section 10.3): each ends on the
    meter's tariff now (``tariff``, or ``export_tariff`` for the export history), and only a
    first entry may have no date."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data.get("tariff") and not form.cleaned_data.get("DELETE")
        ]
        for export, field in ((False, "tariff"), (True, "export_tariff")):
            entries = sorted(
                (data for data in kept if bool(data.get("export")) == export),
                key=lambda data: data.get("valid_from") or date.min,
            )
            if not entries:
                continue
            if any(data.get("valid_from") is None for data in entries[1:]):
                raise ValidationError("Only the first entry of a history may have no date.")
            now = getattr(self.instance, field)
            if entries[-1]["tariff"] != now:
                label = Meter._meta.get_field(field).verbose_name
                raise ValidationError(
                    f"The last entry of the {'export ' if export else ''}tariff history is the "
                    f"tariff now: it must be the meter's {label} ({now or 'none'})."
                )


class TariffPeriodInline(UtilityScopedMixin, admin.TabularInline):
    """The meter's tariff history and export tariff history (``export`` ticked)."""

    model = TariffPeriod
    formset = TariffHistoryFormSet
    fields = ["export", "tariff", "valid_from"]
    extra = 0
    verbose_name = "tariff history entry"
    verbose_name_plural = "tariff history (from a local date until the next entry)"


@admin.register(Meter)
class MeterAdmin(MeterBasisMixin, ScopedModelAdmin):
    list_display = [
        "meter_number",
        "account",
        "service_type",
        "unit_of_measure",
        "read_resolution",
        "interval_seconds",
        "bidirectional",
        "timezone",
        "tariff",
        "last_reading_at",
    ]
    list_select_related = ["account", "tariff"]
    list_filter = ["service_type", "read_resolution", "bidirectional", "utility"]
    search_fields = ["=meter_number", "=account__account_number"]
    autocomplete_fields = ["account"]
    readonly_fields = ["first_reading_at", "last_reading_at"]
    inlines = [TariffPeriodInline]


class TariffRateInline(admin.TabularInline):
    model = TariffRate
    extra = 0


@admin.register(Tariff)
class TariffAdmin(MeterBasisMixin, ScopedModelAdmin):
    list_display = ["code", "name", "currency", "utility"]
    list_select_related = ["utility"]
    list_filter = ["utility"]
    search_fields = ["code", "name"]
    inlines = [TariffRateInline]
