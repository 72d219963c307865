"""Retention: what is kept how long, and the data-subject erasure of one case.

`enforce` is what the periodic job runs. It is an idempotent sweep: it erases the identity of
consents that ended, deletes free text (notes, drafts, and what channels register, such as chat
transcripts) older than the transcript retention, and clears channel handles older than the call
metadata retention. It never touches a contact covered by a consent in force, and never an outcome
record. It returns counts and nothing else.

Channels register their own sweeps with `register_purger(kind, fn)`; `fn(session, cutoff,
protected_contact_ids)` deletes its rows older than `cutoff` outside the protected contacts and
returns how many, and `register_eraser(fn)` lets them erase a case's contacts' data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Literal

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from console.domain import audit, cases
from console.domain.consent import Consent, active_contact_ids, expire
from console.domain.contacts import FINAL, Contact
from console.domain.drafts import WrapUpDraft
from console.domain.errors import NotFound
from console.domain.identity import erase_identity
from console.domain.notes import ContactNote

Kind = Literal["transcripts", "call_metadata"]
Purger = Callable[[Session, dt.datetime, frozenset[int]], int]
Eraser = Callable[[Session, list[int]], int]

_purgers: dict[str, list[Purger]] = {"transcripts": [], "call_metadata": []}
_erasers: list[Eraser] = []


def register_purger(kind: Kind, purger: Purger) -> None:
    if purger not in _purgers[kind]:
        _purgers[kind].append(purger)


def register_eraser(eraser: Eraser) -> None:
    if eraser not in _erasers:
        _erasers.append(eraser)


def _secure_delete(session: Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))


def _outside(column: object, protected: frozenset[int]) -> object:
    return column.not_in(protected) if protected else True  # type: ignore[attr-defined]


def _purge(
    session: Session,
    kind: Kind,
    cutoff: dt.datetime,
    protected: frozenset[int],
    counts: dict[str, int],
) -> None:
    """The channels' sweeps of one kind; a count only where something went."""
    for purger in _purgers[kind]:
        gone = purger(session, cutoff, protected)
        if gone:
            counts[kind] = counts.get(kind, 0) + gone


def enforce(
    session: Session,
    *,
    transcripts_days: int,
    call_metadata_days: int,
    now: dt.datetime,
) -> dict[str, int]:
    """One retention sweep. Running it again at once finds nothing left to do."""
    _secure_delete(session)
    counts = {"consents_ended": expire(session, now)}
    protected = frozenset(active_contact_ids(session, now))

    text_cutoff = now - dt.timedelta(days=transcripts_days)
    notes = session.execute(
        delete(ContactNote)
        .where(ContactNote.written_at < text_cutoff)
        .where(_outside(ContactNote.contact_id, protected))  # type: ignore[arg-type]
        .execution_options(synchronize_session=False)
    )
    counts["notes"] = int(notes.rowcount or 0)  # type: ignore[attr-defined]
    drafts = session.execute(
        delete(WrapUpDraft)
        .where(WrapUpDraft.updated_at < text_cutoff)
        .where(_outside(WrapUpDraft.contact_id, protected))  # type: ignore[arg-type]
        .execution_options(synchronize_session=False)
    )
    counts["drafts"] = int(drafts.rowcount or 0)  # type: ignore[attr-defined]
    _purge(session, "transcripts", text_cutoff, protected, counts)

    meta_cutoff = now - dt.timedelta(days=call_metadata_days)
    handles = session.execute(
        update(Contact)
        .where(
            Contact.channel_ref.is_not(None),
            Contact.state.in_(list(FINAL)),
            Contact.enqueued_at < meta_cutoff,
        )
        .where(_outside(Contact.id, protected))  # type: ignore[arg-type]
        .values(channel_ref=None)
        .execution_options(synchronize_session=False)
    )
    counts["channel_handles"] = int(handles.rowcount or 0)  # type: ignore[attr-defined]
    _purge(session, "call_metadata", meta_cutoff, protected, counts)
    if any(counts.values()):
        audit.record(
            session,
            audit.Action.RETENTION,
            actor_id=None,
            reason="retention",
            details=dict(counts),
            now=now,
        )
    session.flush()
    return counts


class NothingToErase(NotFound):
    code = "case_not_found"


def _contacts_for(session: Session, ref: str) -> tuple[int | None, list[int]]:
    case = cases.find_by_ref(session, ref)
    if case is not None:
        return case.id, cases.contact_ids(session, case.id)
    contact = session.scalar(select(Contact).where(Contact.ref == ref.strip().upper()))
    if contact is None:
        raise NothingToErase(f"No case or contact has the reference {ref.strip()[:16]!r}.")
    linked = cases.case_of(session, contact.id)
    if linked is not None:
        return linked.id, cases.contact_ids(session, linked.id)
    return None, cases.transfer_chain(session, contact.id)


def erase_case(
    session: Session,
    ref: str,
    *,
    actor_id: int | None,
    now: dt.datetime,
    reason: str = "data_subject_request",
) -> dict[str, int]:
    """A data-subject erasure: every consent of the case (or contact) ends and its identity is
    erased, with the notes, drafts and what channels keep. Outcome records, which hold no
    identity, stay for the statistics."""
    from console.domain import permissions

    permissions.require(session, actor_id, permissions.Action.ERASE_CASE)
    case_id, contact_ids = _contacts_for(session, ref)
    _secure_delete(session)
    covers: list[ColumnElement[bool]] = [Consent.contact_id.in_(contact_ids)]
    if case_id is not None:
        covers.append(Consent.case_id == case_id)
    consents: Iterable[Consent] = session.scalars(select(Consent).where(or_(*covers))).all()
    counts = {"contacts": len(contact_ids), "consents": 0, "identity_values": 0}
    for consent in consents:
        counts["consents"] += 1
        if consent.withdrawn_at is None:
            consent.withdrawn_at = now
        counts["identity_values"] += erase_identity(
            session, consent.id, actor_id=actor_id, reason=reason, now=now
        )
    if contact_ids:
        counts["notes"] = int(
            session.execute(
                delete(ContactNote)
                .where(ContactNote.contact_id.in_(contact_ids))
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            or 0
        )
        counts["drafts"] = int(
            session.execute(
                delete(WrapUpDraft)
                .where(WrapUpDraft.contact_id.in_(contact_ids))
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            or 0
        )
        # Channels find their data through the contacts' channel_ref: before it goes.
        for eraser in _erasers:
            counts["channel_data"] = counts.get("channel_data", 0) + eraser(session, contact_ids)
        session.execute(
            update(Contact)
            .where(Contact.id.in_(contact_ids))
            .values(channel_ref=None)
            .execution_options(synchronize_session=False)
        )
    audit.record(
        session,
        audit.Action.CASE_ERASED,
        actor_id=actor_id,
        reason=reason,
        case_id=case_id,
        contact_id=contact_ids[0] if case_id is None and contact_ids else None,
        details=dict(counts),
        now=now,
    )
    session.flush()
    return counts
