"""Referrals given during a contact: which directory service the caller was referred to, once.

Like Aselo's HRM, a referral is (contact, service id, service name, when), and the same service is
refused a second time on the same contact. At wrap-up they are copied into the outcome's
`details["referrals"]` so that reports count them without reading this table.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, intpk, str200, timestamp, utcnow
from console.domain import hooks
from console.domain.contacts import HELD, Contact, get_contact
from console.domain.errors import Conflict, IllegalTransition, NotYourContact, ValidationFailed


class DuplicateReferral(Conflict):
    code = "duplicate_referral"


class ContactReferral(Base):
    __tablename__ = "contact_referrals"
    __table_args__ = (UniqueConstraint("contact_id", "service_id"),)

    id: Mapped[intpk]
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    service_id: Mapped[str] = mapped_column(String(64))
    service_name: Mapped[str200]
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    referred_at: Mapped[timestamp]

    def to_public(self) -> dict[str, object]:
        return {
            "service_id": self.service_id,
            "name": self.service_name,
            "referred_at": self.referred_at.isoformat(),
        }


def give_referral(
    session: Session,
    contact_id: int,
    operator_id: int,
    *,
    service_id: str,
    service_name: str,
    now: dt.datetime | None = None,
) -> ContactReferral:
    contact = get_contact(session, contact_id)
    if contact.operator_id != operator_id:
        raise NotYourContact("This contact is not yours.")
    if contact.state not in HELD:
        raise IllegalTransition(f"A contact that is {contact.state} can take no more referrals.")
    if not service_id or len(service_id) > 64:
        raise ValidationFailed("service_id: required, at most 64 characters")
    existing = session.scalar(
        select(ContactReferral.id).where(
            ContactReferral.contact_id == contact_id, ContactReferral.service_id == service_id
        )
    )
    if existing is not None:
        raise DuplicateReferral(f"{service_name} is already logged as a referral for this contact.")
    referral = ContactReferral(
        contact_id=contact_id,
        service_id=service_id,
        service_name=service_name[:200],
        operator_id=operator_id,
        referred_at=now or utcnow(),
    )
    session.add(referral)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # a double click racing itself
        raise DuplicateReferral(
            f"{service_name} is already logged as a referral for this contact."
        ) from exc
    return referral


def referrals_for(session: Session, contact: Contact | int) -> list[ContactReferral]:
    contact_id = contact if isinstance(contact, int) else contact.id
    return list(
        session.scalars(
            select(ContactReferral)
            .where(ContactReferral.contact_id == contact_id)
            .order_by(ContactReferral.referred_at, ContactReferral.id)
        )
    )


def _copy_to_outcome(session: Session, contact: Contact) -> None:
    """At close, the outcome record lists the referrals given, for reports that read outcomes."""
    from console.domain.outcomes import Outcome

    given = referrals_for(session, contact)
    if not given:
        return
    outcome = session.scalar(select(Outcome).where(Outcome.contact_id == contact.id))
    if outcome is None:
        return
    listed = {r.get("service_id"): r for r in (outcome.details or {}).get("referrals", [])}
    for referral in given:
        listed.setdefault(referral.service_id, referral.to_public())
    outcome.details = {**(outcome.details or {}), "referrals": list(listed.values())}


hooks.on("final", _copy_to_outcome)
