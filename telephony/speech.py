"""Saying prompts: text with <Say> in the language's voice, or a recording with <Play>.

Also the spoken forms the prompts need, in the caller's language: opening hours, callback windows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from babel.core import UnknownLocaleError
from babel.dates import get_day_names

from console.domain.hours import OpeningHours, Period
from telephony.settings import TelephonySettings, VoiceLanguage


class _Speaks(Protocol):
    def say(self, message: Any = None, **kwargs: Any) -> Any: ...

    def play(self, url: Any = None, **kwargs: Any) -> Any: ...


class Speaker:
    """Speaks one language's prompts onto a TwiML node (a Response or a Gather)."""

    def __init__(self, tset: TelephonySettings, language: VoiceLanguage) -> None:
        self.tset = tset
        self.language = language

    def text(self, name: str, **values: Any) -> str:
        values.setdefault("helpline", self.tset.helpline_name)
        values.setdefault("emergency", self.tset.emergency_number)
        return self.language.prompts[name].text.format(**values)

    def speak(self, node: _Speaks, name: str, **values: Any) -> None:
        prompt = self.language.prompts[name]
        if prompt.audio:
            node.play(prompt.audio)
        else:
            self.say(node, self.text(name, **values))

    def say(self, node: _Speaks, text: str) -> None:
        node.say(text, voice=self.language.voice, language=self.language.say_language)

    def day_name(self, weekday: int) -> str:
        try:
            return str(get_day_names("wide", locale=self.language.code)[weekday])
        except (UnknownLocaleError, ValueError):
            return str(get_day_names("wide", locale="en")[weekday])

    def hours(self, hours: OpeningHours) -> str:
        """ "Monday to Friday from 09:00 to 17:00" in this language; equal days are grouped."""
        groups: list[tuple[int, int, tuple[Period, ...]]] = []
        for weekday, periods in enumerate(hours.weekdays):
            if groups and groups[-1][2] == periods and groups[-1][1] == weekday - 1:
                first, _, same = groups[-1]
                groups[-1] = (first, weekday, same)
            else:
                groups.append((weekday, weekday, periods))
        parts: list[str] = []
        for first, last, periods in groups:
            if not periods:
                continue
            if first == last:
                days = self.day_name(first)
            elif last == first + 1:
                days = f"{self.day_name(first)}, {self.day_name(last)}"
            else:
                days = self.text("day_range", first=self.day_name(first), last=self.day_name(last))
            for period in periods:
                end = "24:00" if period.closes is None else period.closes.strftime("%H:%M")
                parts.append(
                    self.text(
                        "hours_period", days=days, start=period.opens.strftime("%H:%M"), end=end
                    )
                )
        return "; ".join(parts)

    def window(self, start: dt.datetime, end: dt.datetime, now: dt.datetime, tz: dt.tzinfo) -> str:
        local_start, local_end = start.astimezone(tz), end.astimezone(tz)
        today = now.astimezone(tz).date()
        values = {"start": local_start.strftime("%H:%M"), "end": local_end.strftime("%H:%M")}
        if local_start.date() == today:
            return self.text("window_today", **values)
        if local_start.date() == today + dt.timedelta(days=1):
            return self.text("window_tomorrow", **values)
        return self.text("window_day", day=self.day_name(local_start.weekday()), **values)
