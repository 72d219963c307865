"""The phone's live event: where an operator's call stands, sent to that operator's room only.

The console's phone panel shows it (most useful on a desk phone, where the browser hears nothing
else). It carries the contact id and the state, never anything about the caller.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from console.db import utcnow
from console.domain import events

VOICE_CALL = "voice.call"
STATES = ("bridging", "ringing", "connected", "missed", "transferring", "ended")

SCHEMA = {
    "type": "object",
    "required": ["contact_id", "state", "at"],
    "properties": {
        "contact_id": {"type": "integer"},
        "state": {"enum": list(STATES)},
        "at": {"type": "string", "format": "date-time"},
    },
    "additionalProperties": False,
}


def register() -> None:
    events.register_schema(VOICE_CALL, SCHEMA)


def call_state(session: Session, operator_id: int | None, contact_id: int, state: str) -> None:
    if operator_id is None:
        return
    events.publish(
        session,
        VOICE_CALL,
        {"contact_id": contact_id, "state": state, "at": utcnow().isoformat()},
        room=events.operator_room(operator_id),
    )
