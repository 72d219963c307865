"""The chat's live events, registered with the console's single choke point.

Two audiences, two sets of types:
- `chat.widget.*` go to the conversation's own room `chat:<token hash>`, in the visitors' Socket.IO
  namespace `/chat`; they carry no contact or operator ids.
- the other `chat.*` go to the handling operator's own room `operator:<id>` only; `chat.message`
  is the one staff-side event with message text, and no staff-wide room ever gets it.
"""

from __future__ import annotations

from typing import Any

from console.domain import events

NAMESPACE = "/chat"
ROOM_PREFIX = "chat:"


def room_of(token_hash: str) -> str:
    return f"{ROOM_PREFIX}{token_hash[:32]}"


_ts = {"type": "string"}
_seq = {"type": "integer", "minimum": 1}
_text = {"type": "string", "maxLength": 20000}
_seqs = {"type": "array", "items": _seq, "maxItems": 500}

VISITOR_MESSAGE = {
    "type": "object",
    "required": ["seq", "sender", "text", "at"],
    "properties": {
        "seq": _seq,
        "sender": {"enum": ["visitor", "operator"]},
        "text": _text,
        "at": _ts,
        "client_id": {"type": ["string", "null"]},
    },
    "additionalProperties": False,
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "chat.widget.message": VISITOR_MESSAGE,
    "chat.widget.typing": {
        "type": "object",
        "required": ["typing"],
        "properties": {"typing": {"type": "boolean"}},
        "additionalProperties": False,
    },
    "chat.widget.delivered": {
        "type": "object",
        "required": ["seqs"],
        "properties": {"seqs": _seqs},
        "additionalProperties": False,
    },
    "chat.widget.status": {
        "type": "object",
        "required": ["status"],
        "properties": {
            # waiting: in the queue (again, after a transfer); active: an operator is there;
            # ended: the operator ended it (survey may follow); closed: nothing more can happen;
            # blocked: an operator blocked this visitor.
            "status": {"enum": ["waiting", "active", "ended", "closed", "blocked"]},
            "transferred": {"type": "boolean"},
            "survey": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
    "chat.widget.queue": {
        "type": "object",
        "required": ["position", "estimated_wait_seconds"],
        "properties": {
            "position": {"type": "integer", "minimum": 1},
            "estimated_wait_seconds": {"type": "integer", "minimum": 0},
        },
        "additionalProperties": False,
    },
    "chat.message": {
        "type": "object",
        "required": ["contact_id", "seq", "sender", "text", "at"],
        "properties": {
            "contact_id": {"type": "integer"},
            "seq": _seq,
            "sender": {"enum": ["visitor", "operator"]},
            "text": _text,
            "at": _ts,
            "client_id": {"type": ["string", "null"]},
        },
        "additionalProperties": False,
    },
    "chat.typing": {
        "type": "object",
        "required": ["contact_id", "typing"],
        "properties": {"contact_id": {"type": "integer"}, "typing": {"type": "boolean"}},
        "additionalProperties": False,
    },
    "chat.delivered": {
        "type": "object",
        "required": ["contact_id", "seqs"],
        "properties": {"contact_id": {"type": "integer"}, "seqs": _seqs},
        "additionalProperties": False,
    },
    "chat.visitor": {
        "type": "object",
        "required": ["contact_id", "status"],
        "properties": {
            "contact_id": {"type": "integer"},
            # online: connected; away: connection lost (may come back); left: quick exit or ended.
            "status": {"enum": ["online", "away", "left"]},
            # Only with "left": the visitor fled with quick exit and may not be safe to contact.
            "reason": {"enum": ["quick_exit"]},
        },
        "additionalProperties": False,
    },
}


def register() -> None:
    events.register_room_namespace(ROOM_PREFIX, NAMESPACE)
    for event_type, schema in SCHEMAS.items():
        events.register_schema(event_type, schema)


register()
