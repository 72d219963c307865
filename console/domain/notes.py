"""The wrap-up's free-text note: encrypted, apart from the outcome, and short-lived.

Free text may hold identity whatever the form says, so the note is encrypted at rest, follows the
transcript retention (the retention job deletes it) and never goes into an export. The form asks
operators not to write names or numbers in it, and a note that plainly holds a phone number or an
e-mail address is refused.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import ForeignKey, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, timestamp, utcnow
from console.domain import crypto
from console.domain.errors import ValidationFailed

NOTE_MAX = 500
REMINDER = "Do not write names, phone numbers, e-mail or street addresses here."

# Nine or more digits, however they are spaced or punctuated, read as a phone number (a date such
# as 2026-03-02 has eight and passes).
_PHONE = re.compile(r"(?:\+|00)?(?:\d[\s().\-/]{0,2}){9,}")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[A-Za-z]{2,}")


class ContactNote(Base):
    __tablename__ = "contact_notes"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    written_at: Mapped[timestamp] = mapped_column(index=True)
    written_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))


def check_note(note: str | None) -> str | None:
    """The note to keep (stripped), or None; refuses one that is too long or holds contact data."""
    if note is None:
        return None
    if not isinstance(note, str):
        raise ValidationFailed("note: must be text")
    note = note.strip()
    if not note:
        return None
    if len(note) > NOTE_MAX:
        raise ValidationFailed(f"note: at most {NOTE_MAX} characters")
    refuse_contact_data(note, "note")
    return note


def refuse_contact_data(text: str, field: str) -> None:
    """Free text an operator types is kept without a consent: it may not hold contact data."""
    if _PHONE.search(text):
        raise ValidationFailed(f"{field}: it looks like it holds a phone number. {REMINDER}")
    if _EMAIL.search(text):
        raise ValidationFailed(f"{field}: it looks like it holds an e-mail address. {REMINDER}")


def keep(
    session: Session,
    contact_id: int,
    note: str,
    *,
    operator_id: int | None,
    now: dt.datetime | None = None,
) -> ContactNote:
    now = now or utcnow()
    row = session.get(ContactNote, contact_id)
    token = crypto.encrypt(note)
    if row is None:
        row = ContactNote(
            contact_id=contact_id, ciphertext=token, written_at=now, written_by_id=operator_id
        )
        session.add(row)
    else:
        row.ciphertext = token
        row.written_at = now
        row.written_by_id = operator_id
    session.flush()
    return row


def note_text(session: Session, contact_id: int) -> str | None:
    token = session.scalar(
        select(ContactNote.ciphertext).where(ContactNote.contact_id == contact_id)
    )
    return crypto.decrypt(token) if token is not None else None
