"""The chat's periodic jobs: purge transcripts whose retention ended, close chats both sides left.

Like every job here they take nothing, sweep the database, are safe to run in several processes at
once, and log counts only.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from chat import conversations, pseudonyms, runtime
from chat.models import Conversation, Message
from console.db import utcnow
from console.domain import queue
from console.domain.contacts import QUEUED, Channel, Contact, State
from console.domain.errors import DomainError
from console.jobs.periodic import PeriodicJob, register

log = logging.getLogger(__name__)


def purge_transcripts(now: dt.datetime | None = None) -> int:
    """Delete what retention no longer allows: transcripts, then the conversations' rows."""
    rt = runtime.current()
    now = now or utcnow()
    with rt.database.transaction() as session:
        # A contact closed by a process without the chat's hooks (a worker's stale sweep): no leg
        # of the conversation is still live. One query, however many chats are open.
        live_leg = (
            select(Contact.id)
            .where(
                Contact.channel == Channel.CHAT,
                Contact.channel_ref == Conversation.ref,
                Contact.state.not_in([State.CLOSED, State.ABANDONED, State.TRANSFERRED]),
            )
            .exists()
        )
        orphans = 0
        for conversation in session.scalars(
            select(Conversation).where(Conversation.status != "closed", ~live_leg)
        ):
            conversations.close(session, conversation, chat=rt.chat, now=now)
            orphans += 1
        # Kept past the line's own retention: by a consent, which may since have been withdrawn.
        for conversation in session.scalars(
            select(Conversation).where(
                Conversation.purge_after > now + dt.timedelta(days=max(0, rt.chat.retention_days))
            )
        ):
            until = conversations.transcript_kept_until(session, conversation, rt.chat, now)
            conversation.purge_after = until if until is not None else now
        session.flush()
        due = select(Conversation.id).where(Conversation.purge_after <= now)
        purged = session.execute(delete(Message).where(Message.conversation_id.in_(due)))
        session.execute(
            update(Conversation)
            .where(Conversation.purge_after <= now)
            .values(purge_after=None)
            .execution_options(synchronize_session=False)
        )
        # The rows themselves hold no text; they stay while the survey may still be answered.
        gone = session.execute(
            delete(Conversation).where(
                Conversation.status == "closed",
                Conversation.purge_after.is_(None),
                Conversation.closed_at <= now - dt.timedelta(seconds=rt.chat.survey_window),
            )
        )
        blocks = pseudonyms.purge_expired_blocks(session, now)
        keys = rt.pseudonyms.destroy_old_keys(session, now)
    messages = int(purged.rowcount or 0)  # type: ignore[attr-defined]
    rows = int(gone.rowcount or 0)  # type: ignore[attr-defined]
    if messages or rows or orphans or blocks or keys:
        log.info(
            "chat purge: %d messages, %d conversations, %d closed late, %d blocks, %d keys",
            messages,
            rows,
            orphans,
            blocks,
            keys,
        )
    return messages


def sweep_abandoned(now: dt.datetime | None = None) -> int:
    """Close chats that both sides have left for `abandon_after` seconds."""
    rt = runtime.current()
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=rt.chat.abandon_after)
    count = 0
    with rt.database.transaction() as session:
        gone = session.scalars(
            select(Conversation).where(
                Conversation.status.in_(["open", "left"]),
                Conversation.visitor_connected.is_(False),
                Conversation.visitor_seen_at <= cutoff,
            )
        ).all()
        for conversation in gone:
            contact = conversations.current_contact(session, conversation)
            if contact is None:
                continue
            try:
                if contact.state in QUEUED:
                    queue.abandon(session, contact.id, now, reason="visitor_gone")
                    count += 1
                elif contact.state == State.ACTIVE and (
                    conversation.operator_seen_at is None or conversation.operator_seen_at <= cutoff
                ):
                    queue.close(session, contact, contact.operator_id, now, reason="abandoned")
                    count += 1
            except DomainError:
                continue  # answered or closed by someone else meanwhile
    if count:
        log.info("closed %d chats that both sides had left", count)
    return count


def erase_for_contacts(session: Session, contact_ids: list[int]) -> int:
    """A case's erasure (console.domain.retention.erase_case): the transcripts of its chats go at
    once, whatever their retention, and the rows of the chats already closed."""
    refs = select(Contact.channel_ref).where(
        Contact.id.in_(contact_ids), Contact.channel == Channel.CHAT
    )
    chats = select(Conversation.id).where(Conversation.ref.in_(refs))
    erased = session.execute(
        delete(Message)
        .where(Message.conversation_id.in_(chats))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(Conversation)
        .where(Conversation.ref.in_(refs), Conversation.status == "closed")
        .execution_options(synchronize_session=False)
    )
    return int(erased.rowcount or 0)  # type: ignore[attr-defined]


def register_periodic() -> None:
    register(PeriodicJob("chat.jobs.purge_transcripts", every=60))
    register(PeriodicJob("chat.jobs.sweep_abandoned", every=30))


register_periodic()
