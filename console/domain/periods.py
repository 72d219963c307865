"""Reporting periods in the line's time zone: hour, day, week (ISO, from Monday) and month.

A period is named by its start, stored as an aware UTC datetime, so a day is 23 or 25 hours long
on the days the clocks change and nothing is counted twice or lost. Durations are whole
milliseconds (floored), so sums are exact integers on every database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Literal
from zoneinfo import ZoneInfo

from console.domain.errors import ValidationFailed

Grain = Literal["hour", "day", "week", "month"]
GRAINS: tuple[Grain, ...] = ("hour", "day", "week", "month")
_MS = dt.timedelta(milliseconds=1)


# Dates a report or export may name: the calendar's edges (year 1 or 9999) overflow as soon as a
# period is stepped past them or shifted to UTC.
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2199, 12, 31)


def parse_day(text: str, name: str) -> dt.date:
    """A date as YYYY-MM-DD within FIRST_DAY..LAST_DAY, or ValidationFailed naming `name`."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed(f"{name}: a date as YYYY-MM-DD") from exc
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationFailed(f"{name}: a date from {FIRST_DAY} to {LAST_DAY}")
    return day


def ms_between(start: dt.datetime, end: dt.datetime) -> int:
    """Whole milliseconds from start to end (0 if end is not later)."""
    if end <= start:
        return 0
    return (end - start) // _MS


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def start_of(moment: dt.datetime, grain: Grain, tz: ZoneInfo) -> dt.datetime:
    """The UTC start of the local period that contains `moment`."""
    local = moment.astimezone(tz)
    if grain == "hour":
        # replace() keeps `fold`, so the repeated hour of an autumn night stays the second one.
        return local.replace(minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    day = local.date()
    if grain == "week":
        day -= dt.timedelta(days=day.weekday())
    elif grain == "month":
        day = day.replace(day=1)
    return local_midnight(day, tz)


def next_start(start: dt.datetime, grain: Grain, tz: ZoneInfo) -> dt.datetime:
    """The start of the period after the one starting at `start`."""
    if grain == "hour":
        return start_of(start + dt.timedelta(hours=1), "hour", tz)
    day = start.astimezone(tz).date()
    if grain == "day":
        return local_midnight(day + dt.timedelta(days=1), tz)
    if grain == "week":
        return local_midnight(day + dt.timedelta(days=7), tz)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return local_midnight(dt.date(year, month, 1), tz)


def split(
    start: dt.datetime, end: dt.datetime, grain: Grain, tz: ZoneInfo
) -> Iterator[tuple[dt.datetime, int]]:
    """(period start, milliseconds of [start, end) inside it) for each period the span touches."""
    if end <= start:
        return
    period = start_of(start, grain, tz)
    while period < end:
        following = next_start(period, grain, tz)
        part = ms_between(max(start, period), min(end, following))
        if part:
            yield period, part
        period = following


def periods(first: dt.datetime, stop: dt.datetime, grain: Grain, tz: ZoneInfo) -> list[dt.datetime]:
    """Starts of the periods from the one containing `first` up to (not including) `stop`."""
    result = []
    period = start_of(first, grain, tz)
    while period < stop:
        result.append(period)
        period = next_start(period, grain, tz)
    return result


def label(start: dt.datetime, grain: Grain, tz: ZoneInfo) -> str:
    """A short, sortable name for a period, in local time."""
    local = start.astimezone(tz)
    if grain == "hour":
        return local.strftime("%Y-%m-%d %H:00") + ("" if not local.fold else " (2nd)")
    if grain == "day":
        return local.strftime("%Y-%m-%d")
    if grain == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.strftime("%Y-%m")
