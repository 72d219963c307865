"""The spine's job functions. Each takes IDs or nothing and logs counts, never content."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from console.db import utcnow
from console.domain import queue
from console.domain.contacts import Channel, Contact, State
from console.domain.errors import DomainError
from console.jobs.context import get_context

log = logging.getLogger(__name__)

# A call or chat still waiting after this long lost its channel's hang-up signal; nobody is on
# the other end any more.
STALE_AFTER = dt.timedelta(hours=4)
# Only those: a callback request (a police or self-referral from intake) has no one on the line
# and waits, overnight or over a weekend, until an operator calls back.
LIVE_CHANNELS = (Channel.VOICE, Channel.CHAT)


def sweep_stale_contacts() -> int:
    ctx = get_context()
    cutoff = utcnow() - STALE_AFTER
    count = 0
    with ctx.database.transaction() as session:
        stale = session.scalars(
            select(Contact.id).where(
                Contact.state == State.WAITING,
                Contact.channel.in_(LIVE_CHANNELS),
                Contact.enqueued_at < cutoff,
            )
        ).all()
        for contact_id in stale:
            try:
                queue.abandon(session, contact_id, reason="stale")
                count += 1
            except DomainError:
                continue
    if count:
        log.info("closed %d stale waiting calls and chats", count)
    return count
