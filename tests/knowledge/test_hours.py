"""Open-now from HSDS schedules: weekday hours, 24 hours, holiday closures, time zones."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator

import pytest

from knowledge import hours

WEEKDAYS = {"freq": "WEEKLY", "byday": "MO,TU,WE,TH,FR", "opens_at": "09:00", "closes_at": "17:00"}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


@pytest.fixture
def server_in_auckland(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with the process's local time zone far from UTC and from the services'."""
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


def test_weekday_hours() -> None:
    schedule = [{**WEEKDAYS, "timezone": 0}]
    assert hours.is_open(schedule, utc(2026, 11, 24, 9, 0)) is True  # Tuesday, opening time
    assert hours.is_open(schedule, utc(2026, 11, 24, 16, 59)) is True
    assert hours.is_open(schedule, utc(2026, 11, 24, 17, 0)) is False  # closing time
    assert hours.is_open(schedule, utc(2026, 11, 24, 8, 59)) is False
    assert hours.is_open(schedule, utc(2026, 11, 28, 12, 0)) is False  # Saturday


def test_twenty_four_hour_service() -> None:
    for closes in ("23:59", "00:00", "23:59:59"):
        schedule = [
            {
                "freq": "WEEKLY",
                "byday": "MO,TU,WE,TH,FR,SA,SU",
                "opens_at": "00:00",
                "closes_at": closes,
                "timezone": 1,
            }
        ]
        for moment in (utc(2026, 11, 29, 23, 30), utc(2026, 11, 24, 3), utc(2026, 12, 25, 12)):
            assert hours.is_open(schedule, moment) is True, (closes, moment)
    assert hours.summary(schedule) == "24/7"


def test_holiday_closure() -> None:
    schedule = [{**WEEKDAYS, "timezone": 1}, *hours.holiday_closures("svc", "BE", [2026])]
    christmas = utc(2026, 12, 25, 10, 0)  # a Friday
    assert hours.is_open([{**WEEKDAYS, "timezone": 1}], christmas) is True
    assert hours.is_open(schedule, christmas) is False
    assert hours.is_open(schedule, utc(2026, 12, 24, 10, 0)) is True
    closure = next(r for r in schedule if r.get("valid_from") == "2026-12-25")
    assert closure["valid_to"] == "2026-12-25"
    assert "Christmas" in closure["description"]
    # Stable ids, so regenerating the closures is an upsert.
    assert hours.holiday_closures("svc", "BE", [2026]) == schedule[1:]


def test_exception_with_special_hours() -> None:
    schedule = [
        {**WEEKDAYS, "timezone": 0},
        {
            "valid_from": "2026-12-24",
            "valid_to": "2026-12-24",
            "opens_at": "09:00",
            "closes_at": "12:00",
            "timezone": 0,
        },
    ]
    assert hours.is_open(schedule, utc(2026, 12, 24, 11, 0)) is True
    assert hours.is_open(schedule, utc(2026, 12, 24, 13, 0)) is False
    assert hours.is_open(schedule, utc(2026, 12, 23, 13, 0)) is True


def test_timezone_different_from_the_servers(server_in_auckland: None) -> None:
    new_york_hours = [{**WEEKDAYS, "timezone": -5}]
    # 15:00 UTC is 10:00 in UTC-5 (open) and 04:00 next day in Auckland.
    assert hours.is_open(new_york_hours, utc(2026, 11, 24, 15, 0)) is True
    # 10:00 UTC is 05:00 in UTC-5: closed, though it is office time in UTC and 23:00 in Auckland.
    assert hours.is_open(new_york_hours, utc(2026, 11, 24, 10, 0)) is False
    # Monday 02:00 UTC is still Sunday evening in UTC-5.
    assert hours.is_open(new_york_hours, utc(2026, 11, 23, 2, 0)) is False
    # The same instant given in another zone gives the same answer.
    auckland = dt.datetime(2026, 11, 25, 4, 0, tzinfo=dt.timezone(dt.timedelta(hours=13)))
    assert hours.is_open(new_york_hours, auckland) is True
    assert time.localtime().tm_gmtoff != 0 or os.environ["TZ"] == "Pacific/Auckland"


def test_zone_name_follows_daylight_saving_time() -> None:
    brussels = [{**WEEKDAYS, "timezone": 1}]
    july_afternoon = utc(2026, 7, 1, 15, 30)  # 17:30 in Brussels (CEST), 16:30 at a fixed +1
    assert hours.is_open(brussels, july_afternoon) is True
    assert hours.is_open(brussels, july_afternoon, zone="Europe/Brussels") is False
    # A zone that does not fit the schedule's offset is not applied to it.
    assert hours.is_open(brussels, july_afternoon, zone="America/New_York") is True


def test_offset_in_the_time_itself() -> None:
    schedule = [
        {"freq": "WEEKLY", "byday": "TU", "opens_at": "09:00-05:00", "closes_at": "17:00-05:00"}
    ]
    assert hours.is_open(schedule, utc(2026, 11, 24, 14, 30)) is True
    assert hours.is_open(schedule, utc(2026, 11, 24, 10, 30)) is False


def test_overnight_hours() -> None:
    schedule = [{"freq": "WEEKLY", "byday": "FR", "opens_at": "20:00", "closes_at": "02:00"}]
    assert hours.is_open(schedule, utc(2026, 11, 27, 21, 0)) is True  # Friday night
    assert hours.is_open(schedule, utc(2026, 11, 28, 1, 0)) is True  # small hours of Saturday
    assert hours.is_open(schedule, utc(2026, 11, 28, 21, 0)) is False


def test_recurrence_details() -> None:
    fortnightly = [
        {
            "freq": "WEEKLY",
            "interval": 2,
            "byday": "MO",
            "dtstart": "2026-11-02",
            "opens_at": "10:00",
            "closes_at": "12:00",
        }
    ]
    assert hours.is_open(fortnightly, utc(2026, 11, 16, 11, 0)) is True
    assert hours.is_open(fortnightly, utc(2026, 11, 23, 11, 0)) is False
    first_monday = [{"freq": "MONTHLY", "byday": "1MO", "opens_at": "10:00", "closes_at": "12:00"}]
    assert hours.is_open(first_monday, utc(2026, 12, 7, 11, 0)) is True
    assert hours.is_open(first_monday, utc(2026, 12, 14, 11, 0)) is False
    expired = [{**WEEKDAYS, "valid_to": "2025-12-31"}]
    assert hours.is_open(expired, utc(2026, 11, 24, 10, 0)) is False


def test_unknown_or_unreadable_schedules() -> None:
    assert hours.is_open([], utc(2026, 11, 24, 10)) is None
    assert hours.is_open([{"freq": "SOMETIMES"}], utc(2026, 11, 24, 10)) is None
    with pytest.raises(ValueError, match="aware"):
        hours.is_open([WEEKDAYS], dt.datetime(2026, 11, 24, 10))
    with pytest.raises(hours.ScheduleError, match="not a time"):
        hours.parse_rule({"opens_at": "25:00"})
    with pytest.raises(hours.ScheduleError, match="not a day"):
        hours.parse_rule({"freq": "WEEKLY", "byday": "MO,XX"})


def test_summary_in_the_operators_language() -> None:
    schedule = [
        WEEKDAYS,
        {"freq": "WEEKLY", "byday": "SA", "opens_at": "10:00", "closes_at": "13:00"},
    ]
    assert hours.summary(schedule) == "Mon–Fri 09:00–17:00; Sat 10:00–13:00"
    assert hours.summary(schedule, locale="nl") == "ma–vr 09:00–17:00; za 10:00–13:00"
    assert hours.summary([]) == ""
