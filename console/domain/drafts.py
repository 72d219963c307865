"""Wrap-up drafts, kept on the server per contact: they survive a reload and follow a transfer.

A draft is whatever the operator has filled in so far (outcome, fields, triage, note). It may be
incomplete or wrong; that is what a draft is for, so it is checked for shape only. It holds the
note, so it is encrypted like the note and removed when the contact closes. A transfer hands the
conversation to a new leg (a successor contact with `parent_id`): the draft is copied to the new leg
when it is accepted, and reading a leg without its own draft reads its nearest ancestor's.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import ForeignKey, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, timestamp, utcnow
from console.domain import crypto, hooks
from console.domain.contacts import HELD, Contact, get_contact
from console.domain.errors import NotYourContact, ValidationFailed

MAX_BYTES = 16_000
KEYS = frozenset({"code", "details", "note", "triage", "taxonomy_version"})


class WrapUpDraft(Base):
    __tablename__ = "wrapup_drafts"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    payload: Mapped[str] = mapped_column(Text)  # encrypted JSON
    updated_at: Mapped[timestamp] = mapped_column(index=True)


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationFailed("draft: must be a JSON object")
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise ValidationFailed(f"draft: unknown field {unknown[0]!r}")
    encoded = json.dumps(data, separators=(",", ":"))
    if len(encoded.encode("utf-8")) > MAX_BYTES:
        raise ValidationFailed(f"draft: at most {MAX_BYTES} bytes")
    return data


def lock_contact(session: Session, contact_id: int) -> Contact:
    """The contact, locked for this transaction (PostgreSQL; SQLite writers are serial anyway), so
    a draft being saved and the wrap-up that removes it never interleave."""
    contact = session.scalar(
        select(Contact)
        .where(Contact.id == contact_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if contact is None:
        return get_contact(session, contact_id)  # raises the named not-found error
    return contact


def _holder(session: Session, contact_id: int, operator_id: int, *, lock: bool = False) -> Contact:
    contact = lock_contact(session, contact_id) if lock else get_contact(session, contact_id)
    if contact.operator_id != operator_id or contact.state not in HELD:
        raise NotYourContact("Only the operator holding this contact can keep its draft.")
    return contact


def save(
    session: Session,
    contact_id: int,
    operator_id: int,
    data: dict[str, Any],
    *,
    now: dt.datetime | None = None,
) -> None:
    contact = _holder(session, contact_id, operator_id, lock=True)
    _write(session, contact.id, operator_id, _clean(data), now or utcnow())


def _write(
    session: Session,
    contact_id: int,
    operator_id: int | None,
    data: dict[str, Any],
    now: dt.datetime,
) -> None:
    token = crypto.encrypt(json.dumps(data, separators=(",", ":")))
    row = session.get(WrapUpDraft, contact_id)
    if row is None:
        session.add(
            WrapUpDraft(
                contact_id=contact_id, operator_id=operator_id, payload=token, updated_at=now
            )
        )
    else:
        row.payload = token
        row.operator_id = operator_id
        row.updated_at = now
    session.flush()


def _nearest(session: Session, contact: Contact) -> WrapUpDraft | None:
    current: Contact | None = contact
    seen: set[int] = set()
    while current is not None and current.id not in seen:
        seen.add(current.id)
        row = session.get(WrapUpDraft, current.id)
        if row is not None:
            return row
        current = session.get(Contact, current.parent_id) if current.parent_id else None
    return None


def load(session: Session, contact_id: int, operator_id: int) -> dict[str, Any] | None:
    """The holder's draft: this leg's own, or the one that came with the transfer."""
    contact = _holder(session, contact_id, operator_id)
    row = _nearest(session, contact)
    if row is None:
        return None
    data: dict[str, Any] = json.loads(crypto.decrypt(row.payload))
    return data


def discard(session: Session, contact_id: int) -> int:
    """Remove the drafts of the contact and of the legs it came from (it has closed)."""
    chain: list[int] = []
    current = session.get(Contact, contact_id)
    while current is not None and current.id not in chain:
        chain.append(current.id)
        current = session.get(Contact, current.parent_id) if current.parent_id else None
    result = session.execute(
        delete(WrapUpDraft)
        .where(WrapUpDraft.contact_id.in_(chain))
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _copy_on_accept(session: Session, contact: Contact) -> None:
    """A transferred conversation's new leg starts from where the last operator left off."""
    if contact.parent_id is None or session.get(WrapUpDraft, contact.id) is not None:
        return
    parent = session.get(Contact, contact.parent_id)
    source = _nearest(session, parent) if parent is not None else None
    if source is not None:
        session.add(
            WrapUpDraft(
                contact_id=contact.id,
                operator_id=contact.operator_id,
                payload=source.payload,
                updated_at=utcnow(),
            )
        )
        session.flush()


def stale(session: Session, before: dt.datetime) -> list[int]:
    return list(
        session.scalars(select(WrapUpDraft.contact_id).where(WrapUpDraft.updated_at < before))
    )


hooks.on("accepted", _copy_on_accept)
