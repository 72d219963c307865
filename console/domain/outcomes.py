"""Wrap-up: the outcome recorded when a contact closes.

An outcome names the taxonomy version it was recorded under, so later changes to the form keep old
reports true. `details` carries the structured fields of the form (caller role, victimisation,
needs, referrals, triage track: see docs/developing.md "The outcome record"); the full taxonomy
(`console.domain.taxonomy.Taxonomy`) validates them against config/taxonomy.toml, refuses unknown
codes and a form built from a stale version, and enforces the required fields of a data outcome.

The short free-text note may hold identity whatever the form says. It is therefore not kept on the
outcome (which is kept for good) but encrypted in `contact_notes`, which follows the transcript
retention and never reaches an export; `Outcome.note` stays empty.
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
from console.domain import drafts, notes, queue, triage
from console.domain.contacts import Contact, State
from console.domain.errors import IllegalTransition, NotYourContact, ValidationFailed

NOTE_MAX = notes.NOTE_MAX


@dataclass(frozen=True)
class OutcomeCode:
    code: str
    label: str
    non_data: bool = False


@dataclass(frozen=True)
class OutcomeTaxonomy:
    """Outcome codes and a version: the spine's minimal taxonomy, with no form to check."""

    version: int
    codes: tuple[OutcomeCode, ...]

    def get(self, code: str) -> OutcomeCode | None:
        return next((c for c in self.codes if c.code == code), None)

    def check(
        self,
        session: Session,
        outcome: OutcomeCode,
        details: dict[str, Any] | None,
        form_version: int | None,
        now: dt.datetime,
    ) -> dict[str, Any]:
        """The details to store. The minimal taxonomy has no form, so they pass as given."""
        return dict(details or {})


def load_outcome_taxonomy(path: Path) -> OutcomeTaxonomy:
    """Outcome codes only. config/outcomes.toml was replaced by config/taxonomy.toml; a path to
    the old file that no longer exists reads the codes of the new one beside it."""
    if not path.exists() and path.name == "outcomes.toml":
        path = path.with_name("taxonomy.toml")
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
    # Kept empty: the note lives encrypted in contact_notes (see the module docstring).
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
    form_version: int | None = None,
) -> Outcome:
    """Record the outcome and close the contact (from active or wrap-up).

    `form_version` is the taxonomy version the operator's form was built from; with the full
    taxonomy a data outcome needs it, and a stale one is refused so no code is misread.
    """
    now = now or utcnow()
    contact = drafts.lock_contact(session, contact_id)
    if contact.operator_id != operator_id:
        raise NotYourContact("This contact is not yours.")
    if contact.state not in (State.ACTIVE, State.WRAP_UP):
        raise IllegalTransition(f"A contact that is {contact.state} cannot be wrapped up.")
    outcome_code = taxonomy.get(code)
    if outcome_code is None:
        raise ValidationFailed(f"outcome: unknown code {code!r}")
    note = notes.check_note(note)
    if outcome_code.non_data:
        # One click, nothing else kept: a half-filled draft of a silent call is dropped.
        stored: dict[str, Any] = {}
    else:
        stored = taxonomy.check(session, outcome_code, details, form_version, now)
    outcome = Outcome(
        contact_id=contact.id,
        operator_id=operator_id,
        code=code,
        taxonomy_version=taxonomy.version,
        details=stored,
        note=None,
        recorded_at=now,
        language=contact.language,
        channel=contact.channel,
    )
    session.add(outcome)
    if note is not None:
        notes.keep(session, contact.id, note, operator_id=operator_id, now=now)
    if stored.get("triage_track") == triage.Track.VERY_SERIOUS:
        triage.escalate(session, contact, operator_id, now=now)
    drafts.discard(session, contact.id)
    queue.close(session, contact, operator_id, now)
    session.flush()
    return outcome


def handling_seconds(contact: Contact) -> float | None:
    """Talk plus wrap-up: from accepting the contact until it closed (wrap-up time counts)."""
    if contact.accepted_at is None or contact.closed_at is None:
        return None
    return (contact.closed_at - contact.accepted_at).total_seconds()
