"""``import_weather FILE``: strict, all or nothing, upsert; and ``weather_upsert``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from insights.models import WeatherDay

GOOD = "region,date,meanTemperatureC\nBOS,2025-01-01,-3.4\nBOS,2025-01-02,-1\nSEA,2025-01-01,6.25\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "weather.csv"
    path.write_text(text, encoding="utf-8")
    return path


def run(path: Path) -> str:
    out = StringIO()
    call_command("import_weather", str(path), stdout=out, stderr=StringIO())
    return out.getvalue()


def temperatures() -> dict[tuple[str, date], Decimal]:
    return {(row.region, row.date): row.mean_temperature_c for row in WeatherDay.objects.all()}


def test_imports_and_reimport_updates_in_place(db, tmp_path):
    assert "3 days of weather for 2 region(s)" in run(write(tmp_path, GOOD))
    assert temperatures() == {
        ("BOS", date(2025, 1, 1)): Decimal("-3.40"),
        ("BOS", date(2025, 1, 2)): Decimal("-1.00"),
        ("SEA", date(2025, 1, 1)): Decimal("6.25"),
    }
    run(write(tmp_path, "date,meanTemperatureC,region\n2025-01-02,-2.5,BOS\n"))
    assert WeatherDay.objects.count() == 3
    assert temperatures()[("BOS", date(2025, 1, 2))] == Decimal("-2.50")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("region,date\nBOS,2025-01-01\n", "line 1: header must name the columns"),
        ("region,date,meanTemperatureC\n", "no rows after the header"),
        (GOOD + "BOS,2025-13-01,1\n", "line 5: date '2025-13-01' is not a date"),
        (GOOD + "BOS,20250103,1\n", "line 5: date '20250103' is not a date"),
        (GOOD + "BOS,2025-01-03,warm\n", "line 5: meanTemperatureC 'warm' is not a number"),
        (GOOD + "BOS,2025-01-03,NaN\n", "line 5: meanTemperatureC 'NaN' is not between"),
        (GOOD + "BOS,2025-01-03,75\n", "line 5: meanTemperatureC '75' is not between"),
        (GOOD + "BOS,2025-01-03,1.234\n", "line 5: meanTemperatureC '1.234' has more than 2"),
        (GOOD + ",2025-01-03,1\n", "line 5: region '' must be"),
        (GOOD + "BOS,2025-01-03\n", "line 5: expected 3 fields, got 2"),
        (GOOD + "BOS,2025-01-01,1\n", "line 5: BOS 2025-01-01 repeats line 2"),
    ],
)
def test_a_bad_file_changes_nothing_and_says_why_in_one_line(db, tmp_path, text, message):
    run(write(tmp_path, "region,date,meanTemperatureC\nBOS,2024-12-31,0\n"))
    before = temperatures()
    with pytest.raises(CommandError) as error:
        run(write(tmp_path, text))
    assert message in str(error.value)
    assert "nothing imported" in str(error.value)
    assert "\n" not in str(error.value)
    assert temperatures() == before


def test_many_bad_lines_are_summarised(db, tmp_path):
    text = "region,date,meanTemperatureC\n" + "BOS,x,1\n" * 8
    with pytest.raises(CommandError, match=r"line 2: .*line 6: .* \(and 3 more\)$"):
        run(write(tmp_path, text))


def test_missing_file_is_a_one_line_error(db, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        run(tmp_path / "absent.csv")
