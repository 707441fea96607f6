"""Import of a utility's CIS extract: customers, accounts, premises, meters and tariffs.

The format is the ``import_customers`` JSON of the contract (section 8). The whole document is
checked before anything is written and the writes share one transaction, so a file is applied
entirely or not at all. A row is written only where a value differs, so importing the same file
again changes nothing, not even ``updated_at``.

Each record the file names is described completely by it: an optional key left out takes its
default, as if the record were new. Records the file does not name are left as they are. The
one exception is a meter's tariff history (contract section 10.3): a file without one keeps
the stored history, extended from the import's local date when the meter's tariff changed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from customers.history import (
    SINCE_ALWAYS,
    Schedule,
    first_difference,
    meter_entries,
    meters_priced_by,
    schedule,
)
from customers.models import (
    Account,
    AccountStatus,
    Customer,
    Meter,
    Premise,
    ReadResolution,
    Tariff,
    TariffPeriod,
    TariffRate,
    Utility,
    Weekday,
)
from customers.signals import METER_BASIS_FIELDS, meters_basis_changed
from metadata.catalog import UNITS_OF_MEASURE, ServiceTypeCatalog

# A key the record lacks; "is required" has been reported already where it mattered.
_ABSENT = object()
_ERRORS_SHOWN = 5
_QUERY_CHUNK = 1000
_KINDS = ("tariffs", "customers", "accounts", "premises", "meters")

# JSON key -> model field, per record type.
_TARIFF_FIELDS = {"code": "code", "name": "name", "currency": "currency"}
_RATE_FIELDS = {"price": "price", "fromHour": "from_hour", "toHour": "to_hour"}
_CUSTOMER_FIELDS = {
    "subject": "subject",
    "displayName": "display_name",
    "email": "email",
    "billingCurrency": "billing_currency",
    "timezone": "timezone",
    "locale": "locale",
    "active": "active",
}
_ACCOUNT_FIELDS = {
    "accountNumber": "account_number",
    "status": "status",
    "billingCycleDay": "billing_cycle_day",
}
_PREMISE_FIELDS = {
    "addressLine1": "address_line1",
    "city": "city",
    "region": "region",
    "postalCode": "postal_code",
    "country": "country",
    "floorAreaSqm": "floor_area_sqm",
    "homeType": "home_type",
    "weatherRegion": "weather_region",
}
_METER_FIELDS = {
    "meterNumber": "meter_number",
    "serviceType": "service_type",
    "unitOfMeasure": "unit_of_measure",
    "readResolution": "read_resolution",
    "intervalSeconds": "interval_seconds",
    "bidirectional": "bidirectional",
    "timezone": "timezone",
}
#: A meter's tariff keys: (tariff key, its history's key, TariffPeriod.export).
_TARIFF_KEYS = (("tariff", "tariffHistory", False), ("exportTariff", "exportTariffHistory", True))
_HISTORY_KEYS = ("tariff", "from")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class CustomersImportInvalid(Exception):
    """The document was refused; ``errors`` names each bad record by its path in the file."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = "; ".join(errors[:_ERRORS_SHOWN])
        hidden = len(errors) - _ERRORS_SHOWN
        super().__init__(shown + (f" (and {hidden} more)" if hidden > 0 else ""))


@dataclass
class ImportResult:
    """Per kind of record, how many were created, updated or left unchanged."""

    utility: str
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def summary(self) -> str:
        return f"{self.utility}: " + "; ".join(
            f"{kind} {self.counts[kind, 'created']} created, "
            f"{self.counts[kind, 'updated']} updated, {self.counts[kind, 'unchanged']} unchanged"
            for kind in _KINDS
        )


@dataclass
class _Row:
    path: str
    values: dict[str, Any]


@dataclass
class _TariffRow(_Row):
    rates: list[tuple[Decimal, int, int, int]]


#: A tariff history as the file gives it: ``(from, tariff code)`` entries, ascending.
_History = list[tuple[date | None, str]]


@dataclass
class _MeterRow(_Row):
    #: Per channel (False: the tariff, True: the export tariff): its code, or None.
    codes: dict[bool, str | None]
    #: Per channel: the history the file gives, or None when it gives none.
    histories: dict[bool, _History | None]
    #: The import's local date in the meter's time zone (None when that zone is invalid).
    today: date | None


@dataclass
class _AccountRow(_Row):
    premise: dict[str, Any]
    meters: list[_MeterRow]


@dataclass
class _CustomerRow(_Row):
    accounts: list[_AccountRow]


@dataclass
class _Plan:
    utility: Utility
    tariffs: list[_TariffRow]
    customers: list[_CustomerRow]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _json_type(model_field: models.Field) -> tuple[tuple[type, ...], str]:
    if isinstance(model_field, models.BooleanField):
        return (bool,), "a boolean"
    if isinstance(model_field, models.IntegerField):
        return (int,), "an integer"
    if isinstance(model_field, models.DecimalField):
        return (str, int, float, Decimal), 'a decimal such as "0.31"'
    return (str,), "a string"


def _field_value(model_field: models.Field, raw: Any) -> Any:
    """``raw`` checked by the model field's own rules (length, choices, validators)."""
    if raw is None:
        if model_field.null:
            return None
        raise ValidationError("must not be null")
    types, description = _json_type(model_field)
    if not isinstance(raw, types) or (isinstance(raw, bool) and bool not in types):
        raise ValidationError(f"must be {description}")
    if model_field.choices and raw not in dict(model_field.choices):
        raise ValidationError(f"must be one of {', '.join(dict(model_field.choices))}")
    if isinstance(raw, float):
        raw = str(raw)  # the number as written, not its binary approximation
    return model_field.clean(raw, None)


class _Reader:
    """Reads the document, collecting every problem prefixed with the path of its record."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        #: The instant the import happens at: what "today" is in each meter's time zone.
        self.now: datetime = timezone.now()

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def record(
        self,
        raw: Any,
        path: str,
        model: type[models.Model],
        fields: dict[str, str],
        *,
        required: Iterable[str],
        children: Iterable[str] = (),
        defaults: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Model values of one JSON object (defaults for absent keys) and its child values."""
        if not isinstance(raw, dict):
            self.error(path, "must be an object")
            return {}, {}
        children = set(children)
        for key in raw:
            if key not in fields and key not in children:
                self.error(_join(path, key), "unknown key")
        for key in required:
            if key not in raw:
                self.error(_join(path, key), "is required")
        values: dict[str, Any] = {}
        for key, name in fields.items():
            model_field = model._meta.get_field(name)
            if key not in raw:
                values[name] = (defaults or {}).get(name, model_field.get_default())
                continue
            try:
                values[name] = _field_value(model_field, raw[key])
            except ValidationError as exc:
                self.error(_join(path, key), "; ".join(exc.messages))
        return values, {key: raw[key] for key in children if key in raw}

    def items(self, raw: Any, path: str, *, nonempty: bool = False) -> Iterator[tuple[str, Any]]:
        """Each element of a list with its path; nothing for an absent (already reported) key."""
        if raw is _ABSENT:
            return
        if not isinstance(raw, list):
            self.error(path, "must be a list")
            return
        if nonempty and not raw:
            self.error(path, "must not be empty")
        for index, item in enumerate(raw):
            yield f"{path}[{index}]", item

    def unique(self, seen: dict[str, str], value: Any, path: str, what: str) -> None:
        if not isinstance(value, str):
            return
        if value in seen:
            self.error(path, f"duplicate {what} {value!r} (first at {seen[value]})")
        else:
            seen[value] = path


def _weekdays(reader: _Reader, raw: Any, path: str) -> int:
    """The bit mask of a rate's ``days`` list (``["MON", "TUE"]``)."""
    mask = 0
    for day_path, day in reader.items(raw, path, nonempty=True):
        if not isinstance(day, str) or day not in Weekday.names:
            reader.error(day_path, f"must be one of {', '.join(Weekday.names)}")
        elif mask & Weekday[day]:
            reader.error(day_path, f"duplicate day {day!r}")
        else:
            mask |= Weekday[day]
    return mask


def _read_tariff(reader: _Reader, raw: Any, path: str) -> _TariffRow:
    values, children = reader.record(
        raw,
        path,
        Tariff,
        _TARIFF_FIELDS,
        required=["code", "name", "currency", "rates"],
        children=["rates"],
    )
    rates = []
    rates_raw = children.get("rates", _ABSENT)
    for rate_path, rate_raw in reader.items(rates_raw, f"{path}.rates", nonempty=True):
        rate, rate_children = reader.record(
            rate_raw,
            rate_path,
            TariffRate,
            _RATE_FIELDS,
            required=["price", "days", "fromHour", "toHour"],
            children=["days"],
        )
        weekdays = _weekdays(reader, rate_children.get("days", _ABSENT), f"{rate_path}.days")
        start, end = rate.get("from_hour"), rate.get("to_hour")
        if start is not None and end is not None and start >= end:
            reader.error(f"{rate_path}.toHour", f"must be greater than fromHour ({start})")
        rates.append((rate.get("price"), weekdays, start, end))
    return _TariffRow(path, values, rates)


def _read_history(reader: _Reader, raw: Any, path: str, today: date | None) -> _History:
    """A ``tariffHistory`` list: ``{"tariff": CODE, "from": "YYYY-MM-DD"}`` entries, ``from``
    strictly ascending, not after ``today`` and null only on the first entry."""
    entries: _History = []
    for entry_path, entry in reader.items(raw, path, nonempty=True):
        if not isinstance(entry, dict):
            reader.error(entry_path, "must be an object")
            continue
        for key in entry:
            if key not in _HISTORY_KEYS:
                reader.error(_join(entry_path, key), "unknown key")
        for key in _HISTORY_KEYS:
            if key not in entry:
                reader.error(_join(entry_path, key), "is required")
        code, raw_from = entry.get("tariff"), entry.get("from")
        if "tariff" in entry and not isinstance(code, str):
            reader.error(f"{entry_path}.tariff", "must be a tariff code (a string)")
        valid_from = None
        if raw_from is None:
            if entries and "from" in entry:
                reader.error(f"{entry_path}.from", "may be null only on the first entry")
        elif not isinstance(raw_from, str) or not _DATE.fullmatch(raw_from):
            reader.error(f"{entry_path}.from", 'must be a date "YYYY-MM-DD"')
        else:
            try:
                valid_from = date.fromisoformat(raw_from)
            except ValueError:
                reader.error(f"{entry_path}.from", f"{raw_from!r} is not a date")
        if valid_from is not None:
            previous = entries[-1][0] if entries else None
            if previous is not None and valid_from <= previous:
                reader.error(
                    f"{entry_path}.from", f"must be after the previous entry's ({previous})"
                )
            elif today is not None and valid_from > today:
                reader.error(
                    f"{entry_path}.from",
                    f"must not be after today ({today} in the meter's time zone): "
                    "the last entry is the tariff now",
                )
        entries.append((valid_from, code))
    return entries


def _read_tariffs(reader: _Reader, children: dict[str, Any], path: str, row: _MeterRow) -> None:
    """The meter's tariff and export tariff codes and the histories the file gives of them."""
    for key, history_key, export in _TARIFF_KEYS:
        code = children.get(key)
        if code is not None and not isinstance(code, str):
            reader.error(f"{path}.{key}", "must be a tariff code (a string) or null")
            code = None
        row.codes[export] = code
        if history_key not in children:
            continue
        history = _read_history(reader, children[history_key], f"{path}.{history_key}", row.today)
        row.histories[export] = history
        if history and history[-1][1] != code:
            reader.error(
                f"{path}.{history_key}",
                f"the last entry must be the meter's {key} ({code!r}): it is the tariff now",
            )
    if row.codes[True] is not None and not row.values.get("bidirectional"):
        reader.error(
            f"{path}.exportTariff", 'needs "bidirectional": true (only such a meter exports)'
        )


def _read_meter(reader: _Reader, raw: Any, path: str, customer: dict[str, Any]) -> _MeterRow:
    values, children = reader.record(
        raw,
        path,
        Meter,
        _METER_FIELDS,
        required=["meterNumber", "serviceType"],
        children=[key for keys in _TARIFF_KEYS for key in keys[:2]],
        defaults={"unit_of_measure": None, "timezone": customer.get("timezone")},
    )
    resolution = values.get("read_resolution")
    interval = values.get("interval_seconds", _ABSENT)  # absent: reported as invalid already
    if resolution == ReadResolution.BILLING and interval not in (None, _ABSENT):
        reader.error(f"{path}.intervalSeconds", "must be null or absent for a BILLING meter")
    elif resolution == ReadResolution.INTERVAL and interval is None:
        reader.error(f"{path}.intervalSeconds", "is required for an INTERVAL meter")
    service_type = values.get("service_type")
    if values.get("unit_of_measure") is None and service_type:
        values["unit_of_measure"] = ServiceTypeCatalog[service_type].value.default_unit
    unit = values.get("unit_of_measure")
    if unit is not None and service_type:
        info = UNITS_OF_MEASURE.get(unit)
        if info is None:
            reader.error(f"{path}.unitOfMeasure", f"must be one of {', '.join(UNITS_OF_MEASURE)}")
        elif service_type not in info.service_types:
            reader.error(
                f"{path}.unitOfMeasure", f"{unit!r} does not measure {service_type} service"
            )
    zone = values.get("timezone")
    today = reader.now.astimezone(ZoneInfo(zone)).date() if zone else None
    row = _MeterRow(path, values, {}, {False: None, True: None}, today)
    _read_tariffs(reader, children, path, row)
    return row


def _read_account(
    reader: _Reader, raw: Any, path: str, customer: dict[str, Any], seen_meters: dict[str, str]
) -> _AccountRow:
    values, children = reader.record(
        raw,
        path,
        Account,
        _ACCOUNT_FIELDS,
        required=["accountNumber", "billingCycleDay", "premise"],
        children=["premise", "meters"],
        defaults={"status": AccountStatus.ACTIVE},
    )
    premise: dict[str, Any] = {}
    if "premise" in children:
        premise, _ = reader.record(
            children["premise"],
            f"{path}.premise",
            Premise,
            _PREMISE_FIELDS,
            required=["addressLine1", "city", "country"],
        )
    meters = []
    for meter_path, meter_raw in reader.items(children.get("meters", []), f"{path}.meters"):
        meter = _read_meter(reader, meter_raw, meter_path, customer)
        reader.unique(
            seen_meters, meter.values.get("meter_number"), f"{meter_path}.meterNumber", "meter"
        )
        meters.append(meter)
    return _AccountRow(path, values, premise, meters)


def _read(document: Any) -> _Plan:
    """The document checked on its own (and its utility looked up); raises on any problem."""
    if not isinstance(document, dict):
        raise CustomersImportInvalid(["document: must be a JSON object"])
    reader = _Reader()
    for key in document:
        if key not in ("utility", "tariffs", "customers"):
            reader.error(key, "unknown key")
    slug = document.get("utility")
    utility = Utility.objects.filter(slug=slug).first() if isinstance(slug, str) else None
    if utility is None:
        reader.error(
            "utility",
            f"unknown utility {slug!r} (register it with add_utility)"
            if isinstance(slug, str)
            else "is required: the slug of a registered utility",
        )
        raise CustomersImportInvalid(reader.errors)

    tariffs, seen_codes = [], {}
    for path, raw in reader.items(document.get("tariffs", []), "tariffs"):
        tariff = _read_tariff(reader, raw, path)
        reader.unique(seen_codes, tariff.values.get("code"), f"{path}.code", "tariff code")
        tariffs.append(tariff)

    customers: list[_CustomerRow] = []
    seen_subjects: dict[str, str] = {}
    seen_accounts: dict[str, str] = {}
    seen_meters: dict[str, str] = {}
    for path, raw in reader.items(document.get("customers", []), "customers"):
        values, children = reader.record(
            raw,
            path,
            Customer,
            _CUSTOMER_FIELDS,
            required=["subject", "displayName"],
            children=["accounts"],
            defaults={"billing_currency": utility.currency, "timezone": utility.timezone},
        )
        reader.unique(seen_subjects, values.get("subject"), f"{path}.subject", "subject")
        accounts = []
        for account_path, account_raw in reader.items(
            children.get("accounts", []), f"{path}.accounts"
        ):
            account = _read_account(reader, account_raw, account_path, values, seen_meters)
            reader.unique(
                seen_accounts,
                account.values.get("account_number"),
                f"{account_path}.accountNumber",
                "account",
            )
            accounts.append(account)
        customers.append(_CustomerRow(path, values, accounts))
    if reader.errors:
        raise CustomersImportInvalid(reader.errors)
    return _Plan(utility, tariffs, customers)


def _by_key(queryset: models.QuerySet, key: str, values: list[str]) -> dict[str, Any]:
    """Existing rows by their number, fetched in chunks to stay under database limits."""
    found = {}
    for start in range(0, len(values), _QUERY_CHUNK):
        for row in queryset.filter(**{f"{key}__in": values[start : start + _QUERY_CHUNK]}):
            found[getattr(row, key)] = row
    return found


@dataclass
class _Existing:
    tariffs: dict[str, Tariff]
    customers: dict[str, Customer]
    accounts: dict[str, Account]
    meters: dict[str, Meter]


def _load(plan: _Plan) -> _Existing:
    accounts = [a for c in plan.customers for a in c.accounts]
    meters = [m for a in accounts for m in a.meters]
    utility = plan.utility
    return _Existing(
        tariffs={
            t.code: t for t in Tariff.objects.filter(utility=utility).prefetch_related("rates")
        },
        customers=_by_key(
            Customer.objects.filter(utility=utility),
            "subject",
            [c.values["subject"] for c in plan.customers],
        ),
        accounts=_by_key(
            Account.objects.filter(utility=utility).select_related("customer", "premise"),
            "account_number",
            [a.values["account_number"] for a in accounts],
        ),
        meters=_by_key(
            Meter.objects.filter(utility=utility)
            .select_related("account__customer")
            .prefetch_related("tariff_periods"),
            "meter_number",
            [m.values["meter_number"] for m in meters],
        ),
    )


def _tariff_references(meter: _MeterRow) -> Iterator[tuple[str, str]]:
    """Each tariff code the meter names, with the key (path) it is named at."""
    for key, history_key, export in _TARIFF_KEYS:
        if meter.codes[export] is not None:
            yield key, meter.codes[export]
        for index, (_, code) in enumerate(meter.histories[export] or []):
            yield f"{history_key}[{index}].tariff", code


def _check(plan: _Plan, existing: _Existing) -> None:
    """What only the database can tell: tariffs that exist, numbers owned by someone else."""
    reader = _Reader()
    currencies = {code: t.currency for code, t in existing.tariffs.items()}
    currencies.update({t.values["code"]: t.values["currency"] for t in plan.tariffs})
    for customer in plan.customers:
        subject = customer.values["subject"]
        for account in customer.accounts:
            number = account.values["account_number"]
            held = existing.accounts.get(number)
            if held is not None and held.customer.subject != subject:
                reader.error(
                    f"{account.path}.accountNumber",
                    f"account {number!r} belongs to another customer ({held.customer.subject!r})",
                )
            for meter in account.meters:
                number = meter.values["meter_number"]
                held_meter = existing.meters.get(number)
                owner = held_meter.account.customer.subject if held_meter else subject
                if owner != subject:
                    reader.error(
                        f"{meter.path}.meterNumber",
                        f"meter {number!r} belongs to another customer ({owner!r})",
                    )
                resolution = meter.values["read_resolution"]
                if (
                    held_meter
                    and held_meter.first_reading_at
                    and (held_meter.read_resolution != resolution)
                ):
                    reader.error(
                        f"{meter.path}.readResolution",
                        f"meter {number!r} has readings: its readResolution stays "
                        f"{held_meter.read_resolution}",
                    )
                for key, code in _tariff_references(meter):
                    if code not in currencies:
                        reader.error(f"{meter.path}.{key}", f"unknown tariff {code!r}")
                    elif currencies[code] != customer.values["billing_currency"]:
                        reader.error(
                            f"{meter.path}.{key}",
                            f"tariff {code!r} is priced in {currencies[code]}, "
                            f"the customer is billed in {customer.values['billing_currency']}",
                        )
    if reader.errors:
        raise CustomersImportInvalid(reader.errors)


def save_changed(*, instance: models.Model, values: dict[str, Any]) -> str:
    """Writes ``instance`` only if it is new or a value differs; returns what happened.

    Skipping identical rows is what makes a re-import a no-op (``updated_at`` included).
    """
    if instance._state.adding:
        for name, value in values.items():
            setattr(instance, name, value)
        instance.save()
        return "created"
    changed = [name for name, value in values.items() if getattr(instance, name) != value]
    if not changed:
        return "unchanged"
    for name in changed:
        setattr(instance, name, values[name])
    instance.save()
    return "updated"


def _save_tariff(
    utility: Utility, row: _TariffRow, existing: Tariff | None
) -> tuple[Tariff, str, bool]:
    """Writes the tariff and its rates where they differ; (tariff, outcome, rates changed)."""
    tariff = existing or Tariff(utility=utility, code=row.values["code"])
    outcome = save_changed(instance=tariff, values=row.values)
    stored = [
        (rate.price, rate.weekdays, rate.from_hour, rate.to_hour)
        for rate in sorted(tariff.rates.all(), key=lambda rate: rate.position)
    ]
    repriced = stored != row.rates
    if repriced:
        tariff.rates.all().delete()
        TariffRate.objects.bulk_create(
            TariffRate(
                tariff=tariff,
                position=position,
                price=price,
                weekdays=days,
                from_hour=start,
                to_hour=end,
            )
            for position, (price, days, start, end) in enumerate(row.rates)
        )
        outcome = "created" if outcome == "created" else "updated"
    return tariff, outcome, repriced


def _entries_after(
    stored: Schedule, given: Schedule | None, before: Any, now: Any, today: date
) -> Schedule:
    """A channel's history entries after the import: the file's history when it gives one.
    Else the stored entries; when the tariff changed, plus one of the new tariff from
    ``today`` (after one of the old tariff from the start, if there were none), so what was
    priced before ``today`` keeps its price. A meter with no tariff has no history."""
    if given is not None:
        return given
    if now is None:
        return []
    if before == now or (before is None and not stored):
        return stored
    first, *later = stored or [(None, before)]
    if first[0] is not None and first[0] >= today:
        first = (None, first[1])  # the first entry covers everything before the next anyway
    entries = [first, *(entry for entry in later if entry[0] < today)]
    return entries if entries[-1][1] == now else [*entries, (today, now)]


def _save_meter(
    meter: Meter, row: _MeterRow, values: dict[str, Any], tariffs: dict[str, Tariff]
) -> tuple[str, date | None]:
    """Writes the meter and its histories where they differ: (outcome, the first local date
    from which its figures change, :data:`SINCE_ALWAYS` for all of them, or None)."""
    created = meter._state.adding
    ids = {
        export: tariffs[code].pk if code is not None else None for export, code in row.codes.items()
    }
    # (A new meter has neither tariffs nor a history yet.)
    before = {export: (meter.export_tariff_id if export else meter.tariff_id) for export in ids}
    stored = {export: [] if created else meter_entries(meter, export=export) for export in ids}
    basis = [getattr(meter, name) for name in METER_BASIS_FIELDS]
    outcome = save_changed(
        instance=meter, values={**values, "tariff_id": ids[False], "export_tariff_id": ids[True]}
    )
    since = SINCE_ALWAYS if basis != [getattr(meter, name) for name in METER_BASIS_FIELDS] else None
    for export, tariff_id in ids.items():
        given = row.histories[export]
        entries = _entries_after(
            stored[export],
            None if given is None else [(day, tariffs[code].pk) for day, code in given],
            before[export],
            tariff_id,
            row.today,
        )
        if entries != stored[export]:
            TariffPeriod.objects.filter(meter=meter, export=export).delete()
            TariffPeriod.objects.bulk_create(
                TariffPeriod(meter=meter, export=export, tariff_id=tariff, valid_from=day)
                for day, tariff in entries
            )
            outcome = "updated" if outcome == "unchanged" else outcome
        changed = first_difference(
            schedule(stored[export], before[export]), schedule(entries, tariff_id)
        )
        if changed is not None and (since is None or changed < since):
            since = changed
    return outcome, None if created else since


def _write(
    plan: _Plan, existing: _Existing, progress: Callable[[int], None] | None
) -> ImportResult:
    utility = plan.utility
    result = ImportResult(utility=utility.slug)
    tariffs = dict(existing.tariffs)
    # What the rollups of existing meters are computed from and this import changes.
    repriced_tariffs, recycled_accounts, changed_meters = set(), set(), set()
    changed_since: dict[Any, date] = {}
    for row in plan.tariffs:
        stored = tariffs.get(row.values["code"])
        tariff, outcome, repriced = _save_tariff(utility, row, stored)
        tariffs[tariff.code] = tariff
        result.counts["tariffs", outcome] += 1
        if stored is not None and repriced:
            repriced_tariffs.add(tariff.pk)
    for row in plan.customers:
        customer = existing.customers.get(row.values["subject"]) or Customer(utility=utility)
        result.counts["customers", save_changed(instance=customer, values=row.values)] += 1
        for account_row in row.accounts:
            account = existing.accounts.get(account_row.values["account_number"]) or Account(
                utility=utility, customer=customer
            )
            cycle_day = account.billing_cycle_day
            outcome = save_changed(instance=account, values=account_row.values)
            result.counts["accounts", outcome] += 1
            if outcome == "updated" and account.billing_cycle_day != cycle_day:
                recycled_accounts.add(account.pk)
            # A new account has no premise yet: no need to ask the database.
            stored_premise = None if outcome == "created" else getattr(account, "premise", None)
            premise = stored_premise or Premise(account=account)
            result.counts[
                "premises", save_changed(instance=premise, values=account_row.premise)
            ] += 1
            for meter_row in account_row.meters:
                meter = existing.meters.get(meter_row.values["meter_number"]) or Meter(
                    utility=utility
                )
                values = {**meter_row.values, "account_id": account.pk}
                outcome, since = _save_meter(meter, meter_row, values, tariffs)
                result.counts["meters", outcome] += 1
                if since == SINCE_ALWAYS:
                    changed_meters.add(meter.pk)
                elif since is not None:
                    changed_since[meter.pk] = since
        if progress is not None:
            progress(1)
    changed_meters.update(
        meters_priced_by(repriced_tariffs).values_list("pk", flat=True),
        Meter.objects.filter(account_id__in=recycled_accounts).values_list("pk", flat=True),
    )
    meters_basis_changed(sender=Meter, meter_ids=changed_meters, since=changed_since)
    return result


def customers_document_parse(*, raw: bytes) -> Any:
    """Parses the file's JSON, refusing duplicate keys (JSON would silently keep the last)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        duplicates = sorted(key for key, n in Counter(key for key, _ in pairs).items() if n > 1)
        if duplicates:
            raise CustomersImportInvalid([f"document: duplicate key {duplicates[0]!r}"])
        return dict(pairs)

    try:
        return json.loads(raw, object_pairs_hook=no_duplicates, parse_float=Decimal)
    except ValueError as exc:
        raise CustomersImportInvalid([f"document: not valid JSON: {exc}"]) from None


def customers_import(
    *, document: Any, progress: Callable[[int], None] | None = None
) -> ImportResult:
    """Validates the whole CIS document, then upserts it in one transaction.

    Raises :class:`CustomersImportInvalid` (nothing written) if any record is wrong.
    ``progress`` is told of each customer written, for a progress bar.
    """
    plan = _read(document)
    with transaction.atomic():
        # One import per utility at a time, so two files cannot interleave their upserts.
        plan.utility = Utility.objects.select_for_update().get(pk=plan.utility.pk)
        existing = _load(plan)
        _check(plan, existing)
        return _write(plan, existing, progress)
