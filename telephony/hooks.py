"""Telephony's reactions to queue moves (console.domain.hooks).

Accepting a voice or callback contact bridges its call to the operator; a cold transfer puts the
call back in Twilio's queue; ending the conversation in the console hangs the call up. The REST
calls run as jobs after the transaction commits, and not at all when the move came from a webhook
(the webhook's own TwiML reply moves the call then).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.db import utcnow
from console.domain import hooks
from console.domain.contacts import Channel, Contact, State
from telephony import events as voice_events
from telephony import runtime
from telephony.models import CallLeg, LegState

INLINE = "telephony.inline"


def inline(session: Session) -> Session:
    """Mark a webhook's transaction: its TwiML reply moves the call, so hooks send no REST."""
    session.info[INLINE] = True
    return session


_LIVE = frozenset({LegState.QUEUED, LegState.BRIDGING, LegState.RINGING, LegState.CONNECTED})
_CALLS = frozenset({Channel.VOICE, Channel.CALLBACK})


def _leg(session: Session, contact: Contact) -> CallLeg | None:
    if contact.channel not in _CALLS or not contact.channel_ref:
        return None
    return session.scalar(select(CallLeg).where(CallLeg.call_sid == contact.channel_ref))


def _later(session: Session, path: str, *args: int) -> None:
    if session.info.get(INLINE):
        return
    hooks.after_commit(session, lambda: runtime.get().enqueue(path, *args))


def on_accepted(session: Session, contact: Contact) -> None:
    leg = _leg(session, contact)
    if leg is None or leg.state not in _LIVE:
        return  # ended, or already with a colleague in a warm-transfer conference
    leg.state = LegState.BRIDGING
    leg.contact_id = contact.id
    leg.operator_id = contact.operator_id
    leg.bridge_requested_at = utcnow()
    leg.bridge_attempts += 1
    leg.version += 1
    voice_events.call_state(session, contact.operator_id, contact.id, "bridging")
    _later(session, "telephony.jobs.bridge_call", contact.id)


def on_ended(session: Session, contact: Contact) -> None:
    """The operator ended the conversation in the console while the call is still up."""
    leg = _leg(session, contact)
    if leg is None or leg.contact_id != contact.id:
        return
    if leg.state in (LegState.BRIDGING, LegState.RINGING, LegState.CONNECTED):
        _later(session, "telephony.jobs.hang_up_call", leg.id)


def on_final(session: Session, contact: Contact) -> None:
    """A cold transfer (to a colleague, the shift lead or the queue): the call waits again."""
    if contact.state != State.TRANSFERRED:
        return
    leg = _leg(session, contact)
    if leg is None or leg.state not in _LIVE:
        return
    _later(session, "telephony.jobs.requeue_call", contact.id)


def register() -> None:
    hooks.on("accepted", on_accepted)
    hooks.on("ended", on_ended)
    hooks.on("final", on_final)
