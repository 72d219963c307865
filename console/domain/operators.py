"""Operators: accounts, roles, languages and skills, presence, and password checks with lock-out."""

from __future__ import annotations

import contextlib
import datetime as dt
import enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, created_at, intpk, json_list, str64, str200, timestamp, utcnow
from console.domain import events
from console.domain.errors import (
    AccountLocked,
    AuthenticationFailed,
    OperatorNotFound,
    ValidationFailed,
)


class Role(enum.StrEnum):
    OPERATOR = "operator"
    SHIFT_LEAD = "shift_lead"
    ADMIN = "admin"


class Presence(enum.StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    BREAK = "break"
    OFFLINE = "offline"


# States in which the operator can be offered or pick contacts.
TAKING_CONTACTS = frozenset({Presence.AVAILABLE, Presence.BUSY})
# States the operator chooses; busy and wrap_up follow from the contacts they hold.
CHOSEN_PRESENCE = frozenset({Presence.AVAILABLE, Presence.BREAK, Presence.OFFLINE})

_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[intpk]
    username: Mapped[str64] = mapped_column(unique=True)
    display_name: Mapped[str200]
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default=Role.OPERATOR)
    languages: Mapped[json_list]
    # Topic codes the operator is trained for; empty means every topic.
    skills: Mapped[json_list]
    max_chats: Mapped[int] = mapped_column(default=3)
    presence: Mapped[str] = mapped_column(String(16), default=Presence.OFFLINE, index=True)
    presence_since: Mapped[timestamp] = mapped_column(default=utcnow)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]

    def to_public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "role": self.role,
            "languages": list(self.languages),
            "presence": self.presence,
            "presence_since": self.presence_since.isoformat(),
        }

    @property
    def is_lead(self) -> bool:
        return self.role in (Role.SHIFT_LEAD, Role.ADMIN)


class PresenceChange(Base):
    __tablename__ = "presence_changes"

    id: Mapped[intpk]
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    presence: Mapped[str] = mapped_column(String(16))
    at: Mapped[timestamp] = mapped_column(index=True)


def get_operator(session: Session, operator_id: int) -> Operator:
    operator = session.get(Operator, operator_id)
    if operator is None or not operator.active:
        raise OperatorNotFound(f"no operator {operator_id}")
    return operator


def create_operator(
    session: Session,
    *,
    username: str,
    password: str,
    display_name: str | None = None,
    role: Role | str = Role.OPERATOR,
    languages: list[str] | None = None,
    skills: list[str] | None = None,
    max_chats: int = 3,
) -> Operator:
    username = username.strip().lower()
    if (
        not username
        or len(username) > 64
        or not username.replace("_", "").replace(".", "").isalnum()
    ):
        raise ValidationFailed("username: use 1–64 letters, digits, dots or underscores")
    if len(password) < 10:
        raise ValidationFailed("password: use at least 10 characters")
    try:
        role = Role(role)
    except ValueError as exc:
        raise ValidationFailed(f"role: one of {', '.join(r.value for r in Role)}") from exc
    if session.scalar(select(Operator.id).where(Operator.username == username)) is not None:
        raise ValidationFailed(f"username {username!r} is taken")
    operator = Operator(
        username=username,
        display_name=display_name or username,
        password_hash=_hasher.hash(password),
        role=role,
        languages=languages or ["en"],
        skills=skills or [],
        max_chats=max_chats,
        presence=Presence.OFFLINE,
        presence_since=utcnow(),
    )
    session.add(operator)
    session.flush()
    return operator


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    max_failures: int,
    lockout: dt.timedelta,
    now: dt.datetime | None = None,
) -> Operator:
    """Check a password, counting failures; lock the account after `max_failures` in a row."""
    now = now or utcnow()
    operator = session.scalar(
        select(Operator).where(Operator.username == username.strip().lower(), Operator.active)
    )
    if operator is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        raise AuthenticationFailed("Unknown username or wrong password.")
    if operator.locked_until is not None and operator.locked_until > now:
        raise AccountLocked("Too many failed attempts. The account is locked for a while.")
    try:
        _hasher.verify(operator.password_hash, password)
    except (VerificationError, InvalidHashError):
        operator.failed_logins += 1
        if operator.failed_logins >= max_failures:
            operator.locked_until = now + lockout
            operator.failed_logins = 0
        raise AuthenticationFailed("Unknown username or wrong password.") from None
    operator.failed_logins = 0
    operator.locked_until = None
    if _hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = _hasher.hash(password)
    return operator


def set_presence(
    session: Session, operator: Operator, presence: Presence | str, now: dt.datetime | None = None
) -> None:
    presence = Presence(presence)
    if operator.presence == presence:
        return
    now = now or utcnow()
    operator.presence = presence
    operator.presence_since = now
    session.add(PresenceChange(operator_id=operator.id, presence=presence, at=now))
    session.flush()
    events.publish(session, "operator.presence", operator.to_public())


def choose_presence(
    session: Session, operator: Operator, presence: str, now: dt.datetime | None = None
) -> None:
    """An operator's own choice: available, break or offline. Busy and wrap-up follow contacts."""
    try:
        wanted = Presence(presence)
    except ValueError as exc:
        raise ValidationFailed(f"presence: one of {', '.join(p.value for p in Presence)}") from exc
    if wanted not in CHOSEN_PRESENCE:
        raise ValidationFailed(f"presence: {wanted} follows from the contacts you hold")
    if wanted == Presence.AVAILABLE:
        from console.domain.queue import presence_for_load

        wanted = presence_for_load(session, operator.id)
    set_presence(session, operator, wanted, now)
