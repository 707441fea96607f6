"""Insight texts in the customer's language (gettext catalogs) with babel's formatting,
English for languages we do not write, regeneration on a change of locale, and the insight
types' names following Accept-Language."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from rest_framework.test import APIClient

from insights.models import Insight
from insights.services import insights_generate
from insights.text import Wording, language_of
from tests.insights.test_pipeline import tou_tariff

START = date(2025, 4, 1)
LOCALE_DIRS = sorted(
    path
    for app in ("insights", "metadata")
    for path in (Path(__file__).resolve().parents[2] / app / "locale").glob("*/LC_MESSAGES")
)


@pytest.mark.parametrize(
    ("locale", "language", "formats_for"),
    [
        ("es-US", "es", "es_US"),
        ("es-ES", "es", "es_ES"),
        ("fr-CA", "fr", "fr_CA"),
        ("ja-JP", "ja", "ja_JP"),
        ("en-GB", "en", "en_GB"),
        ("de-DE", "en", "en_US"),  # a language we do not write: English through and through
        ("xx-YY", "en", "en_US"),  # unknown to babel
        ("not a locale", "en", "en_US"),
    ],
)
def test_language_and_formats_follow_the_locale_else_english(locale, language, formats_for):
    words = Wording(locale=locale, currency="EUR", unit="kWh")
    assert (words.language, str(words.locale)) == (language, formats_for)
    assert language_of(locale) == language


def test_numbers_money_and_dates_are_formatted_for_the_locale():
    spanish = Wording(locale="es-ES", currency="EUR", unit="kWh")
    assert spanish.energy(1234.56) == "1.234,6 kWh"
    assert spanish.money(Decimal("1234.5")) == "1.234,50\xa0€"
    assert spanish.percent(0.125) == "12\xa0%"
    assert spanish.day(date(2026, 11, 3)) == "3 nov 2026"
    us_spanish = Wording(locale="es-US", currency="USD", unit="kWh")
    assert us_spanish.hour(14) == "2:00\u202fp.m."
    assert us_spanish.month(date(2026, 11, 3)) == "noviembre de 2026"
    english = Wording(locale="en-US", currency="USD", unit="kWh")
    assert english.energy(1234.56) == "1,234.6 kWh"
    assert english.day(date(2026, 11, 3)) == "Nov 3, 2026"


@pytest.mark.parametrize("catalog", LOCALE_DIRS, ids=lambda p: f"{p.parts[-4]}-{p.parts[-2]}")
def test_every_message_is_translated_and_the_compiled_catalog_is_current(catalog):
    with open(catalog / "django.po", "rb") as po, open(catalog / "django.mo", "rb") as mo:
        source, compiled = read_po(po), read_mo(mo)
    messages = {m.id: m.string for m in source if m.id}
    assert messages and all(messages.values())
    assert {m.id: m.string for m in compiled if m.id} == messages


@pytest.fixture
def home(alice, synthetic):
    synthetic(seed=7, start=START, days=100, tariff=tou_tariff(alice.utility))
    return alice


def test_a_us_spanish_customer_reads_spanish_with_spanish_formats(home):
    home.locale = "es-US"
    home.save()
    insights_generate(customer=home)

    forecast = Insight.objects.get(customer=home, type="BILL_FORECAST")
    assert forecast.title.startswith("Su factura va camino de $")
    assert forecast.summary.startswith("Su factura del ")
    used = format_decimal(round(forecast.data["usedToDate"], 1), locale="es_US")
    assert f"Hasta ahora ha consumido {used} kWh" in forecast.summary
    assert " jul 2025 " in forecast.summary or " jul 2025" in forecast.summary  # dates: es
    peak = Insight.objects.get(customer=home, type="PEAK_TIME")
    assert "p.m." in peak.title or "a.m." in peak.title
    always_on = Insight.objects.get(customer=home, type="ALWAYS_ON")
    assert always_on.title.startswith("Su hogar consume ")
    comparison = Insight.objects.get(customer=home, type="PERIOD_COMPARISON")
    assert comparison.title.startswith("Consumió ")


def test_a_customer_in_a_language_we_do_not_write_reads_english(home):
    home.locale = "de-DE"
    home.save()
    insights_generate(customer=home)
    forecast = Insight.objects.get(customer=home, type="BILL_FORECAST")
    assert forecast.title.startswith("Your bill is on track for $")
    assert "So far you have used" in forecast.summary


def test_a_change_of_language_regenerates_the_insights(home, django_capture_on_commit_callbacks):
    insights_generate(customer=home)
    assert Insight.objects.get(customer=home, type="ALWAYS_ON").title.startswith("Your home")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        home.locale = "fr-CA"
        home.save()
    assert len(callbacks) == 1
    assert Insight.objects.get(customer=home, type="ALWAYS_ON").title.startswith("Votre logement")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        home.locale = "fr-FR"  # the same language: nothing to rewrite
        home.save()
    assert callbacks == []


def insight_types(**headers):
    return APIClient().get("/usage/v1/Metadata/insight-types", **headers)


def test_insight_type_names_follow_accept_language_with_an_etag_per_language(db):
    english = insight_types()
    spanish = insight_types(HTTP_ACCEPT_LANGUAGE="es-US,es;q=0.9,en;q=0.5")
    japanese = insight_types(HTTP_ACCEPT_LANGUAGE="ja")
    unknown = insight_types(HTTP_ACCEPT_LANGUAGE="de-DE")

    names = {
        response["Content-Language"]: {i["id"]: i["name"] for i in response.json()["items"]}
        for response in (english, spanish, japanese)
    }
    assert names["en"]["BILL_FORECAST"] == "Bill forecast"
    assert names["es"]["BILL_FORECAST"] == "Previsión de la factura"
    assert names["ja"]["BILL_FORECAST"] == "請求額の予測"
    assert names["es"]["SOLAR_EXPORT"] == "Exportación solar"
    assert unknown["Content-Language"] == "en" and unknown.content == english.content
    for response in (english, spanish, japanese):
        assert "Accept-Language" in response["Vary"]
    assert len({english["ETag"], spanish["ETag"], japanese["ETag"]}) == 3

    again = insight_types(HTTP_ACCEPT_LANGUAGE="es", HTTP_IF_NONE_MATCH=spanish["ETag"])
    assert again.status_code == 304
    assert "Accept-Language" in again["Vary"]
    assert insight_types(HTTP_IF_NONE_MATCH=spanish["ETag"]).status_code == 200
