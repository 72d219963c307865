"""Opening hours: weekday periods, all-day service, holidays, and the line's own time zone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from console.domain.hours import load_hours
from console.settings import SettingsError

BRUSSELS_CONFIG = """
country = "BE"
[weekdays]
monday = ["09:00-17:00"]
tuesday = ["09:00-12:00", "13:00-17:00"]
wednesday = ["00:00-24:00"]
thursday = []
friday = ["09:00-17:00"]
saturday = []
sunday = []
"""


def _hours(tmp_path: Path, text: str = BRUSSELS_CONFIG, tz: str = "Europe/Brussels"):  # type: ignore[no-untyped-def]
    path = tmp_path / "hours.toml"
    path.write_text(text)
    return load_hours(path, tz)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_weekday_periods_in_the_lines_zone(tmp_path: Path) -> None:
    hours = _hours(tmp_path)
    # Monday 2 March 2026, Brussels is UTC+1: 08:30 UTC is 09:30 there.
    assert hours.is_open(utc(2026, 3, 2, 8, 30))
    assert not hours.is_open(utc(2026, 3, 2, 7, 59))
    assert not hours.is_open(utc(2026, 3, 2, 16, 0))  # 17:00 local: closed
    # Tuesday lunch break.
    assert not hours.is_open(utc(2026, 3, 3, 11, 30))
    assert hours.is_open(utc(2026, 3, 3, 12, 0))


def test_all_day_and_closed_days(tmp_path: Path) -> None:
    hours = _hours(tmp_path)
    assert hours.is_open(utc(2026, 3, 4, 2, 0))  # Wednesday 03:00 local
    assert hours.is_open(utc(2026, 3, 4, 22, 59))  # Wednesday 23:59 local
    assert not hours.is_open(utc(2026, 3, 5, 10, 0))  # Thursday closed
    assert hours.describe()[3] == ("thursday", "closed")
    assert hours.describe()[2] == ("wednesday", "00:00–24:00")


def test_public_holiday_closes_the_line(tmp_path: Path) -> None:
    hours = _hours(tmp_path)
    # Easter Monday 2026 is 6 April, a Belgian public holiday.
    assert not hours.is_open(utc(2026, 4, 6, 9, 0))
    assert hours.is_open(utc(2026, 4, 13, 9, 0))
    assert hours.next_opening(utc(2026, 4, 6, 9, 0)) == utc(2026, 4, 7, 7, 0)


def test_summer_time_moves_the_utc_hours(tmp_path: Path) -> None:
    hours = _hours(tmp_path)
    # Monday 29 June 2026, Brussels is UTC+2: 07:30 UTC is 09:30 there.
    assert hours.is_open(utc(2026, 6, 29, 7, 30))
    assert not hours.is_open(utc(2026, 6, 29, 15, 0))


@pytest.mark.parametrize(
    "bad",
    ['[weekdays]\nmonday = ["17:00-09:00"]', '[weekdays]\nmonday = ["9h-5h"]', 'country = "XX"'],
)
def test_bad_hours_fail_with_a_named_setting(tmp_path: Path, bad: str) -> None:
    with pytest.raises(SettingsError, match=r"hours\.toml"):
        _hours(tmp_path, bad)
