"""The chat's reactions to queue moves, run inside the transaction that made the move."""

from __future__ import annotations

from sqlalchemy.orm import Session

from chat import conversations, runtime
from chat.models import Conversation
from console.db import utcnow
from console.domain import events, hooks
from console.domain.contacts import Channel, Contact, State


def _conversation(session: Session, contact: Contact) -> Conversation | None:
    if contact.channel != Channel.CHAT:
        return None
    return conversations.by_ref(session, contact.channel_ref)


def on_accepted(session: Session, contact: Contact) -> None:
    conversation = _conversation(session, contact)
    if conversation is None:
        return
    conversation.operator_seen_at = utcnow()
    room = conversations.room(conversation)
    events.publish(session, "chat.widget.status", {"status": "active"}, room=room)
    if contact.operator_id is not None and not conversation.visitor_connected:
        events.publish(
            session,
            "chat.visitor",
            {
                "contact_id": contact.id,
                "status": "left" if conversation.status == "left" else "away",
            },
            room=events.operator_room(contact.operator_id),
        )


def on_ended(session: Session, contact: Contact) -> None:
    conversation = _conversation(session, contact)
    if conversation is None:
        return
    conversation.ended_at = utcnow()
    chat = runtime.current().chat
    events.publish(
        session,
        "chat.widget.status",
        {"status": "ended", "survey": conversations.survey_open(session, conversation, chat)},
        room=conversations.room(conversation),
    )


def on_final(session: Session, contact: Contact) -> None:
    conversation = _conversation(session, contact)
    if conversation is None:
        return
    if contact.state == State.TRANSFERRED:
        events.publish(
            session,
            "chat.widget.status",
            {"status": "waiting", "transferred": True},
            room=conversations.room(conversation),
        )
        return
    conversations.copy_survey_to_outcome(session, conversation, contact)
    conversations.close(session, conversation, chat=runtime.current().chat)


def register() -> None:
    hooks.on("accepted", on_accepted)
    hooks.on("ended", on_ended)
    hooks.on("final", on_final)
