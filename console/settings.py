"""Typed, frozen settings: `config/*.toml` defaults, overridden by `HELPLINE_*` environment vars.

A missing or invalid setting raises `SettingsError` naming it, so start-up fails with one clear line
instead of a half-working server (there is deliberately no default secret key).
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Mode = Literal["production", "demo", "test"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_INSTANCE_DIR = PROJECT_ROOT / "instance"


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    say_language: str
    voice: str


@dataclass(frozen=True)
class Topic:
    code: str
    label: str


@dataclass(frozen=True)
class QueueSettings:
    reservation_timeout: float = 30.0
    language_overflow_after: float = 180.0
    reoffer_cooldown: float = 60.0
    tick_interval: float = 1.0
    priority: Mapping[str, int] = field(
        default_factory=lambda: {"transfer": 150, "callback": 30, "voice": 20, "chat": 10}
    )


@dataclass(frozen=True)
class OperatorSettings:
    max_chats: int = 3
    failed_logins_before_lockout: int = 5
    lockout_minutes: int = 15


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str | None = None
    auth_token: str | None = None
    api_key_sid: str | None = None
    api_key_secret: str | None = None
    twiml_app_sid: str | None = None
    # The URL Twilio uses to reach us, so signatures validate behind a TLS-terminating proxy.
    public_base_url: str | None = None


@dataclass(frozen=True)
class Settings:
    mode: Mode
    secret_key: str
    database_url: str
    redis_url: str | None
    instance_dir: Path
    config_dir: Path
    helpline_name: str
    helpline_number: str
    timezone: str
    emergency_number: str
    quick_exit_url: str
    languages: tuple[Language, ...]
    topics: tuple[Topic, ...]
    queue: QueueSettings
    operators: OperatorSettings
    twilio: TwilioSettings
    demo_contact_interval: float = 6.0
    # Number of proxies in front of the app whose X-Forwarded-* headers are trusted (ProxyFix).
    proxy_count: int = 0
    # In-process background work (routing tick, demo stream); tests switch it off to drive time.
    background_tasks: bool = True
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # HELPLINE_* and TWILIO_* variables as read at load time, for packages' own typed settings.
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def hours_path(self) -> Path:
        """The opening hours: the helpline's own, or the demo's around-the-clock ones."""
        demo = self.config_dir / "demo" / "hours.toml"
        if self.mode == "demo" and demo.exists():
            return demo
        return self.config_dir / "hours.toml"

    @property
    def socketio_channel(self) -> str:
        """See `socketio_channel`."""
        return socketio_channel(self.redis_url or "redis://")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def language_codes(self) -> tuple[str, ...]:
        return tuple(lang.code for lang in self.languages)

    @property
    def topic_codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.topics)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def socketio_channel(redis_url: str) -> str:
    """The Redis Pub/Sub channel of the Socket.IO message queue, named for the Redis database.

    Keys and RQ queues live in one numbered database, but Pub/Sub channels are server-wide: two
    lines sharing a Redis server, each in a database of its own, would otherwise put their live
    events (contact references, topics, operators' names) on each other's consoles.
    """
    from redis.connection import parse_url

    db = parse_url(redis_url).get("db", 0)  # type: ignore[no-untyped-call]
    return f"helpline-socketio:{db}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML ({exc})") from exc


def _number(name: str, value: Any, *, minimum: float = 0) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{name}: expected a number, got {value!r}") from exc
    if result < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {value!r}")
    return result


def _integer(name: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise SettingsError(f"{name}: expected a whole number, got {value!r}")
    try:
        result = int(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{name}: expected a whole number, got {value!r}") from exc
    if result < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {value!r}")
    return result


def _demo_secret(instance_dir: Path) -> str:
    """The demo keeps one generated key in instance/ so sessions survive a restart."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _database_url(env: Mapping[str, str], instance_dir: Path) -> str:
    url = env.get("HELPLINE_DATABASE_URL", "").strip()
    if not url:
        instance_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{instance_dir / 'helpline.sqlite3'}"
    if not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        raise SettingsError(
            "HELPLINE_DATABASE_URL: expected a sqlite:/// or postgresql:// URL, "
            f"got one starting {url.split(':', 1)[0]!r}"
        )
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _languages(data: dict[str, Any]) -> tuple[Language, ...]:
    items = data.get("language", [])
    if not items:
        raise SettingsError("config/languages.toml: at least one [[language]] is required")
    result = []
    for i, item in enumerate(items):
        try:
            result.append(
                Language(
                    code=str(item["code"]),
                    name=str(item["name"]),
                    say_language=str(item.get("say_language", item["code"])),
                    voice=str(item.get("voice", "alice")),
                )
            )
        except KeyError as exc:
            raise SettingsError(f"config/languages.toml: language #{i + 1} lacks {exc}") from exc
    return tuple(result)


def _topics(data: dict[str, Any]) -> tuple[Topic, ...]:
    return tuple(Topic(code=str(t["code"]), label=str(t["label"])) for t in data.get("topic", []))


def load_settings(
    mode: Mode = "production",
    env: Mapping[str, str] | None = None,
    config_dir: Path | None = None,
    instance_dir: Path | None = None,
) -> Settings:
    env = os.environ if env is None else env
    config_dir = config_dir or Path(env.get("HELPLINE_CONFIG_DIR", DEFAULT_CONFIG_DIR))
    instance_dir = instance_dir or Path(env.get("HELPLINE_INSTANCE_DIR", DEFAULT_INSTANCE_DIR))
    base = _read_toml(config_dir / "helpline.toml")
    helpline = base.get("helpline", {})
    queue = base.get("queue", {})
    ops = base.get("operators", {})

    secret = env.get("HELPLINE_SECRET_KEY", "").strip()
    if not secret:
        if mode == "production":
            raise SettingsError(
                "HELPLINE_SECRET_KEY: required outside demo and test (e.g. `python -c "
                "'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        secret = _demo_secret(instance_dir) if mode == "demo" else secrets.token_urlsafe(32)
    elif len(secret) < 16:
        raise SettingsError("HELPLINE_SECRET_KEY: must be at least 16 characters")

    redis_url = env.get("HELPLINE_REDIS_URL", "").strip() or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"HELPLINE_REDIS_URL: expected redis://…, got {redis_url[:12]!r}")

    timezone = env.get("HELPLINE_TIMEZONE", helpline.get("timezone", "Europe/Brussels"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"HELPLINE_TIMEZONE: unknown time zone {timezone!r}") from exc

    priority = {"transfer": 150, "callback": 30, "voice": 20, "chat": 10}
    for key, value in queue.get("priority", {}).items():
        priority[key] = _integer(f"queue.priority.{key}", value)

    return Settings(
        mode=mode,
        secret_key=secret,
        database_url=_database_url(env, instance_dir),
        redis_url=redis_url,
        instance_dir=instance_dir,
        config_dir=config_dir,
        helpline_name=str(helpline.get("name", "Helpline")),
        helpline_number=str(helpline.get("number", "")),
        timezone=timezone,
        emergency_number=str(helpline.get("emergency_number", "112")),
        quick_exit_url=str(helpline.get("quick_exit_url", "https://www.google.com")),
        languages=_languages(_read_toml(config_dir / "languages.toml")),
        topics=_topics(_read_toml(config_dir / "topics.toml")),
        queue=QueueSettings(
            reservation_timeout=_number(
                "queue.reservation_timeout",
                env.get("HELPLINE_RESERVATION_TIMEOUT", queue.get("reservation_timeout", 30)),
                minimum=1,
            ),
            language_overflow_after=_number(
                "queue.language_overflow_after", queue.get("language_overflow_after", 180)
            ),
            reoffer_cooldown=_number("queue.reoffer_cooldown", queue.get("reoffer_cooldown", 60)),
            tick_interval=_number(
                "queue.tick_interval", queue.get("tick_interval", 1.0), minimum=0.05
            ),
            priority=priority,
        ),
        operators=OperatorSettings(
            max_chats=_integer("operators.max_chats", ops.get("max_chats", 3), minimum=1),
            failed_logins_before_lockout=_integer(
                "operators.failed_logins_before_lockout",
                ops.get("failed_logins_before_lockout", 5),
                minimum=1,
            ),
            lockout_minutes=_integer(
                "operators.lockout_minutes", ops.get("lockout_minutes", 15), minimum=1
            ),
        ),
        twilio=TwilioSettings(
            account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
            auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            api_key_sid=env.get("TWILIO_API_KEY_SID") or None,
            api_key_secret=env.get("TWILIO_API_KEY_SECRET") or None,
            twiml_app_sid=env.get("TWILIO_TWIML_APP_SID") or None,
            public_base_url=env.get("HELPLINE_PUBLIC_BASE_URL") or None,
        ),
        demo_contact_interval=_number(
            "demo.contact_interval",
            base.get("demo", {}).get("contact_interval", 6.0),
            minimum=0.05,
        ),
        proxy_count=_integer("HELPLINE_PROXY_COUNT", env.get("HELPLINE_PROXY_COUNT", "0")),
        raw=base,
        env={k: v for k, v in env.items() if k.startswith(("HELPLINE_", "TWILIO_"))},
    )
