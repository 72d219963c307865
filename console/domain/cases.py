"""Cases: a reference that ties the contacts of one follow-up together, with nobody's name on it.

A case exists so a caller who consented to follow-up can be called again, or can call back and
quote the reference. The case holds no identity; identity lives only under a consent.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, intpk, timestamp, utcnow
from console.domain.contacts import Contact, get_contact
from console.domain.crypto import random_ref
from console.domain.errors import NotFound
from console.domain.operators import get_operator


class CaseNotFound(NotFound):
    code = "case_not_found"


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[intpk]
    ref: Mapped[str] = mapped_column(String(16), unique=True, default=random_ref)
    opened_at: Mapped[timestamp]
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), index=True)
    # Set by a very serious triage: whoever follows the case up sees it first.
    urgent: Mapped[bool] = mapped_column(default=False)
    closed_at: Mapped[dt.datetime | None]

    def to_public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "ref": self.ref,
            "opened_at": self.opened_at.isoformat(),
            "assigned_to_id": self.assigned_to_id,
            "urgent": self.urgent,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
        }


class CaseContact(Base):
    __tablename__ = "case_contacts"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True, index=True)


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return case


def find_by_ref(session: Session, ref: str) -> Case | None:
    return session.scalar(select(Case).where(Case.ref == ref.strip().upper()))


def open_case(
    session: Session,
    contact_id: int,
    *,
    operator_id: int | None,
    now: dt.datetime | None = None,
) -> Case:
    """Open a case from a contact (or return the one it already belongs to)."""
    now = now or utcnow()
    contact = get_contact(session, contact_id)
    existing = case_of(session, contact.id)
    if existing is not None:
        return existing
    case = Case(
        ref=random_ref(),
        opened_at=now,
        opened_by_id=operator_id,
        assigned_to_id=operator_id,
        urgent=contact.urgent,
    )
    session.add(case)
    session.flush()
    link(session, case.id, contact.id)
    return case


def link(session: Session, case_id: int, contact_id: int) -> None:
    case = get_case(session, case_id)
    contact = get_contact(session, contact_id)
    if session.get(CaseContact, (case.id, contact.id)) is None:
        session.add(CaseContact(case_id=case.id, contact_id=contact.id))
        if contact.urgent:
            case.urgent = True
        session.flush()


def assign(session: Session, case_id: int, operator_id: int) -> Case:
    case = get_case(session, case_id)
    case.assigned_to_id = get_operator(session, operator_id).id
    session.flush()
    return case


def case_of(session: Session, contact_id: int) -> Case | None:
    """The case a contact (or any leg of its transfer chain) belongs to."""
    chain = transfer_chain(session, contact_id)
    return session.scalar(
        select(Case)
        .join(CaseContact, CaseContact.case_id == Case.id)
        .where(CaseContact.contact_id.in_(chain))
        .order_by(Case.id)
        .limit(1)
    )


def contact_ids(session: Session, case_id: int) -> list[int]:
    direct = session.scalars(select(CaseContact.contact_id).where(CaseContact.case_id == case_id))
    found: set[int] = set()
    for contact_id in direct:
        found.update(transfer_chain(session, contact_id))
    return sorted(found)


def transfer_chain(session: Session, contact_id: int) -> list[int]:
    """Every leg of one conversation: the contact, the legs it came from and those it became."""
    seen = {contact_id}
    frontier = [contact_id]
    while frontier:
        rows = session.execute(
            select(Contact.id, Contact.parent_id).where(
                (Contact.id.in_(frontier)) | (Contact.parent_id.in_(frontier))
            )
        ).all()
        frontier = []
        for cid, parent in rows:
            for candidate in (cid, parent):
                if candidate is not None and candidate not in seen:
                    seen.add(candidate)
                    frontier.append(candidate)
    return sorted(seen)
