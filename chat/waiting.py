"""A waiting visitor's place in the one queue and a plain estimate of the wait.

The position counts every contact ahead in routing order (priority, then wait), calls included,
because they are served by the same people. The estimate is deliberately simple and honest: the
recent handling time of chats spread over the chat places that operators on shift have, or, when
the line has answered anyone lately, the pace at which it did, whichever is slower. A visitor
told two minutes who waits ten may give up, or stop trusting the line.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.db import utcnow
from console.domain.contacts import HELD, Channel, Contact, ContactTransition, State
from console.domain.operators import TAKING_CONTACTS, Operator

DEFAULT_HANDLE_SECONDS = 600.0
RECENT = dt.timedelta(hours=2)
PACE_WINDOW = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class Capacity:
    slots: int  # chat places of the operators taking contacts
    busy: int  # places in use
    handle_seconds: float

    @property
    def free(self) -> int:
        return max(0, self.slots - self.busy)


def capacity(session: Session, now: dt.datetime | None = None) -> Capacity:
    now = now or utcnow()
    slots = session.scalar(
        select(func.coalesce(func.sum(Operator.max_chats), 0)).where(
            Operator.active, Operator.presence.in_(list(TAKING_CONTACTS))
        )
    )
    busy = session.scalar(
        select(func.count())
        .select_from(Contact)
        .join(Operator, Operator.id == Contact.operator_id)
        .where(Contact.state.in_(HELD), Operator.presence.in_(list(TAKING_CONTACTS)))
    )
    recent = session.execute(
        select(Contact.accepted_at, Contact.closed_at).where(
            Contact.channel == Channel.CHAT,
            Contact.state == State.CLOSED,
            Contact.closed_at >= now - RECENT,
            Contact.accepted_at.is_not(None),
        )
    ).all()
    durations = [
        (closed - accepted).total_seconds() for accepted, closed in recent if accepted and closed
    ]
    handle = sum(durations) / len(durations) if durations else DEFAULT_HANDLE_SECONDS
    return Capacity(int(slots or 0), int(busy or 0), min(3600.0, max(60.0, handle)))


def queue_order(session: Session) -> list[int]:
    """Ids of every queued contact, in the order routing serves them."""
    return list(
        session.scalars(
            select(Contact.id)
            .where(Contact.state.in_([State.WAITING, State.OFFERED]))
            .order_by(Contact.priority.desc(), Contact.enqueued_at, Contact.id)
        )
    )


def answers_per_minute(session: Session, now: dt.datetime | None = None) -> float | None:
    """Contacts of every channel answered per minute lately; None when there were none."""
    now = now or utcnow()
    answered = session.scalar(
        select(func.count())
        .select_from(ContactTransition)
        .where(
            ContactTransition.to_state == State.ACTIVE,
            ContactTransition.at >= now - PACE_WINDOW,
        )
    )
    return int(answered) / (PACE_WINDOW.total_seconds() / 60) if answered else None


def estimate_seconds(position: int, cap: Capacity, pace: float | None = None) -> int:
    if position <= cap.free:
        # A free place: the next routing tick offers it, and the operator accepts.
        return 30
    ahead = position - cap.free
    per_slot = cap.handle_seconds / max(1, cap.slots)
    seconds = ahead * per_slot
    if pace:
        seconds = max(seconds, position / pace * 60)
    return int(math.ceil(seconds / 30.0) * 30)


def positions(session: Session, contact_ids: set[int]) -> dict[int, tuple[int, int]]:
    """contact id → (position, estimated seconds) for those of `contact_ids` still queued."""
    if not contact_ids:
        return {}
    order = queue_order(session)
    cap = capacity(session)
    pace = answers_per_minute(session)
    result = {}
    for index, contact_id in enumerate(order):
        if contact_id in contact_ids:
            result[contact_id] = (index + 1, estimate_seconds(index + 1, cap, pace))
    return result
