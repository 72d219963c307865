"""The operator's side of the chat (blueprint `chat_operator`, staff only): the panel's API, and the
admins' page for canned responses.

Ending, transferring and wrapping up a chat use the console's own contact endpoints; the chat
reacts to those moves through domain hooks (chat/hooks.py).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from chat import canned, conversations
from chat.errors import ChatEnded, NotAChat
from chat.models import Conversation
from chat.pseudonyms import block
from chat.runtime import ChatRuntime
from console.domain import events, queue
from console.domain.contacts import Channel, Contact, State, get_contact
from console.domain.errors import DomainError, NotYourContact, ValidationFailed
from console.domain.operators import TAKING_CONTACTS, Operator
from console.web import database, inputs
from console.web.security import ADMINS, STAFF, roles

bp = Blueprint("chat_operator", __name__, template_folder="templates")


def _runtime() -> ChatRuntime:
    rt: ChatRuntime = current_app.extensions["chat"]
    return rt


def _my_chat(session: Session, contact_id: int) -> tuple[Contact, Conversation]:
    contact = get_contact(session, contact_id)
    if contact.channel != Channel.CHAT:
        raise NotAChat("This contact is not a chat.")
    if contact.operator_id != current_user.operator_id:
        raise NotYourContact("This chat is not yours.")
    return contact, conversations.for_contact(session, contact)


def _visitor_status(conversation: Conversation) -> str:
    if conversation.status == "left":
        return "left"
    return "online" if conversation.visitor_connected else "away"


def chat_state(session: Session, contact: Contact, conversation: Conversation) -> dict[str, Any]:
    return {
        "contact": contact.to_public(),
        "language": conversation.language,
        "topic": conversation.topic,
        "visitor": _visitor_status(conversation),
        "left_reason": conversation.left_reason,
        "messages": conversations.transcript(session, conversation),
        "can_block": conversation.pseudonym is not None,
    }


@bp.route("/api/chat/conversations")
@roles(*STAFF)
def mine() -> ResponseReturnValue:
    """The operator's chats with their transcripts: loaded at start and after every reconnect."""
    session = database.session()
    result = []
    for contact in queue.held_by(session, current_user.operator_id):
        if contact.channel != Channel.CHAT:
            continue
        conversation = conversations.by_ref(session, contact.channel_ref)
        if conversation is not None:
            result.append(chat_state(session, contact, conversation))
    return jsonify(chats=result, block_durations=list(_runtime().chat.block_durations))


@bp.route("/api/chat/contacts/<int:contact_id>")
@roles(*STAFF)
def one(contact_id: int) -> ResponseReturnValue:
    session = database.session()
    contact, conversation = _my_chat(session, contact_id)
    return jsonify(chat_state(session, contact, conversation))


@bp.route("/api/chat/contacts/<int:contact_id>/messages", methods=["POST"])
@roles(*STAFF)
def send(contact_id: int) -> ResponseReturnValue:
    rt = _runtime()
    data = inputs.body()
    session = database.session()
    # The hot path: `post` itself checks that the chat's live leg is this operator's and active.
    posted = conversations.post(
        session,
        conversations.conversation_id_for(session, contact_id),
        sender=conversations.OPERATOR,
        text=data.get("text"),
        client_id=data.get("client_id"),
        chat=rt.chat,
        operator_id=current_user.operator_id,
    )
    session.commit()
    return jsonify(message=posted.payload)


@bp.route("/api/chat/contacts/<int:contact_id>/typing", methods=["POST"])
@roles(*STAFF)
def typing(contact_id: int) -> ResponseReturnValue:
    data = inputs.body()
    session = database.session()
    contact, conversation = _my_chat(session, contact_id)
    if contact.state != State.ACTIVE:
        raise ChatEnded("This chat has ended.")
    wait = _runtime().limiter.hit(f"optyping:{contact.id}", 2, 1.0)
    if not wait:
        events.send_now(
            "chat.widget.typing",
            {"typing": bool(data.get("typing"))},
            room=conversations.room(conversation),
        )
    session.rollback()
    return jsonify(ok=True)


@bp.route("/api/chat/contacts/<int:contact_id>/delivered", methods=["POST"])
@roles(*STAFF)
def delivered(contact_id: int) -> ResponseReturnValue:
    data = inputs.body()
    session = database.session()
    _contact, conversation = _my_chat(session, contact_id)
    done = conversations.mark_delivered(
        session, conversation, reader=conversations.OPERATOR, seqs=data.get("seqs")
    )
    conversations.operator_seen(session, current_user.operator_id)
    session.commit()
    return jsonify(seqs=done)


@bp.route("/api/chat/contacts/<int:contact_id>/block", methods=["POST"])
@roles(*STAFF)
def block_visitor(contact_id: int) -> ResponseReturnValue:
    """Block a disruptive visitor for a set time (by pseudonym) and end the chat."""
    rt = _runtime()
    data = inputs.body()
    minutes = inputs.integer(data, "minutes")
    if minutes not in rt.chat.block_durations:
        raise ValidationFailed(
            "minutes: one of " + ", ".join(str(m) for m in rt.chat.block_durations)
        )
    session = database.session()
    contact, conversation = _my_chat(session, contact_id)
    if conversation.pseudonym is None:
        raise ChatEnded("This visitor can no longer be blocked: the chat is closed.")
    block(session, conversation.pseudonym, minutes, current_user.operator_id)
    events.publish(
        session, "chat.widget.status", {"status": "blocked"}, room=conversations.room(conversation)
    )
    if contact.state == State.ACTIVE:
        queue.start_wrap_up(session, contact.id, current_user.operator_id)
    conversations.visitor_leaves(session, conversation, reason="blocked")
    session.commit()
    return jsonify(contact=contact.to_public(), blocked_minutes=minutes)


@bp.route("/api/chat/canned")
@roles(*STAFF)
def canned_for_language() -> ResponseReturnValue:
    rt = _runtime()
    session = database.session()
    language = request.args.get("language", "")
    if language not in rt.settings.language_codes:
        raise ValidationFailed("language: one of the helpline's languages")
    return jsonify(responses=canned.for_language(session, rt.chat, language))


@bp.route("/api/chat/colleagues")
@roles(*STAFF)
def colleagues() -> ResponseReturnValue:
    """Who a chat may be transferred to: colleagues who can take contacts now."""
    session = database.session()
    rows = session.scalars(
        select(Operator)
        .where(
            Operator.active,
            Operator.presence.in_(list(TAKING_CONTACTS)),
            Operator.id != current_user.operator_id,
        )
        .order_by(Operator.display_name)
    )
    return jsonify(
        colleagues=[
            {"id": op.id, "display_name": op.display_name, "languages": list(op.languages)}
            for op in rows
        ]
    )


@bp.route("/chat/admin/canned")
@roles(*ADMINS)
def canned_admin() -> ResponseReturnValue:
    rt = _runtime()
    session = database.session()
    return render_template(
        "chat/admin_canned.html",
        responses=canned.effective(session, rt.chat, rt.settings.language_codes),
        languages=rt.settings.languages,
    )


@bp.route("/chat/admin/canned", methods=["POST"])
@roles(*ADMINS)
def canned_save() -> ResponseReturnValue:
    rt = _runtime()
    data = inputs.body()
    session = database.session()
    action = data.get("action", "save")
    key, language, languages = data.get("key"), data.get("language"), rt.settings.language_codes
    try:
        if action == "hide":
            canned.hide(
                session,
                key=key,
                language=language,
                operator_id=current_user.operator_id,
                languages=languages,
            )
        elif action == "reset":
            canned.reset(session, key=key, language=language, languages=languages)
        else:
            canned.save(
                session,
                key=key,
                language=language,
                title=data.get("title"),
                text=data.get("text"),
                operator_id=current_user.operator_id,
                languages=languages,
            )
    except DomainError as exc:
        session.rollback()
        flash(exc.message)
        return redirect(url_for("chat_operator.canned_admin"))
    session.commit()
    flash("Saved.")
    return redirect(url_for("chat_operator.canned_admin"))
