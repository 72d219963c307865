"""Telephony's own settings: config/ivr.toml (menu, prompts, callbacks, fallback) and Twilio's keys.

Loaded once by `create_app` (through `telephony.init_app`), so a missing prompt or a bad number
stops start-up with one line naming it, instead of a caller hearing silence.
"""

from __future__ import annotations

import re
import secrets
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.settings import Settings, SettingsError

# Every language must say each of these; the ones with placeholders cannot be recorded audio.
PROMPTS = (
    "greeting",
    "language_option",
    "topic_intro",
    "topic_option",
    "topic_skip",
    "queue_entered",
    "position",
    "estimate",
    "estimate_short",
    "callback_offer",
    "partner_line",
    "closed",
    "hours_period",
    "day_range",
    "emergency",
    "blocked",
    "connecting",
    "reconnecting",
    "goodbye",
    "invalid",
    "unavailable",
    "callback_explain",
    "callback_window",
    "window_today",
    "window_tomorrow",
    "window_day",
    "callback_confirmed",
    "callback_unavailable",
    "callback_greeting",
    "callback_wait",
    "fallback",
)
E164 = re.compile(r"^\+[1-9][0-9]{6,14}\Z")


@dataclass(frozen=True)
class Prompt:
    text: str
    audio: str | None = None

    @property
    def placeholders(self) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(self.text) if name}


@dataclass(frozen=True)
class VoiceLanguage:
    code: str
    name: str
    say_language: str
    voice: str
    digit: str
    prompts: Mapping[str, Prompt]
    topic_names: Mapping[str, str]


@dataclass(frozen=True)
class CallbackSettings:
    enabled: bool = True
    key: str = "9"
    max_attempts: int = 3
    retry_minutes: float = 10
    window_minutes: int = 120
    windows_offered: int = 3
    caller_id: str | None = None
    ring_seconds: int = 25


@dataclass(frozen=True)
class TelephonySettings:
    account_sid: str | None
    auth_token: str
    # False when no TWILIO_AUTH_TOKEN was configured in production: every webhook is refused.
    token_configured: bool
    api_key_sid: str | None
    api_key_secret: str | None
    twiml_app_sid: str | None
    public_base_url: str | None
    secret_key: str
    helpline_name: str
    emergency_number: str
    queue_name: str
    languages: tuple[VoiceLanguage, ...]
    country_languages: Mapping[str, str]
    ask_topic: bool
    topics: tuple[str, ...]
    short_abandon_seconds: float
    wait_pause_seconds: int
    hold_music_url: str | None
    dial_timeout: int
    gather_timeout: int
    block_hours: tuple[int, ...]
    desk_phones: Mapping[str, str]
    callback: CallbackSettings
    overflow_number: str | None
    token_ttl: int = 3600
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def default_language(self) -> VoiceLanguage:
        return self.languages[0]

    def language(self, code: str | None) -> VoiceLanguage:
        for lang in self.languages:
            if lang.code == code:
                return lang
        return self.default_language

    def by_digit(self, digit: str) -> VoiceLanguage | None:
        return next((lang for lang in self.languages if lang.digit == digit), None)

    @property
    def voice_sdk_configured(self) -> bool:
        return bool(self.account_sid and self.api_key_sid and self.api_key_secret)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise SettingsError(f"{path}: missing (the phone menu's prompts live there)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML ({exc})") from exc


def _int(name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SettingsError(f"config/ivr.toml: {name}: expected a whole number, got {value!r}")
    try:
        result = int(value)
    except ValueError as exc:
        raise SettingsError(f"config/ivr.toml: {name}: expected a whole number") from exc
    if result < minimum:
        raise SettingsError(f"config/ivr.toml: {name}: must be at least {minimum}")
    return result


def _number(name: str, value: str | None) -> str | None:
    value = (value or "").strip().replace(" ", "")
    if not value:
        return None
    if not E164.match(value):
        raise SettingsError(f"config/ivr.toml: {name}: expected an E.164 number like +3225550100")
    return value


def _url(name: str, value: Any) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    if not text.startswith(("https://", "http://")):
        raise SettingsError(f"config/ivr.toml: {name}: expected an http(s) URL")
    return text


def _prompts(
    code: str, texts: Mapping[str, Any], audio: Mapping[str, Any]
) -> tuple[dict[str, Prompt], dict[str, str]]:
    prompts: dict[str, Prompt] = {}
    for name in PROMPTS:
        text = texts.get(name)
        if not isinstance(text, str) or not text.strip():
            raise SettingsError(f"config/ivr.toml: prompts.{code}.{name}: missing")
        prompt = Prompt(text.strip(), _url(f"audio.{code}.{name}", audio.get(name)))
        # The line's name and emergency number never change, so a recording can say them.
        changing = prompt.placeholders - {"helpline", "emergency"}
        if prompt.audio and changing:
            raise SettingsError(
                f"config/ivr.toml: audio.{code}.{name}: a recording cannot say "
                f"{{{sorted(changing)[0]}}}; keep this prompt as text"
            )
        prompts[name] = prompt
    unknown = set(audio) - set(PROMPTS)
    if unknown:
        raise SettingsError(f"config/ivr.toml: audio.{code}.{sorted(unknown)[0]}: no such prompt")
    names = texts.get("topic_names", {})
    return prompts, {str(k): str(v) for k, v in names.items()}


def _auth_token(settings: Settings) -> tuple[str, bool]:
    token = settings.twilio.auth_token
    if token:
        return token, True
    if settings.mode == "demo":
        # The demo's simulated calls sign with a token kept in instance/, like the secret key.
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
        path = settings.instance_dir / "twilio_demo_token"
        if not path.exists():
            path.write_text(secrets.token_hex(16))
            path.chmod(0o600)
        return path.read_text().strip(), True
    if settings.mode == "test":
        return secrets.token_hex(16), True
    # Production without a token: no request can be verified, so every webhook is refused.
    return secrets.token_hex(32), False


def load_telephony_settings(settings: Settings) -> TelephonySettings:
    data = _read(settings.config_dir / "ivr.toml")
    voice = data.get("voice", {})
    prompts = data.get("prompts", {})
    audio = data.get("audio", {})

    languages: list[VoiceLanguage] = []
    for index, lang in enumerate(settings.languages):
        if lang.code not in prompts:
            raise SettingsError(f"config/ivr.toml: prompts.{lang.code}: missing for {lang.name}")
        texts, topic_names = _prompts(lang.code, prompts[lang.code], audio.get(lang.code, {}))
        languages.append(
            VoiceLanguage(
                code=lang.code,
                name=lang.name,
                say_language=lang.say_language,
                voice=lang.voice,
                digit=str(index + 1),
                prompts=texts,
                topic_names=topic_names,
            )
        )
    if len(languages) > 9:
        raise SettingsError("config/languages.toml: the phone menu offers at most 9 languages")

    topics = tuple(str(t) for t in voice.get("topics", []))
    known_topics = set(settings.topic_codes)
    for topic in topics:
        if topic not in known_topics:
            raise SettingsError(f"config/ivr.toml: voice.topics: {topic!r} is not a topic")
        for voice_lang in languages:
            if topic not in voice_lang.topic_names:
                raise SettingsError(
                    f"config/ivr.toml: prompts.{voice_lang.code}.topic_names.{topic}: missing"
                )
    if len(topics) > 9:
        raise SettingsError("config/ivr.toml: voice.topics: at most 9 (one key each)")

    country_languages: dict[str, str] = {}
    codes = {lang.code for lang in languages}
    for country, code in voice.get("country_languages", {}).items():
        if code in codes:
            country_languages[str(country).upper()] = str(code)

    desk_phones = {}
    for username, number in voice.get("desk_phones", {}).items():
        checked = _number(f"voice.desk_phones.{username}", str(number))
        if checked:
            desk_phones[str(username).lower()] = checked

    cb = data.get("callback", {})
    key = str(cb.get("key", "9"))
    if not re.fullmatch(r"[0-9*#]", key):
        raise SettingsError("config/ivr.toml: callback.key: one key, 0-9, * or #")
    callback = CallbackSettings(
        enabled=bool(cb.get("enabled", True)),
        key=key,
        max_attempts=_int("callback.max_attempts", cb.get("max_attempts", 3), 1),
        retry_minutes=float(_int("callback.retry_minutes", cb.get("retry_minutes", 10), 1)),
        window_minutes=_int("callback.window_minutes", cb.get("window_minutes", 120), 15),
        windows_offered=_int("callback.windows_offered", cb.get("windows_offered", 3), 1),
        caller_id=_number("callback.caller_id", cb.get("caller_id")),
        ring_seconds=_int("callback.ring_seconds", cb.get("ring_seconds", 25), 5),
    )
    if callback.windows_offered > 9:
        raise SettingsError("config/ivr.toml: callback.windows_offered: at most 9")

    token, configured = _auth_token(settings)
    block_hours = tuple(_int("voice.block_hours", h, 1) for h in voice.get("block_hours", [24]))
    return TelephonySettings(
        account_sid=settings.twilio.account_sid,
        auth_token=token,
        token_configured=configured,
        api_key_sid=settings.twilio.api_key_sid,
        api_key_secret=settings.twilio.api_key_secret,
        twiml_app_sid=settings.twilio.twiml_app_sid,
        public_base_url=(settings.twilio.public_base_url or "").rstrip("/") or None,
        secret_key=settings.secret_key,
        helpline_name=settings.helpline_name,
        emergency_number=settings.emergency_number,
        queue_name=str(voice.get("queue_name", "helpline"))[:64],
        languages=tuple(languages),
        country_languages=country_languages,
        ask_topic=bool(voice.get("ask_topic", True)) and bool(topics),
        topics=topics,
        short_abandon_seconds=float(
            _int("voice.short_abandon_seconds", voice.get("short_abandon_seconds", 10))
        ),
        wait_pause_seconds=_int("voice.wait_pause_seconds", voice.get("wait_pause_seconds", 20), 1),
        hold_music_url=_url("voice.hold_music_url", voice.get("hold_music_url")),
        dial_timeout=_int("voice.dial_timeout", voice.get("dial_timeout", 20), 5),
        gather_timeout=_int("voice.gather_timeout", voice.get("gather_timeout", 6), 1),
        block_hours=block_hours or (24,),
        desk_phones=desk_phones,
        callback=callback,
        overflow_number=_number(
            "fallback.overflow_number", data.get("fallback", {}).get("overflow_number")
        ),
        extra=data,
    )
