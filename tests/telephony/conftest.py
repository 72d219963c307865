"""Fixtures for the voice channel: an app with Twilio configured, opening hours under the test's
control, and the simulated Twilio (`twilio`) wired as both webhook sender and REST endpoint."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from console.app import create_app, shutdown
from console.db import Database
from console.domain.contacts import Contact
from console.jobs.runner import resolve
from console.settings import Settings, load_settings
from telephony import privacy, runtime
from telephony.models import CallLeg
from telephony.simulator import SimulatedTwilio, install

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789"
PUBLIC_BASE = "https://helpline.example.org"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def write_hours(config_dir: Path, periods: list[str]) -> None:
    lines = ['country = ""', "[weekdays]"]
    lines += [f"{day} = {periods!r}".replace("'", '"') for day in WEEKDAYS]
    lines += ["[alternatives]", 'en = "To talk to someone day or night, call Tele-Onthaal on 106."']
    (config_dir / "hours.toml").write_text("\n".join(lines) + "\n")


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> Iterator[None]:
    """Each test empties the database, so the per-process caches of it start empty too."""
    privacy.block_list.invalidate()
    privacy.day_keys.forget()
    yield
    privacy.block_list.invalidate()
    privacy.day_keys.forget()


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """The shipped config, open around the clock unless a test says otherwise."""
    target = tmp_path / "config"
    shutil.copytree(ROOT / "config", target)
    write_hours(target, ["00:00-24:00"])
    return target


def voice_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        "HELPLINE_DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_KEY_SID": "SK" + "1" * 32,
        "TWILIO_API_KEY_SECRET": "api-key-secret-for-the-tests-0123456789",
        "TWILIO_TWIML_APP_SID": "AP" + "2" * 32,
        "HELPLINE_PUBLIC_BASE_URL": PUBLIC_BASE,
        **extra,
    }


@pytest.fixture
def voice_settings(config_dir: Path, database_url: str, tmp_path: Path) -> Settings:
    settings = load_settings(
        mode="test",
        env=voice_env(database_url),
        config_dir=config_dir,
        instance_dir=tmp_path / "instance",
    )
    return settings.with_overrides(background_tasks=False)


class InlineJobs:
    """Jobs run at once, in order, in the thread that enqueues them (after the commit)."""

    def __init__(self) -> None:
        self.done: list[tuple[str, tuple[Any, ...]]] = []

    def enqueue(self, path: str, *args: Any, delay: float | None = None) -> None:
        self.done.append((path, args))
        resolve(path)(*args)


@pytest.fixture
def voice_app(voice_settings: Settings, database: Database) -> Iterator[Flask]:
    app = create_app(voice_settings, database)
    yield app
    shutdown(app)


@pytest.fixture
def jobs(voice_app: Flask) -> InlineJobs:
    inline = InlineJobs()
    runtime.get().jobs = inline
    return inline


@pytest.fixture
def twilio(voice_app: Flask, jobs: InlineJobs) -> SimulatedTwilio:
    return install(voice_app)


@pytest.fixture
def counts(database: Database) -> Callable[[], tuple[int, int]]:
    """(contacts, call legs) in the database now."""

    def count() -> tuple[int, int]:
        with database.transaction(write=False) as session:
            contacts = session.scalar(select(func.count()).select_from(Contact)) or 0
            legs = session.scalar(select(func.count()).select_from(CallLeg)) or 0
        return int(contacts), int(legs)

    return count
