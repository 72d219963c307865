"""Wrap-up: the outcome recorded when a contact closes.

An outcome names the taxonomy version it was recorded under, so later changes to the form keep old
reports true. `details` carries the structured fields that the full taxonomy adds (caller role,
victimisation, needs, referrals); the short free-text `note` is kept apart because it may hold
identity whatever the form says, and follows the transcript retention.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, intpk, str32, timestamp, utcnow
from console.domain import queue
from console.domain.contacts import State, get_contact
from console.domain.errors import IllegalTransition, NotYourContact, ValidationFailed

NOTE_MAX = 500


@dataclass(frozen=True)
class OutcomeCode:
    code: str
    label: str
    non_data: bool = False


@dataclass(frozen=True)
class OutcomeTaxonomy:
    version: int
    codes: tuple[OutcomeCode, ...]

    def get(self, code: str) -> OutcomeCode | None:
        return next((c for c in self.codes if c.code == code), None)


def load_outcome_taxonomy(path: Path) -> OutcomeTaxonomy:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return OutcomeTaxonomy(
        version=int(data.get("version", 1)),
        codes=tuple(
            OutcomeCode(str(o["code"]), str(o["label"]), bool(o.get("non_data", False)))
            for o in data.get("outcome", [])
        ),
    )


class Outcome(Base):
    __tablename__ = "outcomes"

    id: Mapped[intpk]
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), unique=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), index=True)
    code: Mapped[str32]
    taxonomy_version: Mapped[int]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[timestamp] = mapped_column(index=True)
    language: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))


def wrap_up(
    session: Session,
    contact_id: int,
    operator_id: int,
    *,
    code: str,
    taxonomy: OutcomeTaxonomy,
    note: str | None = None,
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Outcome:
    """Record the outcome and close the contact (from active or wrap-up)."""
    now = now or utcnow()
    contact = get_contact(session, contact_id)
    if contact.operator_id != operator_id:
        raise NotYourContact("This contact is not yours.")
    if contact.state not in (State.ACTIVE, State.WRAP_UP):
        raise IllegalTransition(f"A contact that is {contact.state} cannot be wrapped up.")
    if taxonomy.get(code) is None:
        raise ValidationFailed(f"outcome: unknown code {code!r}")
    if note is not None:
        note = note.strip() or None
        if note is not None and len(note) > NOTE_MAX:
            raise ValidationFailed(f"note: at most {NOTE_MAX} characters")
    outcome = Outcome(
        contact_id=contact.id,
        operator_id=operator_id,
        code=code,
        taxonomy_version=taxonomy.version,
        details=details or {},
        note=note,
        recorded_at=now,
        language=contact.language,
        channel=contact.channel,
    )
    session.add(outcome)
    queue.close(session, contact, operator_id, now)
    session.flush()
    return outcome
