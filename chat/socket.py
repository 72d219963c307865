"""The visitors' Socket.IO namespace `/chat`, apart from the staff's `/`.

A visitor's socket proves nothing but the resume token it presents: it may start one conversation
or resume its own, and every event after that acts on that conversation only. The address the
socket came from is turned into a rotating pseudonym at connect (for the block list) and dropped.
Each process keeps a small registry of its own visitor sockets, to push queue positions to those
still waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from flask_login import current_user
from flask_socketio import Namespace, join_room, leave_room
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from chat import case_reference, conversations, waiting
from chat import events as chat_events
from chat.errors import Blocked, ChatEnded, OutOfHours, RateLimited
from chat.models import Conversation
from chat.pseudonyms import client_address
from chat.runtime import ChatRuntime
from console.db import utcnow
from console.domain import events
from console.domain.contacts import QUEUED, Channel, Contact, State
from console.domain.errors import DomainError
from console.extensions import socketio

log = logging.getLogger(__name__)

TYPING_EVERY = 1.0  # seconds between two typing signals passed on, per conversation


@dataclass
class LocalVisitor:
    pseudonym: str | None
    conversation_id: int | None = None
    ref: str | None = None
    room: str | None = None
    last_queue: tuple[int, int] | None = None
    last_typing: float = 0.0


class Registry:
    """This process's visitor sockets (sid → conversation); nothing here outlives the socket."""

    def __init__(self) -> None:
        self._by_sid: dict[str, LocalVisitor] = {}
        self._lock = threading.Lock()

    def add(self, sid: str, visitor: LocalVisitor) -> None:
        with self._lock:
            self._by_sid[sid] = visitor

    def get(self, sid: str) -> LocalVisitor | None:
        with self._lock:
            return self._by_sid.get(sid)

    def pop(self, sid: str) -> LocalVisitor | None:
        with self._lock:
            return self._by_sid.pop(sid, None)

    def in_conversations(self) -> list[LocalVisitor]:
        with self._lock:
            return [v for v in self._by_sid.values() if v.ref is not None]

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_sid)


def _runtime() -> ChatRuntime:
    rt: ChatRuntime = current_app.extensions["chat"]
    return rt


def _error(exc: DomainError) -> dict[str, Any]:
    answer: dict[str, Any] = {"ok": False, "error": exc.code, "message": exc.message}
    if isinstance(exc, RateLimited):
        answer["retry_after"] = round(exc.retry_after, 2)
    return answer


def _guarded(handler: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Every refusal is an answer with a code; nothing unexpected reaches the visitor as a trace."""

    def run(self: VisitorNamespace, *args: Any) -> dict[str, Any]:
        try:
            return handler(self, *args)
        except DomainError as exc:
            return _error(exc)
        except Exception:
            log.exception("chat event %s failed", handler.__name__)
            return {"ok": False, "error": "internal", "message": "Something went wrong."}

    run.__name__ = handler.__name__
    return run


class VisitorNamespace(Namespace):  # type: ignore[misc]  # Flask-SocketIO is untyped
    def __init__(self, namespace: str, registry: Registry) -> None:
        super().__init__(namespace)
        self.registry = registry

    # ------------------------------------------------------------------ connection

    def on_connect(self, _auth: Any = None) -> bool:
        rt = _runtime()
        address = client_address(request, rt.settings.proxy_count)
        pseudonym, until = rt.pseudonyms.check(address)
        del address
        if until is not None:
            raise ConnectionRefusedError({"code": "blocked"})
        self.registry.add(request.sid, LocalVisitor(pseudonym=pseudonym))  # type: ignore[attr-defined]
        return True

    def on_disconnect(self, _reason: Any = None) -> None:
        visitor = self.registry.pop(request.sid)  # type: ignore[attr-defined]
        if visitor is None or visitor.conversation_id is None:
            return
        rt = _runtime()
        try:
            with rt.database.transaction() as session:
                conversations.visitor_disconnected(
                    session,
                    visitor.conversation_id,
                    request.sid,  # type: ignore[attr-defined]
                )
        except Exception:
            log.warning("could not record a visitor's disconnect", exc_info=True)

    def _visitor(self) -> LocalVisitor:
        visitor = self.registry.get(request.sid)  # type: ignore[attr-defined]
        if visitor is None:
            raise ChatEnded("This connection is closed.")
        return visitor

    def _attach(self, visitor: LocalVisitor, conversation: Conversation) -> None:
        visitor.conversation_id = conversation.id
        visitor.ref = conversation.ref
        visitor.room = conversations.room(conversation)
        visitor.last_queue = None
        join_room(visitor.room)

    def _conversation(self, session: Any, visitor: LocalVisitor) -> Conversation:
        if visitor.conversation_id is None:
            raise ChatEnded("Start or resume a chat first.")
        conversation: Conversation | None = session.get(Conversation, visitor.conversation_id)
        if conversation is None:
            raise ChatEnded("This chat is no longer available.")
        return conversation

    # ------------------------------------------------------------------ start and resume

    @_guarded
    def on_start(self, data: Any = None) -> dict[str, Any]:
        rt = _runtime()
        visitor = self._visitor()
        if visitor.conversation_id is not None:
            raise ChatEnded("This connection already has a chat.")
        data = data if isinstance(data, dict) else {}
        if not rt.hours.is_open(utcnow()):
            raise OutOfHours("The chat is closed right now.")
        if visitor.pseudonym is not None:
            wait = rt.limiter.hit(f"start:{visitor.pseudonym}", rt.chat.starts_per_hour, 3600)
            if wait:
                raise RateLimited("Too many new chats. Try again later.", wait)
        with rt.database.transaction() as session:
            conversation, contact, token = conversations.start(
                session,
                language=data.get("language"),
                topic=data.get("topic"),
                languages=rt.settings.language_codes,
                topics=rt.settings.topic_codes,
                cfg=rt.settings.queue,
                pseudonym=visitor.pseudonym,
                sid=request.sid,  # type: ignore[attr-defined]
            )
            self._attach(visitor, conversation)
            place = waiting.positions(session, {contact.id}).get(contact.id)
        answer: dict[str, Any] = {"ok": True, "token": token, "status": "waiting"}
        if place is not None:
            visitor.last_queue = place
            answer["queue"] = {"position": place[0], "estimated_wait_seconds": place[1]}
        return answer

    @_guarded
    def on_resume(self, data: Any = None) -> dict[str, Any]:
        rt = _runtime()
        visitor = self._visitor()
        token = data.get("token") if isinstance(data, dict) else None
        with rt.database.transaction() as session:
            conversation = conversations.by_token(session, token)
            if conversation is None or conversation.status != "open":
                # A visitor who ended the chat and reloaded may still answer the survey.
                survey = conversation is not None and conversations.survey_open(
                    session, conversation, rt.chat
                )
                return {
                    "ok": False,
                    "error": "expired",
                    "message": "This chat is over.",
                    "survey": survey,
                }
            if visitor.conversation_id not in (None, conversation.id):
                raise ChatEnded("This connection already has another chat.")
            conversations.visitor_connected(
                session,
                conversation,
                request.sid,  # type: ignore[attr-defined]
                visitor.pseudonym,
            )
            self._attach(visitor, conversation)
            status = conversations.status_of(session, conversation)
            answer: dict[str, Any] = {
                "ok": True,
                "status": status,
                "language": conversation.language,
                "topic": conversation.topic,
                "messages": conversations.transcript(session, conversation),
                "survey": conversations.survey_open(session, conversation, rt.chat),
            }
            if status == "waiting":
                contact = conversations.current_contact(session, conversation)
                place = (
                    waiting.positions(session, {contact.id}).get(contact.id) if contact else None
                )
                if place is not None:
                    visitor.last_queue = place
                    answer["queue"] = {"position": place[0], "estimated_wait_seconds": place[1]}
        return answer

    # ------------------------------------------------------------------ the conversation

    @_guarded
    def on_message(self, data: Any = None) -> dict[str, Any]:
        rt = _runtime()
        visitor = self._visitor()
        data = data if isinstance(data, dict) else {}
        if visitor.conversation_id is None:
            raise ChatEnded("Start or resume a chat first.")
        # Per conversation, so that reconnecting (or a second process) does not reset it.
        wait = rt.limiter.hit(
            f"msg:{visitor.conversation_id}", rt.chat.messages_per_window, rt.chat.window_seconds
        )
        if wait:
            raise RateLimited("You are sending messages too quickly.", wait)
        for attempt in (1, 2):
            try:
                with rt.database.transaction() as session:
                    posted = conversations.post(
                        session,
                        visitor.conversation_id,
                        sender=conversations.VISITOR,
                        text=data.get("text"),
                        client_id=data.get("client_id"),
                        chat=rt.chat,
                    )
                break
            except IntegrityError:
                # The same client_id raced in from a resend on another connection: answer with
                # the stored one on the second pass.
                if attempt == 2:
                    raise
        return {"ok": True, "seq": posted.seq, "at": posted.payload["at"]}

    @_guarded
    def on_typing(self, data: Any = None) -> dict[str, Any]:
        rt = _runtime()
        visitor = self._visitor()
        typing = bool(data.get("typing")) if isinstance(data, dict) else False
        now = time.monotonic()
        if visitor.conversation_id is None or (typing and now - visitor.last_typing < TYPING_EVERY):
            return {"ok": True}
        visitor.last_typing = now
        with rt.database.transaction(write=False) as session:
            conversation = self._conversation(session, visitor)
            contact = conversations.current_contact(session, conversation)
            if contact is None or contact.state != State.ACTIVE or contact.operator_id is None:
                return {"ok": True}
            operator_id, contact_id = contact.operator_id, contact.id
        events.send_now(
            "chat.typing",
            {"contact_id": contact_id, "typing": typing},
            room=events.operator_room(operator_id),
        )
        return {"ok": True}

    @_guarded
    def on_delivered(self, data: Any = None) -> dict[str, Any]:
        rt = _runtime()
        visitor = self._visitor()
        seqs = data.get("seqs") if isinstance(data, dict) else None
        with rt.database.transaction() as session:
            conversation = self._conversation(session, visitor)
            done = conversations.mark_delivered(
                session, conversation, reader=conversations.VISITOR, seqs=seqs
            )
        return {"ok": True, "seqs": done}

    @_guarded
    def on_leave(self, data: Any = None) -> dict[str, Any]:
        """Quick exit or "end the chat": the visitor is gone, their token no longer resumes."""
        rt = _runtime()
        visitor = self._visitor()
        if visitor.conversation_id is None:
            return {"ok": True, "survey": False}
        quick_exit = isinstance(data, dict) and data.get("reason") == conversations.QUICK_EXIT
        with rt.database.transaction() as session:
            conversation = self._conversation(session, visitor)
            conversations.visitor_leaves(
                session,
                conversation,
                reason=conversations.QUICK_EXIT if quick_exit else "visitor_left",
            )
            survey = conversations.survey_open(session, conversation, rt.chat)
        if visitor.room:
            leave_room(visitor.room)
        # The conversation stays known to this socket for the survey that may follow.
        visitor.ref = None
        return {"ok": True, "survey": survey}

    @_guarded
    def on_survey(self, data: Any = None) -> dict[str, Any]:
        rt = _runtime()
        visitor = self._visitor()
        data = data if isinstance(data, dict) else {}
        with rt.database.transaction() as session:
            conversation = self._survey_conversation(session, visitor, data.get("token"))
            if data.get("answers"):
                conversations.record_survey(session, conversation, data["answers"], rt.chat)
            conversation_id = conversation.id
        answer: dict[str, Any] = {"ok": True}
        if data.get("case_reference") is True and rt.chat.offer_case_reference:
            answer["case_reference"] = case_reference.give(rt.database, conversation_id)
        return answer

    def _survey_conversation(self, session: Any, visitor: LocalVisitor, token: Any) -> Conversation:
        # After "end the chat" the socket still knows it; after a reload only the token does.
        if visitor.conversation_id is not None:
            return self._conversation(session, visitor)
        conversation = conversations.by_token(session, token)
        if conversation is None:
            raise ChatEnded("This chat is no longer available.")
        return conversation


class PositionPusher:
    """Pushes each waiting visitor on this process their place and expected wait, when it moves."""

    def __init__(self, runtime: ChatRuntime, registry: Registry) -> None:
        self.runtime = runtime
        self.registry = registry
        self._last = 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self._last < self.runtime.chat.position_interval:
            return
        self._last = now
        self.push()

    def push(self) -> int:
        local = {v.ref: v for v in self.registry.in_conversations()}
        if not local:
            return 0
        with self.runtime.database.transaction(write=False) as session:
            queued = dict(
                session.execute(
                    select(Contact.channel_ref, Contact.id).where(
                        Contact.channel == Channel.CHAT,
                        Contact.state.in_(list(QUEUED)),
                        Contact.channel_ref.in_(list(local)),
                    )
                ).all()
            )
            places = waiting.positions(session, set(queued.values())) if queued else {}
        pushed = 0
        for ref, contact_id in queued.items():
            visitor = local.get(ref)
            place = places.get(contact_id)
            if visitor is None or place is None or visitor.room is None:
                continue
            if visitor.last_queue == place:
                continue
            visitor.last_queue = place
            events.send_now(
                "chat.widget.queue",
                {"position": place[0], "estimated_wait_seconds": place[1]},
                room=visitor.room,
            )
            pushed += 1
        return pushed


def _heartbeat(_data: Any = None) -> None:
    """A console with the chat panel open: its operator has not left their chats."""
    if not current_user.is_authenticated:
        return
    rt = _runtime()
    with rt.database.transaction() as session:
        conversations.operator_seen(session, current_user.operator_id)


def init_app(app: Flask, runtime: ChatRuntime) -> Registry:
    """Called after the console's realtime setup, so these land on this app's Socket.IO server."""
    registry = Registry()
    socketio.on_namespace(VisitorNamespace(chat_events.NAMESPACE, registry))
    socketio.on_event("chat.heartbeat", _heartbeat)
    pusher = PositionPusher(runtime, registry)
    app.extensions["chat.registry"] = registry
    app.extensions["chat.positions"] = pusher
    ticker = app.extensions.get("helpline.ticker")
    if ticker is not None:
        ticker.extra.append(pusher)
    return registry


__all__ = ["Blocked", "PositionPusher", "Registry", "VisitorNamespace", "init_app"]
