"""The chat's own typed settings, from `config/chat.toml` with `HELPLINE_CHAT_*` overrides.

Loaded by `create_app` (through `chat.init_app`) so that a bad value stops start-up with one line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from console.settings import Settings, SettingsError


@dataclass(frozen=True)
class CannedDefault:
    key: str
    title: str
    text: Mapping[str, str]


@dataclass(frozen=True)
class SurveyAnswer:
    code: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class SurveyQuestion:
    key: str
    question: Mapping[str, str]
    answers: tuple[SurveyAnswer, ...]


@dataclass(frozen=True)
class ChatSettings:
    allowed_origins: tuple[str, ...] = ()
    max_message_length: int = 2000
    retention_days: int = 0
    abandon_after: float = 300.0
    survey_window: float = 3600.0
    offer_case_reference: bool = True
    messages_per_window: int = 8
    window_seconds: float = 10.0
    starts_per_hour: int = 6
    block_durations: tuple[int, ...] = (60, 1440)
    pseudonym_rotation_hours: float = 24.0
    canned: tuple[CannedDefault, ...] = ()
    survey: tuple[SurveyQuestion, ...] = ()
    # Seconds between two pushes of queue positions to waiting visitors (per server process).
    position_interval: float = 1.0
    languages: tuple[str, ...] = field(default_factory=tuple)

    @property
    def rotation_seconds(self) -> float:
        return self.pseudonym_rotation_hours * 3600


def _origin(value: Any, name: str) -> str:
    text = str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
        raise SettingsError(f"{name}: {text!r} is not an origin like https://www.example.org")
    return f"{parts.scheme}://{parts.netloc}".lower()


def _int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool):
        raise SettingsError(f"{name}: expected a whole number, got {value!r}")
    try:
        result = int(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{name}: expected a whole number, got {value!r}") from exc
    if result < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {value!r}")
    return result


def _float(name: str, value: Any, minimum: float) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{name}: expected a number, got {value!r}") from exc
    if result < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {value!r}")
    return result


def _texts(name: str, value: Any, languages: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(value, dict):
        raise SettingsError(f"{name}: expected a table of texts per language")
    texts = {str(k): str(v) for k, v in value.items()}
    if "en" not in texts and languages and languages[0] not in texts:
        raise SettingsError(f"{name}: needs at least a text in {languages[0]!r} or 'en'")
    return texts


def _canned(items: Any, languages: tuple[str, ...]) -> tuple[CannedDefault, ...]:
    result = []
    seen: set[str] = set()
    for i, item in enumerate(items or []):
        name = f"config/chat.toml: canned #{i + 1}"
        key = str(item.get("key", "")).strip()
        if not key or len(key) > 64 or key in seen:
            raise SettingsError(f"{name}: needs a unique key of at most 64 characters")
        seen.add(key)
        result.append(
            CannedDefault(
                key=key,
                title=str(item.get("title", key)),
                text=_texts(f"{name}.text", item.get("text"), languages),
            )
        )
    return tuple(result)


def _survey(items: Any, languages: tuple[str, ...]) -> tuple[SurveyQuestion, ...]:
    result = []
    for i, item in enumerate(items or []):
        name = f"config/chat.toml: survey #{i + 1}"
        key = str(item.get("key", "")).strip()
        if not key or len(key) > 32:
            raise SettingsError(f"{name}: needs a key of at most 32 characters")
        answers = tuple(
            SurveyAnswer(
                code=str(a["code"]),
                labels={str(k): str(v) for k, v in a.items() if k != "code"},
            )
            for a in item.get("answers", [])
        )
        if len(answers) < 2:
            raise SettingsError(f"{name}: needs at least two answers")
        result.append(
            SurveyQuestion(
                key=key,
                question=_texts(f"{name}.question", item.get("question"), languages),
                answers=answers,
            )
        )
    if len(result) > 2:
        raise SettingsError("config/chat.toml: survey: ask at most two questions")
    return tuple(result)


def load_chat_settings(settings: Settings) -> ChatSettings:
    path = settings.config_dir / "chat.toml"
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
    except FileNotFoundError:
        data = {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML ({exc})") from exc
    env = settings.env
    chat = data.get("chat", {})
    rate = chat.get("rate_limit", {})
    blocking = chat.get("blocking", {})
    languages = settings.language_codes

    raw_origins: Any = chat.get("allowed_origins", [])
    if env.get("HELPLINE_CHAT_ALLOWED_ORIGINS") is not None:
        raw_origins = [o for o in env["HELPLINE_CHAT_ALLOWED_ORIGINS"].split(",") if o.strip()]
    if not isinstance(raw_origins, list):
        raise SettingsError("chat.allowed_origins: expected a list of origins")
    origins = tuple(_origin(o, "chat.allowed_origins") for o in raw_origins)

    durations = blocking.get("durations", [60, 1440])
    if not isinstance(durations, list) or not durations:
        raise SettingsError("chat.blocking.durations: expected a list of minutes")
    rotation = _float(
        "chat.blocking.pseudonym_rotation_hours",
        blocking.get("pseudonym_rotation_hours", 24),
        minimum=1,
    )
    block_durations = tuple(_int("chat.blocking.durations", d, 1) for d in durations)
    if max(block_durations) > rotation * 60 * 2:
        # A block outliving two keys could only be kept by storing something more lasting.
        raise SettingsError(
            "chat.blocking.durations: a block may last at most twice the pseudonym rotation"
        )

    return ChatSettings(
        allowed_origins=origins,
        max_message_length=_int("chat.max_message_length", chat.get("max_message_length", 2000), 1),
        retention_days=_int(
            "HELPLINE_CHAT_RETENTION_DAYS",
            env.get("HELPLINE_CHAT_RETENTION_DAYS", chat.get("retention_days", 0)),
            0,
        ),
        abandon_after=_float(
            "HELPLINE_CHAT_ABANDON_AFTER",
            env.get("HELPLINE_CHAT_ABANDON_AFTER", chat.get("abandon_after", 300)),
            1,
        ),
        survey_window=_float("chat.survey_window", chat.get("survey_window", 3600), 0),
        offer_case_reference=bool(chat.get("offer_case_reference", True)),
        messages_per_window=_int("chat.rate_limit.messages", rate.get("messages", 8), 1),
        window_seconds=_float("chat.rate_limit.per_seconds", rate.get("per_seconds", 10), 0.1),
        starts_per_hour=_int("chat.rate_limit.starts_per_hour", rate.get("starts_per_hour", 6), 1),
        block_durations=block_durations,
        pseudonym_rotation_hours=rotation,
        canned=_canned(data.get("canned"), languages),
        survey=_survey(data.get("survey"), languages),
        languages=languages,
    )
