"""``evaluate_insights``: the backtest on synthetic data, end to end."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from customers.models import Meter
from insights.evaluation import OURS, RUN_RATE, YEAR_AGO, render_report
from insights.management.commands import evaluate_insights

START = date(2024, 8, 1)
#: A year and a quarter: enough for a few billing periods to have a year-ago twin.
DAYS = 470


@pytest.fixture
def reports(monkeypatch):
    """The reports ``evaluate_insights`` renders, kept as it renders them."""
    kept = []

    def keep(report, heading):
        kept.append(report)
        return render_report(report, heading)

    monkeypatch.setattr(evaluate_insights, "render_report", keep)
    return kept


@pytest.fixture
def homes(alice, synthetic):
    """Two electric homes and a gas one, 15 months of data each, with their ground truth."""
    synthetic(seed=1, start=START, days=DAYS)
    synthetic(seed=2, start=START, days=DAYS)
    synthetic(seed=4, start=START, days=DAYS, gas=True)


def test_our_forecast_beats_both_baselines_and_the_table_says_so(homes, reports):
    out = StringIO()
    call_command("evaluate_insights", "--customer", "alice", stdout=out, stderr=StringIO())
    table = out.getvalue()
    print(table)  # the numbers, for the record (pytest -s)

    [report] = reports
    ours, run_rate = report.all_periods
    assert (ours.method, run_rate.method) == (OURS, RUN_RATE)
    assert ours.periods == run_rate.periods >= 20
    assert ours.mape < run_rate.mape
    assert ours.cv_rmse < run_rate.cv_rmse
    year_ours, year_run_rate, year_ago = report.year_ago_periods
    assert year_ago.method == YEAR_AGO
    assert year_ago.periods >= 3
    # These homes never change their habits, so last year's period is a strong baseline on
    # them; the drifting homes of --synthetic are where the comparison is made.
    assert year_ours.mape < year_run_rate.mape
    assert report.forecast_beats_baselines is not None

    assert report.anomalies.meters == 3
    assert report.anomalies.injected > 0
    assert report.anomalies.precision >= 0.5
    assert report.anomalies.recall >= 0.5
    assert report.baseload.meters == 2
    assert report.baseload.mape < 5
    assert abs(report.baseload.bias_percent) < 5

    for heading in (
        "Bill forecast at day 10",
        "MAPE %",
        "CV(RMSE) %",
        "NMBE %",
        OURS,
        RUN_RATE,
        YEAR_AGO,
        "Backtest of the loaded data: 3 meter(s)",
        "Usage anomalies (days) against the injected ground truth",
        "precision",
        "recall",
        "F1",
        "Always-on power against the generator's true baseload",
        "Our forecast beats both baselines (MAPE and CV(RMSE)): ",
    ):
        assert heading in table


def test_evaluate_with_nothing_loaded_says_so(alice):
    out = StringIO()
    call_command("evaluate_insights", stdout=out, stderr=StringIO())
    assert "not enough data to tell" in out.getvalue()


def test_unknown_customer_is_a_one_line_error(db):
    with pytest.raises(CommandError, match="unknown customer 'ghost'"):
        call_command("evaluate_insights", "--customer", "ghost", stdout=StringIO())


def test_synthetic_homes_are_generated_and_scored_without_the_database(reports):
    out = StringIO()
    call_command("evaluate_insights", "--synthetic", "1", "--seed", "3", stdout=out)
    [report] = reports
    assert report.meters == 1
    ours, run_rate = report.all_periods
    assert ours.periods == run_rate.periods >= 12  # 550 days: a year and a half of months
    assert report.year_ago_periods[2].periods >= 3
    assert report.anomalies.meters == 1 and report.anomalies.injected > 0
    assert report.baseload.estimates > 0
    assert "Backtest of 1 synthetic home(s), seed 3: 1 meter(s)" in out.getvalue()


@pytest.mark.parametrize("count", ["0", "-2", "many"])
def test_synthetic_needs_a_positive_count(count):
    with pytest.raises(CommandError, match="--synthetic"):
        call_command("evaluate_insights", "--synthetic", count, stdout=StringIO())


def test_net_metered_meters_are_left_out_of_the_forecast_scores(alice, homes, reports):
    """Net of a solar home's export a period can total near zero, where a percentage error
    means nothing: its forecasts are not scored, and the table says so."""
    out = StringIO()
    call_command("evaluate_insights", "--customer", "alice", stdout=out, stderr=StringIO())
    Meter.objects.filter(account__customer=alice, meter_number="E-SYN-1").update(bidirectional=True)
    call_command("evaluate_insights", "--customer", "alice", stdout=out, stderr=StringIO())

    everyone, without_solar = reports
    assert (everyone.net_metered, without_solar.net_metered) == (0, 1)
    assert without_solar.all_periods[0].periods < everyone.all_periods[0].periods
    assert without_solar.anomalies.meters == everyone.anomalies.meters == 3
    assert "Left out: 1 net-metered meter(s)" in out.getvalue()
