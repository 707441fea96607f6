"""The CIS side of the domain: who the customers are and what they are metered on."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from customers.validators import (
    validate_country,
    validate_currency,
    validate_interval_seconds,
    validate_locale,
    validate_timezone,
)


class Utility(models.Model):
    """A tenant: a utility whose OIDC ID tokens log its customers in."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    issuer = models.CharField(max_length=500, unique=True, help_text="The `iss` of its ID tokens.")
    audience = models.CharField(max_length=500, help_text="The `aud` its ID tokens carry for us.")
    jwks = models.JSONField(null=True, blank=True, help_text="JWKS given as a file.")
    jwks_url = models.URLField(max_length=500, blank=True, help_text="JWKS fetched and cached.")
    currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    # Only for a utility this install signs for itself (the demo); never shown or logged.
    private_key_pem = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "utilities"
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class UtilityStaff(models.Model):
    """Ties a Django staff user to the one utility whose data they may see in the admin."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="utility_staff"
    )
    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="staff")

    class Meta:
        verbose_name = "utility staff member"

    def __str__(self) -> str:
        return f"{self.user} @ {self.utility}"


class Customer(models.Model):
    """The API principal: a utility's customer, named by the `sub` of their ID token."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="customers")
    subject = models.CharField(max_length=255)
    display_name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    billing_currency = models.CharField(max_length=3, validators=[validate_currency])
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    locale = models.CharField(max_length=35, default="en-US", validators=[validate_locale])
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["utility", "subject"], name="customer_subject_unique")
        ]
        ordering = ["utility", "subject"]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.subject})"

    # DRF treats request.user as authenticated through this flag.
    is_authenticated = True
    is_anonymous = False
    #: Set on the request's customer when a partner token acts for them: the accounts its
    #: grant covers (see ``selectors.account_scope``). None: every one of theirs.
    granted_account_ids: frozenset[uuid.UUID] | None = None


class Tariff(models.Model):
    """A price plan; rates are matched first-listed-first on an interval's local start."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="tariffs")
    code = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, validators=[validate_currency])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["utility", "code"], name="tariff_code_unique")
        ]
        ordering = ["utility", "code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"

    @property
    def time_of_use(self) -> bool:
        """More than one price in play means the price depends on when energy is used."""
        return len({rate.price for rate in self.rates.all()}) > 1


class Weekday(models.IntegerChoices):
    """Bit values for TariffRate.weekdays; ISO order (Monday first)."""

    MON = 1 << 0
    TUE = 1 << 1
    WED = 1 << 2
    THU = 1 << 3
    FRI = 1 << 4
    SAT = 1 << 5
    SUN = 1 << 6


ALL_WEEKDAYS = sum(Weekday.values)


class TariffRate(models.Model):
    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="rates")
    position = models.PositiveSmallIntegerField(help_text="Match order: first listed wins.")
    price = models.DecimalField(max_digits=12, decimal_places=6, validators=[MinValueValidator(0)])
    weekdays = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(ALL_WEEKDAYS)],
        help_text="Bit mask of ISO weekdays (Monday = 1, Sunday = 64).",
    )
    from_hour = models.PositiveSmallIntegerField(validators=[MaxValueValidator(23)])
    to_hour = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(24)]
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tariff", "position"], name="tariff_rate_position"),
            models.CheckConstraint(
                condition=models.Q(from_hour__lt=models.F("to_hour")), name="tariff_rate_hours"
            ),
        ]
        ordering = ["tariff", "position"]

    def __str__(self) -> str:
        return f"{self.price} {self.from_hour:02d}-{self.to_hour:02d}h"

    def applies(self, iso_weekday: int, hour: int) -> bool:
        """Whether this rate prices an interval starting at local ``hour`` on ``iso_weekday``."""
        return bool(self.weekdays & (1 << (iso_weekday - 1))) and (
            self.from_hour <= hour < self.to_hour
        )


class AccountStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    SUSPENDED = "SUSPENDED", "Suspended"
    CLOSED = "CLOSED", "Closed"


class Account(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="accounts")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="accounts")
    account_number = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=AccountStatus.choices)
    billing_cycle_day = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(31)],
        help_text="Day of month a billing period starts (clamped to the month's last day).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "account_number"], name="account_number_unique"
            )
        ]
        ordering = ["account_number"]

    def __str__(self) -> str:
        return self.account_number

    @property
    def masked_number(self) -> str:
        """Only the last four characters show; the rest are bullets of the same length."""
        visible = self.account_number[-4:]
        return "•" * max(0, len(self.account_number) - 4) + visible


class HomeType(models.TextChoices):
    DETACHED = "DETACHED", "Detached"
    SEMI_DETACHED = "SEMI_DETACHED", "Semi-detached"
    TERRACED = "TERRACED", "Terraced"
    APARTMENT = "APARTMENT", "Apartment"
    MOBILE = "MOBILE", "Mobile home"
    OTHER = "OTHER", "Other"


class Premise(models.Model):
    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="premise")
    address_line1 = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, validators=[validate_country])
    floor_area_sqm = models.PositiveIntegerField(null=True, blank=True)
    home_type = models.CharField(max_length=16, choices=HomeType.choices, default=HomeType.OTHER)
    weather_region = models.CharField(
        max_length=32, blank=True, help_text="Key into weather data (import_weather's region)."
    )

    def __str__(self) -> str:
        return f"{self.address_line1}, {self.city}"


class ServiceType(models.TextChoices):
    ELECTRIC = "ELECTRIC", "Electricity"
    GAS = "GAS", "Gas"
    WATER = "WATER", "Water"


class ReadResolution(models.TextChoices):
    """How often a meter is read (contract section 10.2)."""

    INTERVAL = "INTERVAL", "Interval (every intervalSeconds)"
    BILLING = "BILLING", "Billing read (one reading per read period)"


class Meter(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="meters")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="meters")
    meter_number = models.CharField(max_length=64)
    service_type = models.CharField(max_length=16, choices=ServiceType.choices)
    unit_of_measure = models.CharField(max_length=16)
    read_resolution = models.CharField(
        max_length=8,
        choices=ReadResolution.choices,
        default=ReadResolution.INTERVAL,
        help_text="INTERVAL: one reading per interval_seconds. BILLING: one reading per read "
        "period of any length (many gas and water meters).",
    )
    interval_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[validate_interval_seconds],
        help_text="Length of every reading; null for a billing-read meter.",
    )
    bidirectional = models.BooleanField(
        default=False,
        help_text="Records energy both ways: DELIVERED (grid to customer) and RECEIVED "
        "(customer to grid, e.g. rooftop solar).",
    )
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    tariff = models.ForeignKey(
        Tariff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="meters",
        help_text="The tariff now (the last entry of its history, if it has one).",
    )
    export_tariff = models.ForeignKey(
        Tariff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="export_meters",
        help_text="What RECEIVED energy earns now; none: the meter's tariff (net metering).",
    )
    # Maintained by the readings import: start of the first reading, end of the last.
    first_reading_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_reading_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["utility", "meter_number"], name="meter_number_unique")
        ]
        ordering = ["meter_number"]

    def __str__(self) -> str:
        return self.meter_number

    @property
    def billing_read(self) -> bool:
        """Read once per read period, with no interval (contract section 10.2)."""
        return self.read_resolution == ReadResolution.BILLING

    def clean(self) -> None:
        """What the CIS import also refuses (contract section 10): an interval exactly for
        INTERVAL meters, an export tariff only on a bidirectional meter, and no other read
        resolution once the meter has readings."""
        errors = {}
        if self.read_resolution == ReadResolution.BILLING and self.interval_seconds is not None:
            errors["interval_seconds"] = "Must be empty for a billing-read meter."
        elif self.read_resolution == ReadResolution.INTERVAL and self.interval_seconds is None:
            errors["interval_seconds"] = "Required for an interval meter."
        if self.export_tariff_id is not None and not self.bidirectional:
            errors["export_tariff"] = "Only a bidirectional meter exports."
        if self.first_reading_at is not None:
            stored = Meter.objects.filter(pk=self.pk).values_list("read_resolution", flat=True)
            if stored and stored[0] != self.read_resolution:
                errors["read_resolution"] = f"The meter has readings: it stays {stored[0]}."
        if errors:
            raise ValidationError(errors)


class TariffPeriod(models.Model):
    """One entry of a meter's tariff history: ``tariff`` is in force from local date
    ``valid_from`` (in the meter's timezone) until the next entry's. The first entry also
    covers everything before it; a null ``valid_from`` (only on a first entry) means the
    tariff the meter had before any recorded change. ``export`` entries price RECEIVED energy.

    A meter with no entries is priced by ``Meter.tariff`` (and ``export_tariff``) for all time.
    """

    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="tariff_periods")
    export = models.BooleanField(
        default=False, help_text="An entry of the export tariff history (RECEIVED energy)."
    )
    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateField(
        null=True, blank=True, help_text="Local date it applies from; empty: since the start."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["meter", "export", "valid_from"],
                condition=models.Q(valid_from__isnull=False),
                name="tariff_period_once",
            ),
            # One "since the start" entry per history (partial: SQLite has no NULLS NOT DISTINCT).
            models.UniqueConstraint(
                fields=["meter", "export"],
                condition=models.Q(valid_from__isnull=True),
                name="tariff_period_one_first",
            ),
        ]
        ordering = ["meter", "export", models.F("valid_from").asc(nulls_first=True)]

    def __str__(self) -> str:
        since = self.valid_from.isoformat() if self.valid_from else "the start"
        return f"{self.meter_id}: {self.tariff_id} from {since}"


class UsedIdentityToken(models.Model):
    """An ID token already exchanged, remembered until it expires so a replay is refused."""

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE)
    token_key = models.CharField(max_length=128, help_text="`jti`, or a hash of the token.")
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["utility", "token_key"], name="identity_token_once")
        ]

    def __str__(self) -> str:
        return f"used ID token until {self.expires_at:%Y-%m-%d %H:%M}"


class IssuedRefreshToken(models.Model):
    """Our refresh tokens by `jti`: rotation and logout revoke them (our own denylist)."""

    jti = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="refresh_tokens")
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"refresh token of {self.customer_id} until {self.expires_at:%Y-%m-%d %H:%M}"
