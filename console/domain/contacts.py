"""Contacts: one row per call, chat or callback, and the state machine every channel shares.

waiting → offered → active → wrap_up → closed, plus abandoned and transferred. Each change is
stamped on the contact and written to `contact_transitions`, which the statistics read.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, created_at, intpk, str16, str32, timestamp, utcnow
from console.domain.errors import ContactNotFound, IllegalTransition


class Channel(enum.StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    CALLBACK = "callback"


class Source(enum.StrEnum):
    SELF = "self"
    POLICE = "police"
    PARTNER = "partner"


class State(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ACTIVE = "active"
    WRAP_UP = "wrap_up"
    CLOSED = "closed"
    ABANDONED = "abandoned"
    TRANSFERRED = "transferred"


TRANSITIONS: dict[State, frozenset[State]] = {
    State.WAITING: frozenset({State.OFFERED, State.ACTIVE, State.ABANDONED, State.CLOSED}),
    State.OFFERED: frozenset({State.WAITING, State.ACTIVE, State.ABANDONED}),
    State.ACTIVE: frozenset({State.WRAP_UP, State.TRANSFERRED}),
    State.WRAP_UP: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
    State.ABANDONED: frozenset(),
    State.TRANSFERRED: frozenset(),
}
QUEUED = frozenset({State.WAITING, State.OFFERED})
HELD = frozenset({State.ACTIVE, State.WRAP_UP})
FINAL = frozenset({State.CLOSED, State.ABANDONED, State.TRANSFERRED})

# The timestamp column stamped on entering each state.
STAMP = {
    State.OFFERED: "offered_at",
    State.ACTIVE: "accepted_at",
    State.WRAP_UP: "wrap_up_at",
    State.CLOSED: "closed_at",
    State.ABANDONED: "abandoned_at",
    State.TRANSFERRED: "transferred_at",
}


def new_ref() -> str:
    """A public reference that says nothing about the contact (no sequence, no date)."""
    return secrets.token_hex(6).upper()


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_queue", "state", "priority", "enqueued_at"),)

    id: Mapped[intpk]
    ref: Mapped[str16] = mapped_column(unique=True, default=new_ref)
    channel: Mapped[str16]
    # A channel's own handle (a Twilio CallSid, a chat conversation id): never an identity.
    channel_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    language: Mapped[str16]
    topic: Mapped[str32 | None]
    # How the contact reached the line: self (the caller or visitor), police or partner referral.
    source: Mapped[str16] = mapped_column(default="self", server_default="self")
    priority: Mapped[int] = mapped_column(default=0)
    state: Mapped[str16] = mapped_column(default=State.WAITING)
    urgent: Mapped[bool] = mapped_column(default=False)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), index=True)
    offered_to_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    offer_expires_at: Mapped[dt.datetime | None]
    # A transfer to a named colleague: only they may take it.
    target_operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    created_at: Mapped[created_at]
    enqueued_at: Mapped[timestamp] = mapped_column(default=utcnow)
    offered_at: Mapped[dt.datetime | None]
    accepted_at: Mapped[dt.datetime | None]
    wrap_up_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    abandoned_at: Mapped[dt.datetime | None]
    transferred_at: Mapped[dt.datetime | None]
    overflowed_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    def to_public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "ref": self.ref,
            "channel": self.channel,
            "language": self.language,
            "topic": self.topic,
            "priority": self.priority,
            "source": self.source,
            "state": self.state,
            "urgent": self.urgent,
            "operator_id": self.operator_id,
            "offered_to_id": self.offered_to_id,
            "enqueued_at": self.enqueued_at.isoformat(),
            "accepted_at": self.accepted_at.isoformat() if self.accepted_at else None,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "overflowed": self.overflowed_at is not None,
        }

    @property
    def wait_seconds(self) -> float:
        end = self.accepted_at or self.abandoned_at or utcnow()
        return max(0.0, (end - self.enqueued_at).total_seconds())


class ContactTransition(Base):
    __tablename__ = "contact_transitions"

    id: Mapped[intpk]
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    from_state: Mapped[str16 | None]
    to_state: Mapped[str16]
    at: Mapped[timestamp] = mapped_column(index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    reason: Mapped[str32 | None]


def check_transition(current: str, wanted: State) -> None:
    if wanted not in TRANSITIONS[State(current)]:
        raise IllegalTransition(f"a contact that is {current} cannot become {wanted}")


def record_transition(
    session: Session,
    contact: Contact,
    from_state: str | None,
    to_state: State,
    now: dt.datetime,
    *,
    operator_id: int | None = None,
    reason: str | None = None,
) -> None:
    session.add(
        ContactTransition(
            contact_id=contact.id,
            from_state=from_state,
            to_state=to_state,
            at=now,
            operator_id=operator_id,
            reason=reason,
        )
    )


def transition(
    session: Session,
    contact: Contact,
    to_state: State,
    now: dt.datetime | None = None,
    *,
    operator_id: int | None = None,
    reason: str | None = None,
) -> None:
    """Move a contact the caller holds (locked or owned) to `to_state`, checking legality."""
    now = now or utcnow()
    check_transition(contact.state, to_state)
    previous = contact.state
    contact.state = to_state
    contact.version += 1
    stamp = STAMP.get(to_state)
    if stamp:
        setattr(contact, stamp, now)
    record_transition(
        session, contact, previous, to_state, now, operator_id=operator_id, reason=reason
    )


def get_contact(session: Session, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise ContactNotFound(f"no contact {contact_id}")
    return contact


def find_by_channel_ref(session: Session, channel: Channel, channel_ref: str) -> Contact | None:
    return session.scalar(
        select(Contact)
        .where(Contact.channel == channel, Contact.channel_ref == channel_ref)
        .order_by(Contact.id.desc())
        .limit(1)
    )
