"""The single choke point for live events.

Domain code calls `publish(session, type, payload)`; the event is held on the session and handed to
the process's sender only after the transaction commits, so no console ever sees a change that was
rolled back. Every event type has a JSON schema below; `validate` checks payloads against it, and a
test proves each type is both emitted and valid. Payloads never carry identity.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import jsonschema
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

# Rooms: every staff console, one operator's console, and the shift leads.
ROOM_STAFF = "staff"
ROOM_LEADS = "leads"


def operator_room(operator_id: int) -> str:
    return f"operator:{operator_id}"


_ts = {"type": "string", "format": "date-time"}
_nullable_ts = {"type": ["string", "null"]}
_contact = {
    "type": "object",
    "required": ["id", "ref", "channel", "language", "topic", "priority", "state", "enqueued_at"],
    "properties": {
        "id": {"type": "integer"},
        "ref": {"type": "string"},
        "channel": {"enum": ["voice", "chat", "callback"]},
        "language": {"type": "string"},
        "topic": {"type": ["string", "null"]},
        "priority": {"type": "integer"},
        "source": {"enum": ["self", "police", "partner"]},
        "state": {
            "enum": [
                "waiting",
                "offered",
                "active",
                "wrap_up",
                "closed",
                "abandoned",
                "transferred",
            ]
        },
        "urgent": {"type": "boolean"},
        "operator_id": {"type": ["integer", "null"]},
        "offered_to_id": {"type": ["integer", "null"]},
        "enqueued_at": _ts,
        "accepted_at": _nullable_ts,
        "closed_at": _nullable_ts,
        "overflowed": {"type": "boolean"},
    },
    "additionalProperties": False,
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "contact.queued": _contact,
    "contact.updated": _contact,
    "offer.created": {
        "type": "object",
        "required": ["offer_id", "contact", "expires_at"],
        "properties": {
            "offer_id": {"type": "integer"},
            "contact": _contact,
            "expires_at": _ts,
        },
        "additionalProperties": False,
    },
    "offer.ended": {
        "type": "object",
        "required": ["offer_id", "contact_id", "state"],
        "properties": {
            "offer_id": {"type": "integer"},
            "contact_id": {"type": "integer"},
            "state": {"enum": ["accepted", "rejected", "timeout", "rescinded"]},
        },
        "additionalProperties": False,
    },
    "operator.presence": {
        "type": "object",
        "required": ["id", "display_name", "role", "languages", "presence", "presence_since"],
        "properties": {
            "id": {"type": "integer"},
            "display_name": {"type": "string"},
            "role": {"type": "string"},
            "languages": {"type": "array", "items": {"type": "string"}},
            "presence": {"enum": ["available", "busy", "wrap_up", "break", "offline"]},
            "presence_since": _ts,
        },
        "additionalProperties": False,
    },
    "lead.stats": {
        "type": "object",
        "required": ["waiting", "longest_wait_seconds", "presence", "handled_today", "at"],
        "properties": {
            "waiting": {"type": "integer", "minimum": 0},
            "longest_wait_seconds": {"type": "number", "minimum": 0},
            "presence": {
                "type": "object",
                "additionalProperties": {"type": "integer", "minimum": 0},
            },
            "handled_today": {"type": "integer", "minimum": 0},
            "at": _ts,
        },
        "additionalProperties": False,
    },
}

# Which room each event type goes to when the publisher names none.
DEFAULT_ROOMS: dict[str, str] = {
    "contact.queued": ROOM_STAFF,
    "contact.updated": ROOM_STAFF,
    "operator.presence": ROOM_STAFF,
    "lead.stats": ROOM_LEADS,
}


@dataclass(frozen=True)
class Event:
    type: str
    payload: dict[str, Any]
    room: str
    # The Socket.IO namespace of the room: "/" for staff, a channel's own for its visitors.
    namespace: str = "/"
    # For this process's consoles only: a snapshot each process computes for its own watchers.
    local: bool = False


Sender = Callable[[Event], None]
_senders: list[Sender] = []
_validate_always = False


def register_schema(event_type: str, schema: dict[str, Any], room: str | None = None) -> None:
    """Channels and later features add their own event types here, at import time."""
    if event_type in SCHEMAS and SCHEMAS[event_type] != schema:
        raise ValueError(f"event type {event_type!r} is already registered")
    SCHEMAS[event_type] = schema
    if room is not None:
        DEFAULT_ROOMS[event_type] = room


def validate(event_type: str, payload: dict[str, Any]) -> None:
    if event_type not in SCHEMAS:
        raise KeyError(f"unknown event type {event_type!r}")
    jsonschema.validate(payload, SCHEMAS[event_type])


def set_validation(enabled: bool) -> None:
    """Tests validate every event as it is published; production trusts the tests."""
    global _validate_always
    _validate_always = enabled


def add_sender(sender: Sender) -> None:
    if sender not in _senders:
        _senders.append(sender)


def remove_sender(sender: Sender) -> None:
    if sender in _senders:
        _senders.remove(sender)


def _make_event(event_type: str, payload: dict[str, Any], room: str | None) -> Event:
    if event_type not in SCHEMAS:
        raise KeyError(f"unknown event type {event_type!r}")
    if _validate_always:
        validate(event_type, payload)
    target = room or DEFAULT_ROOMS.get(event_type)
    if target is None:
        raise ValueError(f"event type {event_type!r} needs a room")
    return Event(event_type, payload, target, namespace_of(target))


# Rooms whose name starts with a prefix here live in that Socket.IO namespace (a channel's
# visitors connect to their own namespace, apart from staff).
ROOM_NAMESPACES: dict[str, str] = {}


def register_room_namespace(prefix: str, namespace: str) -> None:
    ROOM_NAMESPACES[prefix] = namespace


def namespace_of(room: str) -> str:
    for prefix, namespace in ROOM_NAMESPACES.items():
        if room.startswith(prefix):
            return namespace
    return "/"


def publish(
    session: Session, event_type: str, payload: dict[str, Any], room: str | None = None
) -> None:
    """Stage an event; it is sent only if and when the session's transaction commits."""
    session.info.setdefault("pending_events", []).append(_make_event(event_type, payload, room))


def send_now(event_type: str, payload: dict[str, Any], room: str | None = None) -> None:
    """For events that reflect no transaction (a statistics snapshot)."""
    _dispatch([_make_event(event_type, payload, room)])


def send_local(event_type: str, payload: dict[str, Any], room: str | None = None) -> None:
    """Like `send_now`, to the consoles connected to this process only (it does not cross Redis)."""
    _dispatch([replace(_make_event(event_type, payload, room), local=True)])


def _dispatch(batch: list[Event]) -> None:
    for item in batch:
        for sender in list(_senders):
            try:
                sender(item)
            except Exception:
                # Live fan-out is best effort; the database already holds the truth.
                log.warning("event %s could not be sent", item.type, exc_info=True)


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    batch = session.info.pop("pending_events", None)
    if batch:
        _dispatch(batch)


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("pending_events", None)
