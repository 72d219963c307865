"""Fixtures for the records tests: a fresh key ring, the records settings, held contacts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from console.db import Database
from console.domain import consent, crypto, queue
from console.domain.records_config import RecordsSettings, load_records_settings
from console.settings import Settings
from tests.support import make_operator

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests make many accounts; argon2 at production cost would dominate their run time."""
    from argon2 import PasswordHasher

    from console.domain import operators

    monkeypatch.setattr(
        operators, "_hasher", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)
    )


@pytest.fixture(autouse=True)
def keyring() -> Iterator[crypto.KeyRing]:
    """Each test gets its own key ring (the app factory replaces it when a test builds an app)."""
    ring = crypto.configure([crypto.generate_key()])
    consent.configure_limits({})
    return ring


@pytest.fixture
def records(settings: Settings) -> RecordsSettings:
    return load_records_settings(settings)


def held_contact(
    database: Database,
    settings: Settings,
    operator_id: int,
    *,
    channel: str = "voice",
    language: str = "nl",
    wrap_up: bool = False,
) -> int:
    """A contact the operator has accepted (and, with `wrap_up`, ended)."""
    with database.transaction() as s:
        contact = queue.enqueue(s, channel=channel, language=language, cfg=settings.queue)
        queue.claim(s, contact.id, operator_id)
        if wrap_up:
            queue.start_wrap_up(s, contact.id, operator_id)
        return contact.id


@pytest.fixture
def ana(database: Database) -> int:
    return make_operator(database, "ana")


def kb_service(database: Database, service_id: str, name: str) -> None:
    """A service in the knowledge base's directory, which referrals must name."""
    from knowledge.models import Organization, Service

    with database.transaction() as s:
        if s.get(Organization, "org-partner") is None:
            s.add(Organization(id="org-partner", name="Partner", description="A partner"))
            s.flush()
        s.add(Service(id=service_id, organization_id="org-partner", name=name, status="active"))
