"""Conversations and their messages: the chat's domain, Flask-free like the console's.

Every function takes an explicit session and publishes through the console's choke point, so a
visitor or an operator hears of a message only once it is committed: an acknowledged message is a
stored message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from chat import events as chat_events
from chat.errors import ChatEnded, ConversationNotFound, NotAChat
from chat.models import Conversation, Message
from chat.settings import ChatSettings, SurveyQuestion
from console.db import INTEGER_MAX, utcnow
from console.domain import consent, crypto, events, queue
from console.domain.consent import Scope
from console.domain.contacts import QUEUED, Channel, Contact, State, find_by_channel_ref
from console.domain.errors import NotYourContact, ValidationFailed
from console.settings import QueueSettings

VISITOR = "visitor"
OPERATOR = "operator"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}\Z")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def room(conversation: Conversation) -> str:
    return chat_events.room_of(conversation.token_hash)


def by_token(session: Session, token: Any) -> Conversation | None:
    if not isinstance(token, str) or not 20 <= len(token) <= 100 or not token.isascii():
        return None
    return session.scalar(select(Conversation).where(Conversation.token_hash == hash_token(token)))


def by_ref(session: Session, ref: str | None) -> Conversation | None:
    if not ref:
        return None
    return session.scalar(select(Conversation).where(Conversation.ref == ref))


def current_contact(session: Session, conversation: Conversation) -> Contact | None:
    """The conversation's latest leg (a transfer makes a new one with the same channel_ref)."""
    return find_by_channel_ref(session, Channel.CHAT, conversation.ref)


def for_contact(session: Session, contact: Contact) -> Conversation:
    if contact.channel != Channel.CHAT:
        raise ValidationFailed("This contact is not a chat.")
    conversation = by_ref(session, contact.channel_ref)
    if conversation is None:
        raise ConversationNotFound("This chat's conversation is gone.")
    return conversation


def start(
    session: Session,
    *,
    language: Any,
    topic: Any,
    languages: Iterable[str],
    topics: Iterable[str],
    cfg: QueueSettings,
    pseudonym: str | None,
    sid: str | None,
    now: dt.datetime | None = None,
) -> tuple[Conversation, Contact, str]:
    """A visitor starts a chat: it joins the one queue as a chat contact. Returns the token once."""
    now = now or utcnow()
    if not isinstance(language, str) or language not in set(languages):
        raise ValidationFailed("language: choose one of the offered languages")
    if topic in ("", None):
        topic = None
    elif not isinstance(topic, str) or topic not in set(topics):
        raise ValidationFailed("topic: choose one of the offered topics, or none")
    token = new_token()
    conversation = Conversation(
        ref=secrets.token_hex(16),
        token_hash=hash_token(token),
        language=language,
        topic=topic,
        status="open",
        last_seq=0,
        visitor_sid=sid,
        visitor_connected=sid is not None,
        visitor_seen_at=now,
        pseudonym=pseudonym,
        created_at=now,
    )
    session.add(conversation)
    session.flush()
    contact = queue.enqueue(
        session,
        channel=Channel.CHAT,
        language=language,
        cfg=cfg,
        topic=topic,
        channel_ref=conversation.ref,
        now=now,
    )
    return conversation, contact, token


def check_text(text: Any, max_length: int) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValidationFailed("text: write something first")
    if len(text) > max_length:
        raise ValidationFailed(f"text: at most {max_length} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which JSON admits as \ud800
        raise ValidationFailed("text: holds a character that is not valid Unicode") from exc
    return text.replace("\x00", "")


def check_client_id(client_id: Any) -> str:
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise ValidationFailed("client_id: 1–40 letters, digits, '-' or '_'")
    return client_id


def message_payload(message: Message, text: str) -> dict[str, Any]:
    return {
        "seq": message.seq,
        "sender": message.sender,
        "text": text,
        "at": message.created_at.isoformat(),
        "client_id": message.client_id,
    }


@dataclass(frozen=True)
class Posted:
    """A stored message as both sides see it, and whether this call stored it."""

    payload: dict[str, Any]
    new: bool

    @property
    def seq(self) -> int:
        return int(self.payload["seq"])


_OPEN_TO_VISITOR = frozenset({State.WAITING, State.OFFERED, State.ACTIVE})

# The hot path's statements, built once: building them per message costs more than running them.
_CONVERSATION = select(Conversation.status, Conversation.ref, Conversation.token_hash).where(
    Conversation.id == bindparam("cid")
)
_RESENT = select(Message.seq, Message.sender, Message.body, Message.created_at).where(
    Message.conversation_id == bindparam("cid"), Message.client_id == bindparam("client_id")
)
_LATEST_LEG = (
    select(Contact.id, Contact.state, Contact.operator_id)
    .where(Contact.channel == Channel.CHAT, Contact.channel_ref == bindparam("ref"))
    .order_by(Contact.id.desc())
    .limit(1)
)
_NEXT_SEQ = {
    side: update(Conversation)
    .where(Conversation.id == bindparam("cid"))
    .values({"last_seq": Conversation.last_seq + 1, column: bindparam("now")})
    .returning(Conversation.last_seq)
    for side, column in ((VISITOR, "visitor_seen_at"), (OPERATOR, "operator_seen_at"))
}
_INSERT = insert(Message)


_BY_CONTACT = (
    select(Conversation.id)
    .join(Contact, Contact.channel_ref == Conversation.ref)
    .where(Contact.id == bindparam("contact_id"), Contact.channel == Channel.CHAT)
)


def conversation_id_for(session: Session, contact_id: int) -> int:
    """The conversation behind a chat contact (any of its legs), in one indexed query."""
    found = session.connection().execute(_BY_CONTACT, {"contact_id": contact_id}).scalar()
    if found is None:
        raise NotAChat(f"no chat for contact {contact_id}")
    return int(found)


def post(
    session: Session,
    conversation_id: int,
    *,
    sender: str,
    text: Any,
    client_id: Any,
    chat: ChatSettings,
    operator_id: int | None = None,
    now: dt.datetime | None = None,
) -> Posted:
    """Store a message and publish it to both sides once committed.

    A resend with a client_id already stored returns the stored message: a visitor who lost the
    acknowledgement in a reconnect resends, and nothing is stored twice. This is the chat's hot
    path, so it runs a handful of prepared Core statements rather than loading ORM objects.
    """
    now = now or utcnow()
    text = check_text(text, chat.max_message_length)
    client_id = check_client_id(client_id)
    if sender not in _NEXT_SEQ:
        raise ValueError(f"unknown sender {sender!r}")
    conn = session.connection()
    found = conn.execute(_CONVERSATION, {"cid": conversation_id}).one_or_none()
    if found is None:
        raise ChatEnded("This chat is no longer available.")
    status, ref, token_hash = found
    existing = conn.execute(_RESENT, {"cid": conversation_id, "client_id": client_id}).first()
    if existing is not None:
        payload = {
            "seq": existing.seq,
            "sender": existing.sender,
            "text": crypto.decrypt(existing.body),
            "at": existing.created_at.isoformat(),
            "client_id": client_id,
        }
        return Posted(payload, new=False)
    contact = conn.execute(_LATEST_LEG, {"ref": ref}).one_or_none()
    if sender == VISITOR:
        if status != "open" or contact is None or contact.state not in _OPEN_TO_VISITOR:
            raise ChatEnded("This chat has ended.")
    else:
        if contact is None or contact.operator_id != operator_id:
            raise NotYourContact("This chat is not yours.")
        if contact.state != State.ACTIVE:
            raise ChatEnded("This chat has ended; nothing more can be sent.")
    seq = conn.execute(_NEXT_SEQ[sender], {"cid": conversation_id, "now": now}).scalar_one()
    conn.execute(
        _INSERT,
        {
            "conversation_id": conversation_id,
            "seq": seq,
            "sender": sender,
            "operator_id": operator_id,
            "client_id": client_id,
            "body": crypto.encrypt(text),
            "created_at": now,
            "delivered_at": None,
        },
    )
    payload = {
        "seq": seq,
        "sender": sender,
        "text": text,
        "at": now.isoformat(),
        "client_id": client_id,
    }
    if sender == OPERATOR:
        # The visitor's own message needs no echo: one tab, one token, and the ack carries it.
        events.publish(
            session, "chat.widget.message", payload, room=chat_events.room_of(token_hash)
        )
    if contact is not None and contact.operator_id is not None and contact.state == State.ACTIVE:
        events.publish(
            session,
            "chat.message",
            {"contact_id": contact.id, **payload},
            room=events.operator_room(contact.operator_id),
        )
    return Posted(payload, new=True)


def transcript(session: Session, conversation: Conversation) -> list[dict[str, Any]]:
    messages = session.scalars(
        select(Message).where(Message.conversation_id == conversation.id).order_by(Message.seq)
    )
    return [
        message_payload(m, crypto.decrypt(m.body)) | {"delivered": m.delivered_at is not None}
        for m in messages
    ]


def mark_delivered(
    session: Session,
    conversation: Conversation,
    *,
    reader: str,
    seqs: Any,
    now: dt.datetime | None = None,
) -> list[int]:
    """The reader's client has the other side's messages `seqs`; tell the other side."""
    now = now or utcnow()
    # type() is int: a bool is an int too; and within an INTEGER column's range.
    if (
        not isinstance(seqs, list)
        or len(seqs) > 500
        or not all(type(s) is int and 0 < s <= INTEGER_MAX for s in seqs)
    ):
        raise ValidationFailed("seqs: a list of message numbers")
    if not seqs:
        return []
    other = OPERATOR if reader == VISITOR else VISITOR
    due = list(
        session.scalars(
            select(Message.seq).where(
                Message.conversation_id == conversation.id,
                Message.sender == other,
                Message.seq.in_(seqs),
                Message.delivered_at.is_(None),
            )
        )
    )
    if not due:
        return []
    session.execute(
        update(Message)
        .where(Message.conversation_id == conversation.id, Message.seq.in_(due))
        .values(delivered_at=now)
        .execution_options(synchronize_session=False)
    )
    if reader == OPERATOR:
        events.publish(session, "chat.widget.delivered", {"seqs": due}, room=room(conversation))
    else:
        contact = current_contact(session, conversation)
        if (
            contact is not None
            and contact.operator_id is not None
            and contact.state
            in (
                State.ACTIVE,
                State.WRAP_UP,
            )
        ):
            events.publish(
                session,
                "chat.delivered",
                {"contact_id": contact.id, "seqs": due},
                room=events.operator_room(contact.operator_id),
            )
    return due


QUICK_EXIT = "quick_exit"


def _tell_operator(
    session: Session, conversation: Conversation, status: str, reason: str | None = None
) -> None:
    contact = current_contact(session, conversation)
    if (
        contact is not None
        and contact.operator_id is not None
        and contact.state
        in (
            State.ACTIVE,
            State.WRAP_UP,
        )
    ):
        payload: dict[str, Any] = {"contact_id": contact.id, "status": status}
        if reason is not None:
            payload["reason"] = reason
        events.publish(
            session, "chat.visitor", payload, room=events.operator_room(contact.operator_id)
        )


def visitor_connected(
    session: Session,
    conversation: Conversation,
    sid: str,
    pseudonym: str | None,
    now: dt.datetime | None = None,
) -> None:
    now = now or utcnow()
    conversation.visitor_sid = sid
    conversation.visitor_connected = True
    conversation.visitor_seen_at = now
    if pseudonym is not None:
        conversation.pseudonym = pseudonym
    _tell_operator(session, conversation, "online")


def visitor_disconnected(
    session: Session, conversation_id: int, sid: str, now: dt.datetime | None = None
) -> bool:
    """Only the visitor's latest socket counts: an old one closing late changes nothing."""
    now = now or utcnow()
    result = session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.visitor_sid == sid,
            Conversation.status == "open",
        )
        .values(visitor_connected=False, visitor_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None:
        _tell_operator(session, conversation, "away")
    return True


def visitor_leaves(
    session: Session,
    conversation: Conversation,
    *,
    reason: str = "visitor_left",
    now: dt.datetime | None = None,
) -> None:
    """Quick exit or "end chat": the visitor is gone for good; their token no longer resumes.

    A quick exit tells the operator more than "left": the visitor may have fled someone at their
    side, so a call-back or a follow-up message could put them in danger. The widget sends both a
    beacon and a socket message; each carries the reason, and whichever lands first decides.
    """
    now = now or utcnow()
    if conversation.status != "open":
        return
    conversation.status = "left"
    conversation.visitor_left_at = now
    conversation.left_reason = QUICK_EXIT if reason == QUICK_EXIT else None
    conversation.visitor_seen_at = now
    conversation.visitor_connected = False
    conversation.visitor_sid = None
    contact = current_contact(session, conversation)
    if contact is None:
        return
    if contact.state in QUEUED:
        queue.abandon(session, contact.id, now, reason=reason)
    else:
        _tell_operator(session, conversation, "left", conversation.left_reason)


def status_of(session: Session, conversation: Conversation) -> str:
    """What the visitor's widget shows: waiting, active, ended or closed."""
    contact = current_contact(session, conversation)
    if conversation.status == "closed" or contact is None:
        return "closed"
    if contact.state in QUEUED:
        return "waiting"
    if contact.state == State.ACTIVE:
        return "active"
    if contact.state == State.WRAP_UP:
        return "ended"
    return "closed"


def survey_open(session: Session, conversation: Conversation, chat: ChatSettings) -> bool:
    """The visitor may still answer: an operator answered, and it has not been answered yet."""
    if not chat.survey or conversation.survey_at is not None:
        return False
    contact = current_contact(session, conversation)
    return contact is not None and contact.accepted_at is not None


def close(
    session: Session,
    conversation: Conversation,
    *,
    chat: ChatSettings,
    now: dt.datetime | None = None,
) -> int:
    """The contact is final: forget the visitor's socket and pseudonym, and delete the transcript
    unless retention keeps it (then the purge job deletes it when the time is up)."""
    now = now or utcnow()
    if conversation.status == "closed":
        return 0
    survey = survey_open(session, conversation, chat)
    conversation.status = "closed"
    conversation.closed_at = now
    conversation.visitor_sid = None
    conversation.visitor_connected = False
    conversation.pseudonym = None
    deleted = 0
    until = transcript_kept_until(session, conversation, chat, now)
    if until is None:
        deleted = delete_transcript(session, conversation.id)
        conversation.purge_after = None
    else:
        conversation.purge_after = until
    events.publish(
        session,
        "chat.widget.status",
        {"status": "closed", "survey": survey},
        room=room(conversation),
    )
    return deleted


def transcript_kept_until(
    session: Session, conversation: Conversation, chat: ChatSettings, now: dt.datetime
) -> dt.datetime | None:
    """Until when the transcript of a closed conversation is kept, or None to delete it now.

    The line's own retention counts from the close; a visitor's consent to keep the transcript
    keeps it for as long as the consent runs, even where the line keeps none. Whichever lasts
    longer decides.
    """
    kept = []
    consented = consent.kept_until(
        session, contact_ids(session, conversation), Scope.TRANSCRIPT, now
    )
    if consented is not None:
        kept.append(consented)
    if chat.retention_days > 0:
        kept.append((conversation.closed_at or now) + dt.timedelta(days=chat.retention_days))
    return max(kept) if kept else None


def contact_ids(session: Session, conversation: Conversation) -> list[int]:
    """The contacts (legs) of this conversation."""
    return list(
        session.scalars(
            select(Contact.id).where(
                Contact.channel == Channel.CHAT, Contact.channel_ref == conversation.ref
            )
        )
    )


def delete_transcript(session: Session, conversation_id: int) -> int:
    result = session.execute(delete(Message).where(Message.conversation_id == conversation_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def survey_questions(chat: ChatSettings, language: str) -> list[dict[str, Any]]:
    def pick(texts: Any) -> str:
        return str(texts.get(language) or texts.get("en") or next(iter(texts.values()), ""))

    return [
        {
            "key": q.key,
            "question": pick(q.question),
            "answers": [{"code": a.code, "label": pick(a.labels)} for a in q.answers],
        }
        for q in chat.survey
    ]


def _check_answers(answers: Any, questions: tuple[SurveyQuestion, ...]) -> dict[str, str]:
    if not isinstance(answers, dict):
        raise ValidationFailed("answers: an object of question keys and answer codes")
    known = {q.key: {a.code for a in q.answers} for q in questions}
    result: dict[str, str] = {}
    for key, value in answers.items():
        if key not in known:
            raise ValidationFailed(f"answers: unknown question {str(key)[:32]!r}")
        if value in (None, ""):
            continue
        if not isinstance(value, str) or value not in known[key]:
            raise ValidationFailed(f"answers: {key} takes one of {', '.join(sorted(known[key]))}")
        result[key] = str(value)
    return result


def record_survey(
    session: Session,
    conversation: Conversation,
    answers: Any,
    chat: ChatSettings,
    now: dt.datetime | None = None,
) -> dict[str, str]:
    """Store the visitor's anonymous answers where the statistics count them:
    `Outcome.details["survey"]` of the chat's last leg (held on the conversation until it exists).
    """
    now = now or utcnow()
    if conversation.survey_at is not None:
        raise ValidationFailed("The survey has already been answered.")
    contact = current_contact(session, conversation)
    if contact is None or contact.accepted_at is None:
        raise ChatEnded("There is no answered chat to ask about.")
    result = _check_answers(answers, chat.survey)
    conversation.survey = result
    conversation.survey_at = now
    copy_survey_to_outcome(session, conversation, contact)
    return result


def copy_survey_to_outcome(session: Session, conversation: Conversation, contact: Contact) -> bool:
    if not conversation.survey:
        return False
    from console.domain.outcomes import Outcome

    outcome = session.scalar(select(Outcome).where(Outcome.contact_id == contact.id))
    if outcome is None:
        return False
    outcome.details = {**(outcome.details or {}), "survey": dict(conversation.survey)}
    return True


def operator_seen(session: Session, operator_id: int, now: dt.datetime | None = None) -> int:
    """The operator's console is there: their chats are not left by both sides."""
    now = now or utcnow()
    refs = select(Contact.channel_ref).where(
        Contact.operator_id == operator_id,
        Contact.channel == Channel.CHAT,
        Contact.state.in_([State.ACTIVE, State.WRAP_UP]),
    )
    result = session.execute(
        update(Conversation)
        .where(Conversation.ref.in_(refs), Conversation.status != "closed")
        .values(operator_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def count_messages(session: Session, conversation_id: int) -> int:
    return int(
        session.scalar(select(func.count()).where(Message.conversation_id == conversation_id)) or 0
    )
