"""The statistics' own settings, from `config/wallboard.toml` (see the comments in that file).

Frozen and typed like the spine's settings; a missing or invalid value raises `SettingsError`
naming it, so start-up fails early. The domain reads the active settings with `current()`; the app
factory (through the lead blueprint) and the CLI install them with `install()`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from console.settings import DEFAULT_CONFIG_DIR, Settings, SettingsError

LEVELS = ("ok", "amber", "red")
FILE = "wallboard.toml"


@dataclass(frozen=True)
class Band:
    """Two thresholds. `higher_is_worse` for waits and rates of loss; not for service level."""

    amber: float
    red: float
    higher_is_worse: bool = True

    def level(self, value: float | None) -> str:
        if value is None:
            return "ok"
        if self.higher_is_worse:
            return "red" if value >= self.red else "amber" if value >= self.amber else "ok"
        return "red" if value < self.red else "amber" if value < self.amber else "ok"


@dataclass(frozen=True)
class PartnerLine:
    code: str
    name: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class WellbeingSettings:
    heavy_tracks: frozenset[str] = frozenset({"serious", "very_serious"})
    heavy_victimisation: frozenset[str] = frozenset()
    break_after_heavy_minutes: float = 45
    break_after_consecutive_heavy: int = 3
    no_break: Band = field(default_factory=lambda: Band(120, 180))


@dataclass(frozen=True)
class StatsSettings:
    timezone: str = "Europe/Brussels"
    sl_target: float = 0.8
    answer_within: Mapping[str, float] = field(
        default_factory=lambda: {"voice": 20, "chat": 60, "callback": 7200}
    )
    short_abandon: Mapping[str, float] = field(
        default_factory=lambda: {"voice": 5, "chat": 10, "callback": 0}
    )
    callback_overdue_after: float = 7200
    callback_urgent_overdue_after: float = 1800
    min_contacts: int = 5
    no_operator_level: str = "red"
    no_free_operator_level: str = "amber"
    longest_wait: Band = field(default_factory=lambda: Band(60, 120))
    abandonment: Band = field(default_factory=lambda: Band(0.05, 0.10))
    callbacks_overdue: Band = field(default_factory=lambda: Band(1, 3))
    service_level: Mapping[str, Band] = field(
        default_factory=lambda: {
            "voice": Band(0.8, 0.6, higher_is_worse=False),
            "chat": Band(0.8, 0.6, higher_is_worse=False),
            "callback": Band(0.8, 0.5, higher_is_worse=False),
        }
    )
    wellbeing: WellbeingSettings = field(default_factory=WellbeingSettings)
    small_count_threshold: int = 5
    partner_lines: tuple[PartnerLine, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def answer_within_ms(self, channel: str) -> int:
        return int(self.answer_within.get(channel, 20) * 1000)

    def short_abandon_ms(self, channel: str) -> int:
        return int(self.short_abandon.get(channel, 0) * 1000)

    def sl_band(self, channel: str | None) -> Band:
        if channel is None:
            # The whole line is judged by the strictest channel's thresholds.
            return Band(
                max((b.amber for b in self.service_level.values()), default=0.8),
                max((b.red for b in self.service_level.values()), default=0.6),
                higher_is_worse=False,
            )
        return self.service_level.get(channel, Band(0.8, 0.6, higher_is_worse=False))


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML ({exc})") from exc


def _num(name: str, value: Any, *, minimum: float = 0, maximum: float | None = None) -> float:
    if isinstance(value, bool):
        raise SettingsError(f"wallboard.{name}: expected a number, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"wallboard.{name}: expected a number, got {value!r}") from exc
    if result < minimum or (maximum is not None and result > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise SettingsError(f"wallboard.{name}: must be {bound}, got {value!r}")
    return result


def _band(name: str, data: Any, default: Band, *, rate: bool = False) -> Band:
    if data is None:
        return default
    if not isinstance(data, dict):
        raise SettingsError(f"wallboard.{name}: expected a table with amber and red")
    top = 1.0 if rate else None
    amber = _num(f"{name}.amber", data.get("amber", default.amber), maximum=top)
    red = _num(f"{name}.red", data.get("red", default.red), maximum=top)
    if default.higher_is_worse and red < amber:
        raise SettingsError(f"wallboard.{name}: red ({red}) must not be below amber ({amber})")
    if not default.higher_is_worse and red > amber:
        raise SettingsError(f"wallboard.{name}: red ({red}) must not be above amber ({amber})")
    return Band(amber, red, default.higher_is_worse)


def _level(name: str, value: Any, default: str) -> str:
    value = default if value is None else value
    if value not in LEVELS:
        raise SettingsError(f"wallboard.{name}: one of {', '.join(LEVELS)}, got {value!r}")
    return str(value)


def _per_channel(name: str, data: Any, default: Mapping[str, float]) -> dict[str, float]:
    result = dict(default)
    if data is None:
        return result
    if not isinstance(data, dict):
        raise SettingsError(f"wallboard.{name}: expected a table of channel = seconds")
    for channel, value in data.items():
        result[str(channel)] = _num(f"{name}.{channel}", value)
    return result


def _records_threshold(config_dir: Path) -> int | None:
    """The records feature's small-count threshold (config/export.toml), when it sets one."""
    data = _read(config_dir / "export.toml")
    if "small_count_threshold" in data:
        return int(_num("export.small_count_threshold", data["small_count_threshold"], minimum=1))
    return None


def load_stats_settings_from(config_dir: Path, timezone: str) -> StatsSettings:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"HELPLINE_TIMEZONE: unknown time zone {timezone!r}") from exc
    data = _read(config_dir / FILE)
    defaults = StatsSettings()
    sl = data.get("service_level", {})
    thresholds = data.get("thresholds", {})
    callbacks = data.get("callbacks", {})
    wb = data.get("wellbeing", {})
    wb_default = WellbeingSettings()
    sl_bands = dict(defaults.service_level)
    for channel, band in (thresholds.get("service_level") or {}).items():
        sl_bands[str(channel)] = _band(
            f"thresholds.service_level.{channel}",
            band,
            sl_bands.get(str(channel), Band(0.8, 0.6, higher_is_worse=False)),
            rate=True,
        )
    partners = []
    for i, item in enumerate(data.get("partner_line", [])):
        try:
            partners.append(
                PartnerLine(
                    code=str(item["code"]),
                    name=str(item["name"]),
                    languages=tuple(str(x) for x in item.get("languages", [])),
                )
            )
        except KeyError as exc:
            raise SettingsError(f"wallboard.partner_line #{i + 1} lacks {exc}") from exc
    export = data.get("export", {})
    threshold = _records_threshold(config_dir) or int(
        _num(
            "export.small_count_threshold",
            export.get("small_count_threshold", defaults.small_count_threshold),
            minimum=1,
        )
    )
    return StatsSettings(
        timezone=timezone,
        sl_target=_num("service_level.target", sl.get("target", 0.8), maximum=1),
        answer_within=_per_channel(
            "service_level.answer_within", sl.get("answer_within"), defaults.answer_within
        ),
        short_abandon=_per_channel(
            "short_abandon", data.get("short_abandon"), defaults.short_abandon
        ),
        callback_overdue_after=_num(
            "callbacks.overdue_after", callbacks.get("overdue_after", 7200), minimum=1
        ),
        callback_urgent_overdue_after=_num(
            "callbacks.urgent_overdue_after",
            callbacks.get("urgent_overdue_after", 1800),
            minimum=1,
        ),
        min_contacts=int(_num("thresholds.min_contacts", thresholds.get("min_contacts", 5))),
        no_operator_level=_level(
            "thresholds.no_operator_for_language",
            thresholds.get("no_operator_for_language"),
            "red",
        ),
        no_free_operator_level=_level(
            "thresholds.no_free_operator_for_language",
            thresholds.get("no_free_operator_for_language"),
            "amber",
        ),
        longest_wait=_band(
            "thresholds.longest_wait", thresholds.get("longest_wait"), defaults.longest_wait
        ),
        abandonment=_band(
            "thresholds.abandonment",
            thresholds.get("abandonment"),
            defaults.abandonment,
            rate=True,
        ),
        callbacks_overdue=_band(
            "thresholds.callbacks_overdue",
            thresholds.get("callbacks_overdue"),
            defaults.callbacks_overdue,
        ),
        service_level=sl_bands,
        wellbeing=WellbeingSettings(
            heavy_tracks=frozenset(str(x) for x in wb.get("heavy_tracks", wb_default.heavy_tracks)),
            heavy_victimisation=frozenset(str(x) for x in wb.get("heavy_victimisation", [])),
            break_after_heavy_minutes=_num(
                "wellbeing.break_after_heavy_minutes",
                wb.get("break_after_heavy_minutes", 45),
                minimum=1,
            ),
            break_after_consecutive_heavy=int(
                _num(
                    "wellbeing.break_after_consecutive_heavy",
                    wb.get("break_after_consecutive_heavy", 3),
                    minimum=1,
                )
            ),
            no_break=_band(
                "wellbeing",
                {
                    "amber": wb.get("no_break_amber_minutes", 120),
                    "red": wb.get("no_break_red_minutes", 180),
                },
                wb_default.no_break,
            ),
        ),
        small_count_threshold=threshold,
        partner_lines=tuple(partners),
    )


def load_stats_settings(settings: Settings) -> StatsSettings:
    return load_stats_settings_from(settings.config_dir, settings.timezone)


_installed: StatsSettings | None = None


def install(stats: StatsSettings) -> StatsSettings:
    """Make these the settings the domain's hooks and snapshots use in this process."""
    global _installed
    _installed = stats
    return stats


def current() -> StatsSettings:
    """The installed settings; a process that installed none (a worker) reads the defaults."""
    if _installed is not None:
        return _installed
    config_dir = Path(os.environ.get("HELPLINE_CONFIG_DIR", DEFAULT_CONFIG_DIR))
    helpline = _read(config_dir / "helpline.toml").get("helpline", {})
    timezone = os.environ.get("HELPLINE_TIMEZONE", helpline.get("timezone", "Europe/Brussels"))
    return install(load_stats_settings_from(config_dir, timezone))
