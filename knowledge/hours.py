"""Opening hours from HSDS 3.0 schedules: "open now" and a one-line summary.

HSDS schedules are RFC 5545 recurrence fields (freq, byday, …) plus `opens_at`/`closes_at` and a
numeric `timezone` (a UTC offset in hours). Rows with `valid_from`/`valid_to` and no `freq` are
exceptions for those dates (holiday closures when they carry no times, special hours when they do).
A numeric offset cannot follow daylight saving time, so an optional IANA zone name refines it:
when the zone's standard or daylight offset equals the schedule's offset, the zone is used.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast
from uuid import NAMESPACE_URL, uuid5
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from babel.dates import get_day_names
from dateutil import rrule

FREQS = {
    "SECONDLY": rrule.SECONDLY,
    "MINUTELY": rrule.MINUTELY,
    "HOURLY": rrule.HOURLY,
    "DAILY": rrule.DAILY,
    "WEEKLY": rrule.WEEKLY,
    "MONTHLY": rrule.MONTHLY,
    "YEARLY": rrule.YEARLY,
}
WEEKDAYS = {
    "MO": rrule.MO,
    "TU": rrule.TU,
    "WE": rrule.WE,
    "TH": rrule.TH,
    "FR": rrule.FR,
    "SA": rrule.SA,
    "SU": rrule.SU,
}
_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)\Z")
_TIME = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\Z")
_END_OF_DAY = {dt.time(23, 59), dt.time(23, 59, 59)}
# Fields copied into the search card: everything "open now" and the summary need.
SCHEDULE_FIELDS = (
    "valid_from",
    "valid_to",
    "dtstart",
    "timezone",
    "until",
    "count",
    "wkst",
    "freq",
    "interval",
    "byday",
    "byweekno",
    "bymonthday",
    "byyearday",
    "opens_at",
    "closes_at",
)


class ScheduleError(ValueError):
    """A schedule field that cannot be understood."""


def parse_time(value: str) -> tuple[dt.time, dt.timedelta | None]:
    """HH:MM[:SS] with an optional Z or ±HH:MM offset (HSDS asks for one, examples omit it)."""
    match = _TIME.match(value.strip())
    if not match:
        raise ScheduleError(f"not a time: {value!r}")
    hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ScheduleError(f"not a time: {value!r}")
    offset = None
    if match.group(4):
        zone = match.group(4)
        if zone == "Z":
            offset = dt.timedelta(0)
        else:
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            offset = sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return dt.time(hour, minute, second), offset


def parse_byday(value: str) -> list[rrule.weekday]:
    days = []
    for part in value.split(","):
        match = _BYDAY.match(part.strip().upper())
        if not match:
            raise ScheduleError(f"not a day: {part!r}")
        day = WEEKDAYS[match.group(2)]
        days.append(day(int(match.group(1))) if match.group(1) else day)
    return days


def _ints(value: Any) -> list[int] | None:
    if value in (None, ""):
        return None
    try:
        return [int(part) for part in str(value).split(",")]
    except ValueError as exc:
        raise ScheduleError(f"not a list of numbers: {value!r}") from exc


def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise ScheduleError(f"not a date: {value!r}") from exc


@dataclass(frozen=True)
class Rule:
    """One HSDS schedule row, parsed."""

    freq: int | None
    interval: int
    count: int | None
    until: dt.date | None
    dtstart: dt.date | None
    wkst: int | None
    byday: tuple[rrule.weekday, ...] | None
    bymonthday: tuple[int, ...] | None
    byyearday: tuple[int, ...] | None
    byweekno: tuple[int, ...] | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    opens: dt.time | None
    closes: dt.time | None
    offset: dt.timedelta | None

    @property
    def is_exception(self) -> bool:
        return self.freq is None and self.valid_from is not None

    @property
    def all_day(self) -> bool:
        if self.opens is None and self.closes is None:
            return True
        return self.opens == self.closes or (
            self.opens == dt.time(0) and self.closes in _END_OF_DAY
        )


def parse_rule(row: Mapping[str, Any]) -> Rule:
    """Parse one schedule (HSDS field names); raises ScheduleError on anything unreadable."""
    freq_name = (row.get("freq") or "").upper() or None
    if freq_name is not None and freq_name not in FREQS:
        raise ScheduleError(f"unknown freq: {freq_name!r}")
    opens = closes = None
    offset = None
    if row.get("opens_at"):
        opens, offset = parse_time(str(row["opens_at"]))
    if row.get("closes_at"):
        closes, close_offset = parse_time(str(row["closes_at"]))
        offset = offset if offset is not None else close_offset
    if offset is None and row.get("timezone") not in (None, ""):
        try:
            hours = float(row["timezone"])
        except (TypeError, ValueError) as exc:
            raise ScheduleError(f"not a UTC offset: {row['timezone']!r}") from exc
        if not -14 <= hours <= 14:
            raise ScheduleError(f"not a UTC offset: {row['timezone']!r}")
        offset = dt.timedelta(hours=hours)
    wkst = row.get("wkst")
    if wkst and str(wkst).upper() not in WEEKDAYS:
        raise ScheduleError(f"not a day: {wkst!r}")
    byday = tuple(parse_byday(str(row["byday"]))) if row.get("byday") else None
    count = row.get("count")
    return Rule(
        freq=FREQS[freq_name] if freq_name else None,
        interval=int(row.get("interval") or 1),
        count=int(count) if count not in (None, "") else None,
        until=_date(row.get("until")),
        dtstart=_date(row.get("dtstart")),
        wkst=WEEKDAYS[str(wkst).upper()].weekday if wkst else None,
        byday=byday,
        bymonthday=_tuple(_ints(row.get("bymonthday"))),
        byyearday=_tuple(_ints(row.get("byyearday"))),
        byweekno=_tuple(_ints(row.get("byweekno"))),
        valid_from=_date(row.get("valid_from")),
        valid_to=_date(row.get("valid_to")),
        opens=opens,
        closes=closes,
        offset=offset,
    )


def _cached_rule(row: Mapping[str, Any]) -> Rule | None:
    """parse_rule, remembered: search checks the same few schedules on every query."""
    try:
        return _rule_from_items(
            tuple(
                sorted(
                    (k, str(v)) for k, v in row.items() if k in _RULE_KEYS and v not in (None, "")
                )
            )
        )
    except TypeError:
        return None


_RULE_KEYS = frozenset(SCHEDULE_FIELDS)


@lru_cache(maxsize=65536)
def _rule_from_items(items: tuple[tuple[str, str], ...]) -> Rule | None:
    try:
        return parse_rule(dict(items))
    except ScheduleError:
        return None


def _tuple(values: list[int] | None) -> tuple[int, ...] | None:
    return tuple(values) if values else None


@lru_cache(maxsize=4096)
def _recurrence(rule: Rule, anchor: dt.date | None) -> rrule.rrule:
    start = anchor or rule.dtstart or rule.valid_from or dt.date(1970, 1, 5)
    return rrule.rrule(
        # The stubs want a Literal; the value comes from FREQS, so it is one of them.
        cast(Any, rule.freq if rule.freq is not None else rrule.DAILY),
        dtstart=dt.datetime.combine(start, dt.time()),
        interval=rule.interval,
        count=rule.count,
        until=dt.datetime.combine(rule.until, dt.time()) if rule.until else None,
        wkst=rule.wkst,
        byweekday=rule.byday,
        bymonthday=rule.bymonthday,
        byyearday=rule.byyearday,
        byweekno=rule.byweekno,
        cache=True,
    )


def occurs_on(rule: Rule, day: dt.date) -> bool:
    """Whether the rule has an occurrence (an opening) on that local date."""
    if rule.valid_from and day < rule.valid_from:
        return False
    if rule.valid_to and day > rule.valid_to:
        return False
    if rule.until and day > rule.until:
        return False
    if rule.is_exception or rule.freq is None or rule.freq > rrule.DAILY:
        # No recurrence, or one finer than a day (HOURLY…): every valid day has an opening.
        return True
    anchor = None
    if (
        rule.interval == 1
        and rule.count is None
        and (rule.freq == rrule.DAILY or (rule.freq == rrule.WEEKLY and rule.byday))
    ):
        # dateutil walks from dtstart; for these rules any start in the past gives the same set,
        # so one just before the date keeps the walk short.
        anchor = day - dt.timedelta(days=7)
    midnight = dt.datetime.combine(day, dt.time())
    return bool(_recurrence(rule, anchor).after(midnight, inc=True) == midnight)


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _local(rule: Rule, at: dt.datetime, zone: ZoneInfo | None) -> dt.datetime:
    if zone is not None and (rule.offset is None or _zone_matches(zone, rule.offset, at)):
        return at.astimezone(zone)
    return at.astimezone(dt.timezone(rule.offset or dt.timedelta(0)))


def _zone_matches(zone: ZoneInfo, offset: dt.timedelta, at: dt.datetime) -> bool:
    january = dt.datetime(at.year, 1, 15, tzinfo=zone).utcoffset()
    july = dt.datetime(at.year, 7, 15, tzinfo=zone).utcoffset()
    return offset in (january, july)


def _open_within(rule: Rule, local: dt.datetime) -> bool:
    day, now = local.date(), local.time().replace(tzinfo=None)
    if rule.all_day:
        return occurs_on(rule, day)
    opens = rule.opens or dt.time(0)
    closes = rule.closes
    if closes is None or closes in _END_OF_DAY:
        return occurs_on(rule, day) and now >= opens
    if closes > opens:
        return occurs_on(rule, day) and opens <= now < closes
    # Overnight hours: tonight's opening, or what is left of yesterday's.
    if now >= opens and occurs_on(rule, day):
        return True
    return now < closes and occurs_on(rule, day - dt.timedelta(days=1))


def is_open(
    schedules: Iterable[Mapping[str, Any]], at: dt.datetime, *, zone: str | None = None
) -> bool | None:
    """Whether the schedules say open at `at` (aware); None when there is no usable schedule."""
    if at.tzinfo is None:
        raise ValueError("is_open needs an aware datetime")
    rules = [rule for rule in map(_cached_rule, schedules) if rule is not None]
    if not rules:
        return None
    tz = _zone(zone)
    exceptions = [r for r in rules if r.is_exception]
    todays = [r for r in exceptions if occurs_on(r, _local(r, at, tz).date())]
    if todays:
        return any(
            not (r.opens is None and r.closes is None) and _open_within(r, _local(r, at, tz))
            for r in todays
        )
    regular = [r for r in rules if not r.is_exception]
    if not regular:
        return None
    return any(_open_within(r, _local(r, at, tz)) for r in regular)


def summary(schedules: Sequence[Mapping[str, Any]], *, locale: str = "en") -> str:
    """ "Mon–Fri 09:00–17:00; Sat 10:00–13:00", "24/7", or "" when nothing can be said."""
    rules = []
    for row in schedules:
        try:
            rule = parse_rule(row)
        except ScheduleError:
            continue
        if not rule.is_exception:
            rules.append(rule)
    if not rules:
        return ""
    names = get_day_names("abbreviated", locale=_babel_locale(locale))
    by_hours: dict[str, set[int]] = {}
    for rule in rules:
        hours = "24h" if rule.all_day else f"{_hm(rule.opens)}–{_hm(rule.closes)}"
        if rule.byday:
            days = {d.weekday for d in rule.byday}
        elif rule.freq == rrule.DAILY or rule.freq is None:
            days = set(range(7))
        else:
            continue
        by_hours.setdefault(hours, set()).update(days)
    if by_hours == {"24h": set(range(7))}:
        return "24/7"
    parts = []
    for hours, days in sorted(by_hours.items(), key=lambda item: min(item[1])):
        parts.append(f"{_day_ranges(sorted(days), names)} {hours}")
    return "; ".join(parts)


def _babel_locale(locale: str) -> str:
    return locale if locale in ("en", "nl", "fr", "de") else "en"


def _hm(value: dt.time | None) -> str:
    return value.strftime("%H:%M") if value else "00:00"


def _day_ranges(days: list[int], names: Mapping[int, str]) -> str:
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    labels = []
    for run in runs:
        if len(run) >= 3:
            labels.append(f"{names[run[0]]}–{names[run[-1]]}")
        else:
            labels.extend(names[d] for d in run)
    return ", ".join(labels)


def holiday_closures(
    service_id: str, country: str, years: Iterable[int], *, subdiv: str | None = None
) -> list[dict[str, Any]]:
    """HSDS exception rows closing a service on a country's public holidays (stable ids)."""
    calendar = holidays.country_holidays(country, subdiv=subdiv, years=list(years))
    rows = []
    for day, name in sorted(calendar.items()):
        rows.append(
            {
                "id": str(uuid5(NAMESPACE_URL, f"helpline:holiday:{service_id}:{day.isoformat()}")),
                "service_id": service_id,
                "valid_from": day.isoformat(),
                "valid_to": day.isoformat(),
                "description": f"Closed: {name}",
            }
        )
    return rows
