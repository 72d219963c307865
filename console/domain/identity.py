"""Identity: the one way to write or read a name, number, e-mail, address or identity note.

Every value sits under a consent, encrypted (Fernet, key ring from `console.domain.crypto`). A write
needs a consent in force whose scope allows the field; a read also names the scope it is for and a
reason, and leaves an audit event. Erasing removes the ciphertext itself.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Engine,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    delete,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, intpk, timestamp, truncate_wal, utcnow
from console.domain import audit, crypto, hooks, permissions
from console.domain.consent import Consent, ConsentRefused, Scope, get_consent, require_active
from console.domain.errors import ValidationFailed


class Field(enum.StrEnum):
    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    NOTES = "notes"


# What each scope may keep: a callback needs a number (and who to ask for); a transcript keeps
# no identity field beyond notes the person asked to be kept with it.
SCOPE_FIELDS: dict[Scope, frozenset[Field]] = {
    Scope.CALLBACK: frozenset({Field.NAME, Field.PHONE, Field.NOTES}),
    Scope.CASE_FOLLOW_UP: frozenset(Field),
    Scope.REFERRAL: frozenset(Field),
    Scope.TRANSCRIPT: frozenset({Field.NOTES}),
}
MAX_LENGTH: dict[Field, int] = {
    Field.NAME: 200,
    Field.PHONE: 40,
    Field.EMAIL: 254,
    Field.ADDRESS: 500,
    Field.NOTES: 2000,
}


class IdentityValue(Base):
    __tablename__ = "identity_values"
    __table_args__ = (UniqueConstraint("consent_id", "field"),)

    id: Mapped[intpk]
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"), index=True)
    field: Mapped[str] = mapped_column(String(16))
    ciphertext: Mapped[str] = mapped_column(Text)
    written_at: Mapped[timestamp]
    written_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))


def _field(field: str) -> Field:
    try:
        return Field(field)
    except ValueError as exc:
        raise ValidationFailed(f"field: one of {', '.join(f.value for f in Field)}") from exc


def _may(
    session: Session, consent_id: int, actor_id: int | None, action: permissions.Action
) -> None:
    """The role check comes first, so someone who may not act here learns nothing of the
    consent's state either."""
    found = session.get(Consent, consent_id)
    if found is not None:
        permissions.require(session, actor_id, action, consent=found)


def _allows(consent: Consent, field: Field) -> None:
    if field not in SCOPE_FIELDS[Scope(consent.scope)]:
        raise ConsentRefused(
            f"A {consent.scope.replace('_', ' ')} consent does not cover the {field.value}."
        )


def store_identity(
    session: Session,
    consent_id: int,
    field: str,
    value: str,
    *,
    actor_id: int | None,
    now: dt.datetime | None = None,
) -> None:
    """Keep one identity field under a consent in force whose scope allows it (encrypted)."""
    now = now or utcnow()
    which = _field(field)
    _may(session, consent_id, actor_id, permissions.Action.STORE_IDENTITY)
    consent = require_active(session, consent_id, now=now)
    _allows(consent, which)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{which.value}: required")
    value = value.strip()
    if len(value) > MAX_LENGTH[which]:
        raise ValidationFailed(f"{which.value}: at most {MAX_LENGTH[which]} characters")
    token = crypto.encrypt(value)
    existing = session.scalar(
        select(IdentityValue).where(
            IdentityValue.consent_id == consent.id, IdentityValue.field == which.value
        )
    )
    if existing is None:
        session.add(
            IdentityValue(
                consent_id=consent.id,
                field=which.value,
                ciphertext=token,
                written_at=now,
                written_by_id=actor_id,
            )
        )
    else:
        _secure_delete(session)
        existing.ciphertext = token
        existing.written_at = now
        existing.written_by_id = actor_id
    session.flush()
    audit.record(
        session,
        audit.Action.IDENTITY_WRITTEN,
        actor_id=actor_id,
        reason=consent.scope,
        contact_id=consent.contact_id,
        case_id=consent.case_id,
        consent_id=consent.id,
        field=which.value,
        now=now,
    )


def read_identity(
    session: Session,
    consent_id: int,
    field: str,
    *,
    actor_id: int | None,
    reason: str,
    scope: Scope,
    now: dt.datetime | None = None,
) -> str:
    """One identity field, for the purpose `scope` names; the read is audited with its reason."""
    now = now or utcnow()
    which = _field(field)
    if not reason or not reason.strip():
        raise ValidationFailed("reason: say why you need this")
    _may(session, consent_id, actor_id, permissions.Action.READ_IDENTITY)
    consent = require_active(session, consent_id, scope, now=now)
    _allows(consent, which)
    token = session.scalar(
        select(IdentityValue.ciphertext).where(
            IdentityValue.consent_id == consent.id, IdentityValue.field == which.value
        )
    )
    if token is None:
        raise ValidationFailed(f"{which.value}: nothing is kept under this consent")
    audit.record(
        session,
        audit.Action.IDENTITY_READ,
        actor_id=actor_id,
        reason=reason,
        contact_id=consent.contact_id,
        case_id=consent.case_id,
        consent_id=consent.id,
        field=which.value,
        now=now,
    )
    return crypto.decrypt(token)


def fields_kept(session: Session, consent_id: int) -> list[str]:
    """Which fields hold a value (never the values): for the console's consent list."""
    return sorted(
        session.scalars(
            select(IdentityValue.field).where(IdentityValue.consent_id == consent_id)
        ).all()
    )


def _secure_delete(session: Session) -> None:
    """On SQLite, make this connection overwrite deleted and replaced content with zeros, so an
    erased value does not linger in free pages of the database file."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))


def _truncate_log_after_commit(session: Session) -> None:
    """On SQLite the erased ciphertext would live on in the write-ahead log's old frames until
    they happen to be overwritten; every erasure path (a withdrawal in the console, expiry, the
    erasure command) empties the log once the erasure is committed."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine.dialect.name == "sqlite":

        def truncate() -> None:
            truncate_wal(engine)  # a busy reader delays it to the next erasure or hourly job

        hooks.after_commit(session, truncate)


def erase_identity(
    session: Session,
    consent_id: int,
    *,
    actor_id: int | None = None,
    reason: str = "expired",
    now: dt.datetime | None = None,
) -> int:
    """Remove every value kept under the consent (the ciphertext too). Returns how many."""
    now = now or utcnow()
    consent = get_consent(session, consent_id)
    _secure_delete(session)
    result = session.execute(
        delete(IdentityValue)
        .where(IdentityValue.consent_id == consent.id)
        .execution_options(synchronize_session="fetch")
    )
    erased = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if erased:
        _truncate_log_after_commit(session)
    first_time = consent.erased_at is None
    if first_time:
        consent.erased_at = now
    if erased or first_time:
        audit.record(
            session,
            audit.Action.IDENTITY_ERASED,
            actor_id=actor_id,
            reason=reason,
            contact_id=consent.contact_id,
            case_id=consent.case_id,
            consent_id=consent.id,
            details={"erased": erased},
            now=now,
        )
    session.flush()
    return erased
