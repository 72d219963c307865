"""Operators: accounts, roles, languages and skills, presence, and password checks with lock-out."""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ForeignKey, String, bindparam, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

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
        return public_operator(
            self.id,
            self.display_name,
            self.role,
            self.languages,
            self.presence,
            self.presence_since,
        )

    @property
    def is_lead(self) -> bool:
        return self.role in (Role.SHIFT_LEAD, Role.ADMIN)


def public_operator(
    operator_id: int,
    display_name: str,
    role: str,
    languages: list[str],
    presence: str,
    presence_since: dt.datetime,
) -> dict[str, object]:
    """What consoles are told of an operator (the `operator.presence` event)."""
    return {
        "id": operator_id,
        "display_name": display_name,
        "role": role,
        "languages": list(languages),
        "presence": presence,
        "presence_since": presence_since.isoformat(),
    }


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


@dataclass(frozen=True)
class PasswordCheck:
    """The verdict of `check_password`, to be recorded by `record_login`."""

    operator_id: int | None
    matched: bool
    new_hash: str | None = None  # set when the stored hash's parameters are out of date


def check_password(
    session: Session, username: str, password: str, now: dt.datetime | None = None
) -> PasswordCheck:
    """Verify a password against the stored hash, writing nothing.

    argon2 takes tens of milliseconds on purpose; run this in a read transaction, so that a rush of
    logins at shift change does not hold the database's write lock while hashing.
    """
    now = now or utcnow()
    row = session.execute(
        select(Operator.id, Operator.password_hash, Operator.locked_until).where(
            Operator.username == username.strip().lower(), Operator.active
        )
    ).one_or_none()
    if row is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return PasswordCheck(operator_id=None, matched=False)
    if row.locked_until is not None and row.locked_until > now:
        raise AccountLocked("Too many failed attempts. The account is locked for a while.")
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return PasswordCheck(operator_id=row.id, matched=False)
    new_hash = _hasher.hash(password) if _hasher.check_needs_rehash(row.password_hash) else None
    return PasswordCheck(operator_id=row.id, matched=True, new_hash=new_hash)


def record_login(
    session: Session,
    check: PasswordCheck,
    *,
    max_failures: int,
    lockout: dt.timedelta,
    now: dt.datetime | None = None,
) -> Operator:
    """Count a failed check (locking the account after `max_failures` in a row) or clear the
    count after a good one; raises AuthenticationFailed for a failure."""
    now = now or utcnow()
    operator = session.get(Operator, check.operator_id) if check.operator_id else None
    if operator is None or not operator.active:
        raise AuthenticationFailed("Unknown username or wrong password.")
    if not check.matched:
        operator.failed_logins += 1
        if operator.failed_logins >= max_failures:
            operator.locked_until = now + lockout
            operator.failed_logins = 0
        raise AuthenticationFailed("Unknown username or wrong password.")
    if operator.locked_until is not None and operator.locked_until > now:
        # Locked by failures that landed while this password was being checked.
        raise AccountLocked("Too many failed attempts. The account is locked for a while.")
    operator.failed_logins = 0
    operator.locked_until = None
    if check.new_hash is not None:
        operator.password_hash = check.new_hash
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
    """Check a password and record the result in one session (scripts and tests); the login view
    checks in a read transaction and records in a write one."""
    check = check_password(session, username, password, now)
    return record_login(session, check, max_failures=max_failures, lockout=lockout, now=now)


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


_BECOME_BUSY = (
    update(Operator)
    .where(Operator.id == bindparam("p_operator"), Operator.presence == Presence.AVAILABLE)
    .values(presence=Presence.BUSY, presence_since=bindparam("p_now"))
    .returning(Operator.display_name, Operator.role, Operator.languages)
    .execution_options(synchronize_session=False)
)


_LOG_PRESENCE = insert(PresenceChange)


def become_busy(session: Session, operator_id: int, now: dt.datetime) -> None:
    """Available → busy, on an accept: one UPDATE, without loading the operator's row."""
    row = (
        session.connection()
        .execute(_BECOME_BUSY, {"p_operator": operator_id, "p_now": now})
        .one_or_none()
    )
    if row is None:
        return
    loaded = session.identity_map.get(identity_key(Operator, operator_id))
    if loaded is not None:  # keep a copy this session already holds in step with the row
        set_committed_value(loaded, "presence", Presence.BUSY.value)
        set_committed_value(loaded, "presence_since", now)
    # Written beside the ORM's unit of work: a move within staffed time changes no running
    # statistic (rollups and wellbeing count stints and breaks), so nothing needs to collect it.
    session.connection().execute(
        _LOG_PRESENCE, {"operator_id": operator_id, "presence": Presence.BUSY.value, "at": now}
    )
    events.publish(
        session,
        "operator.presence",
        public_operator(
            operator_id, row.display_name, row.role, row.languages, Presence.BUSY.value, now
        ),
    )


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
    # Imported here: the queue imports this module.
    from console.domain.queue import presence_for_load, rescind_offers

    if wanted == Presence.AVAILABLE:
        wanted = presence_for_load(session, operator.id)
    else:
        # An offer left standing would hold the contact until the reservation ran out, and the
        # operator could still accept it from a break.
        rescind_offers(session, operator.id, now)
    set_presence(session, operator, wanted, now)
