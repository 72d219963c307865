"""Helpers for the statistics tests: operators without password hashing, and contacts driven
through the real queue API at chosen moments (so the rollups' hooks run as in production)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from console.db import Database
from console.domain import operators, outcomes, queue
from console.domain.operators import Operator
from console.settings import QueueSettings

UTC = dt.UTC


def utc(text: str) -> dt.datetime:
    """An aware UTC moment from 'YYYY-MM-DD HH:MM:SS[.fff]'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def quick_operator(
    session: Session,
    username: str,
    *,
    languages: list[str] | None = None,
    role: str = "operator",
    max_chats: int = 3,
) -> int:
    """An operator row without argon2 hashing (property tests create many)."""
    operator = Operator(
        username=username,
        display_name=username.capitalize(),
        password_hash="not-a-hash",
        role=role,
        languages=languages or ["nl", "fr", "en"],
        skills=[],
        max_chats=max_chats,
        presence="offline",
        presence_since=utc("2020-01-01 00:00:00"),
    )
    session.add(operator)
    session.flush()
    return operator.id


def set_presence(database: Database, operator_id: int, presence: str, at: dt.datetime) -> None:
    with database.transaction() as s:
        operators.set_presence(s, operators.get_operator(s, operator_id), presence, at)


def taxonomy(config_dir: Any) -> outcomes.OutcomeTaxonomy:
    return outcomes.load_outcome_taxonomy(config_dir / "outcomes.toml")


def enqueue(database: Database, cfg: QueueSettings, at: dt.datetime, **kw: Any) -> int:
    kw.setdefault("channel", "voice")
    kw.setdefault("language", "nl")
    kw.setdefault("topic", "general")
    with database.transaction() as s:
        return queue.enqueue(s, cfg=cfg, now=at, **kw).id


def answer(database: Database, contact_id: int, operator_id: int, at: dt.datetime) -> None:
    with database.transaction() as s:
        queue.claim(s, contact_id, operator_id, now=at)


def end(database: Database, contact_id: int, operator_id: int, at: dt.datetime) -> None:
    with database.transaction() as s:
        queue.start_wrap_up(s, contact_id, operator_id, now=at)


def close(
    database: Database,
    tax: outcomes.OutcomeTaxonomy,
    contact_id: int,
    operator_id: int,
    at: dt.datetime,
    details: dict[str, Any] | None = None,
    code: str = "information_given",
) -> None:
    with database.transaction() as s:
        outcomes.wrap_up(
            s, contact_id, operator_id, code=code, taxonomy=tax, details=details, now=at
        )


def abandon(database: Database, contact_id: int, at: dt.datetime) -> None:
    with database.transaction() as s:
        queue.abandon(s, contact_id, now=at)


def transfer(
    database: Database, cfg: QueueSettings, contact_id: int, operator_id: int, at: dt.datetime
) -> int:
    with database.transaction() as s:
        return queue.transfer(s, contact_id, operator_id, cfg, now=at).id


def full_call(
    database: Database,
    cfg: QueueSettings,
    tax: outcomes.OutcomeTaxonomy,
    operator_id: int,
    arrive: dt.datetime,
    wait: float,
    talk: float,
    wrap: float,
    details: dict[str, Any] | None = None,
    **kw: Any,
) -> int:
    """Arrive, wait, talk, wrap up and close: the whole life of one contact."""
    cid = enqueue(database, cfg, arrive, **kw)
    accepted = arrive + dt.timedelta(seconds=wait)
    answer(database, cid, operator_id, accepted)
    ended = accepted + dt.timedelta(seconds=talk)
    end(database, cid, operator_id, ended)
    close(database, tax, cid, operator_id, ended + dt.timedelta(seconds=wrap), details)
    return cid
