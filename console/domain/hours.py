"""Opening hours: weekday periods, public holidays (the `holidays` package) and the line's zone.

Shared by the channels: the phone menu and the chat widget both ask `is_open` and `describe`.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from console.settings import SettingsError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Period:
    opens: dt.time
    closes: dt.time | None  # None means until midnight ("24:00")

    def contains(self, moment: dt.time) -> bool:
        return self.opens <= moment and (self.closes is None or moment < self.closes)

    def label(self) -> str:
        closes = "24:00" if self.closes is None else self.closes.strftime("%H:%M")
        return f"{self.opens.strftime('%H:%M')}–{closes}"


@dataclass(frozen=True)
class OpeningHours:
    timezone: ZoneInfo
    weekdays: tuple[tuple[Period, ...], ...]  # Monday first
    country: str | None
    subdivision: str | None
    open_on_holidays: bool
    closed_on: frozenset[dt.date]
    alternatives: dict[str, str]

    def _holiday(self, day: dt.date) -> bool:
        if day in self.closed_on:
            return True
        if self.open_on_holidays or not self.country:
            return False
        calendar = holidays_lib.country_holidays(
            self.country, subdiv=self.subdivision or None, years=day.year
        )
        return day in calendar

    def is_open(self, now: dt.datetime) -> bool:
        local = now.astimezone(self.timezone)
        if self._holiday(local.date()):
            return False
        return any(p.contains(local.time()) for p in self.weekdays[local.weekday()])

    def always_open(self) -> bool:
        return (
            all(
                any(p.opens == dt.time(0) and p.closes is None for p in day)
                for day in self.weekdays
            )
            and (self.open_on_holidays or not self.country)
            and not self.closed_on
        )

    def describe(self) -> list[tuple[str, str]]:
        """(weekday, "09:00–17:00, 18:00–20:00" or "closed") for each day, Monday first."""
        return [
            (name, ", ".join(p.label() for p in periods) or "closed")
            for name, periods in zip(WEEKDAYS, self.weekdays, strict=True)
        ]

    def next_opening(self, now: dt.datetime) -> dt.datetime | None:
        local = now.astimezone(self.timezone)
        for offset in range(0, 15):
            day = local.date() + dt.timedelta(days=offset)
            if self._holiday(day):
                continue
            for period in self.weekdays[day.weekday()]:
                start = dt.datetime.combine(day, period.opens, tzinfo=self.timezone)
                if start > local or (offset == 0 and period.contains(local.time())):
                    return max(start, local).astimezone(dt.UTC)
        return None


def _parse_time(text: str, name: str) -> dt.time | None:
    if text == "24:00":
        return None
    try:
        return dt.time.fromisoformat(text)
    except ValueError as exc:
        raise SettingsError(f"config/hours.toml: {name}: bad time {text!r}") from exc


def _period(text: str, name: str) -> Period:
    try:
        start, end = (part.strip() for part in text.split("-", 1))
    except ValueError as exc:
        raise SettingsError(f"config/hours.toml: {name}: expected 'HH:MM-HH:MM'") from exc
    opens = _parse_time(start, name)
    closes = _parse_time(end, name)
    if opens is None:
        raise SettingsError(f"config/hours.toml: {name}: a period cannot open at 24:00")
    if closes is not None and closes <= opens:
        raise SettingsError(f"config/hours.toml: {name}: {text!r} closes before it opens")
    return Period(opens, closes)


def load_hours(path: Path, timezone: str) -> OpeningHours:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        data = {"weekdays": {day: ["00:00-24:00"] for day in WEEKDAYS}}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML ({exc})") from exc
    weekdays = data.get("weekdays", {})
    try:
        closed_on = frozenset(dt.date.fromisoformat(str(d)) for d in data.get("closed_on", []))
    except ValueError as exc:
        raise SettingsError(f"config/hours.toml: closed_on: {exc}") from exc
    country = str(data.get("country", "")).strip() or None
    if country:
        try:
            holidays_lib.country_holidays(country, subdiv=data.get("subdivision") or None)
        except NotImplementedError as exc:
            raise SettingsError(f"config/hours.toml: country: {exc}") from exc
    return OpeningHours(
        timezone=ZoneInfo(timezone),
        weekdays=tuple(
            tuple(_period(str(p), day) for p in weekdays.get(day, [])) for day in WEEKDAYS
        ),
        country=country,
        subdivision=str(data.get("subdivision", "")).strip() or None,
        open_on_holidays=bool(data.get("open_on_holidays", False)),
        closed_on=closed_on,
        alternatives={str(k): str(v) for k, v in data.get("alternatives", {}).items()},
    )
