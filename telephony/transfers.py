"""Warm transfers: the operator stays on with the caller until the colleague has taken over.

Cold transfers need nothing here: the console's transfer (to a colleague, the shift lead or the
queue) ends the operator's leg in the domain, and the "final" hook puts the call back in Twilio's
queue for the next leg.

A warm transfer moves the call into a conference named after the call leg (never the caller):
the operator's leg is redirected there, the caller follows through the Dial action, and the
colleague's browser or desk phone is called into it. On hand-over, the domain transfers the contact
to the colleague, who holds it at once, and the first operator's leg is hung up. The colleague
leaving, or the caller, ends the conference.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from console.db import utcnow
from console.domain import hooks, queue
from console.domain.contacts import Contact
from console.domain.errors import Conflict, ValidationFailed
from console.domain.operators import TAKING_CONTACTS, Operator, get_operator
from telephony import events as voice_events
from telephony import runtime, twiml
from telephony.models import CallLeg, LegState
from telephony.params import CallParams
from telephony.rest import RestUnavailable
from telephony.runtime import Runtime

log = logging.getLogger(__name__)


def conference_name(leg: CallLeg) -> str:
    return f"helpline-leg-{leg.id}"


def start_warm(
    rt: Runtime, session: Session, contact: Contact, leg: CallLeg, to_operator_id: int
) -> None:
    if to_operator_id == contact.operator_id:
        raise ValidationFailed("You cannot hand a call to yourself.")
    target = get_operator(session, to_operator_id)
    if target.presence not in TAKING_CONTACTS:
        raise Conflict(f"{target.display_name} is {target.presence.replace('_', ' ')} just now.")
    if leg.contact_id != contact.id or leg.state not in (LegState.CONNECTED, LegState.CONFERENCE):
        raise Conflict("The call is not connected to you, so it cannot be handed over warm.")
    if leg.state == LegState.CONNECTED and not leg.operator_call_sid:
        raise Conflict("Your leg of the call is not known yet; try again in a moment.")
    first = leg.state == LegState.CONNECTED
    leg.state = LegState.CONFERENCE
    leg.conference = conference_name(leg)
    leg.transfer_to_id = to_operator_id
    leg.colleague_call_sid = None
    leg.version += 1
    leg_id = leg.id
    voice_events.call_state(session, contact.operator_id, contact.id, "transferring")
    hooks.after_commit(
        session, lambda: rt.enqueue("telephony.jobs.warm_transfer", leg_id, 1 if first else 0)
    )


def hand_over(rt: Runtime, session: Session, contact: Contact, leg: CallLeg) -> Contact:
    """The colleague is on: they now hold the contact, and the first operator's leg ends."""
    if leg.state != LegState.CONFERENCE or leg.transfer_to_id is None:
        raise Conflict("No warm transfer is under way for this call.")
    if not leg.colleague_call_sid:
        raise Conflict("Your colleague has not answered yet.")
    first_operator = contact.operator_id
    assert first_operator is not None
    colleague = leg.transfer_to_id
    successor = queue.transfer(
        session, contact.id, first_operator, rt.queue, to_operator_id=colleague
    )
    queue.claim(session, successor.id, colleague)
    old_leg_sid = leg.operator_call_sid
    leg.contact_id = successor.id
    leg.operator_id = colleague
    leg.operator_call_sid = leg.colleague_call_sid
    leg.colleague_call_sid = None
    leg.transfer_to_id = None
    leg.connected_at = utcnow()
    leg.version += 1
    if old_leg_sid:
        hooks.after_commit(session, lambda: _hang_up(rt, old_leg_sid))
    log.info("call %s handed over warm to contact %s", leg.call_sid, successor.id)
    return successor


def _hang_up(rt: Runtime, call_sid: str) -> None:
    try:
        rt.rest.hang_up(call_sid)
    except (RestUnavailable, RuntimeError) as exc:
        log.warning("the first operator's leg could not be hung up (%s)", exc)


def run_warm_transfer(leg_id: int, move_legs: int) -> None:
    """Job: move the operator's leg into the conference (the caller follows), ring the colleague."""
    rt = runtime.get()
    with rt.database.transaction(write=False) as session:
        leg = session.get(CallLeg, leg_id)
        if leg is None or leg.state != LegState.CONFERENCE or leg.transfer_to_id is None:
            return
        name = leg.conference or conference_name(leg)
        operator_sid = leg.operator_call_sid
        target = session.get(Operator, leg.transfer_to_id)
        username = target.username if target else ""
        to_id = leg.transfer_to_id
        caller_id = twiml.line_caller_id(rt.tset, leg.line) or twiml.CLIENT_CALLER_ID
    desk = rt.tset.desk_phones.get(username)
    try:
        if move_legs and operator_sid:
            rt.rest.redirect(operator_sid, rt.url(twiml.path("conference", n=name, r="operator")))
        rt.rest.call(
            to=desk or f"client:{twiml.client_identity(to_id)}",
            from_=caller_id,
            url=rt.url(twiml.path("conference", n=name, r="colleague", leg=leg_id)),
            status_callback=rt.url(twiml.path("colleague-leg", leg=leg_id)),
            timeout=rt.tset.dial_timeout,
        )
    except (RestUnavailable, RuntimeError) as exc:
        log.warning("warm transfer of call leg %s could not start (%s)", leg_id, exc)


def join(
    rt: Runtime, params: CallParams, name: str, role: str, leg_id: int | None
) -> VoiceResponse:
    """The TwiML that puts a leg in the conference; the colleague's arrival is noted."""
    if role == "colleague" and leg_id is not None:
        with rt.database.transaction() as session:
            leg = session.get(CallLeg, leg_id)
            if leg is None or leg.state != LegState.CONFERENCE or leg.conference != name:
                response = twiml.empty()
                response.hangup()
                return response
            leg.colleague_call_sid = params.call_sid
            leg.version += 1
    return twiml.conference(name, end_on_exit=role != "operator", wait_music=role == "caller")


def colleague_status(rt: Runtime, params: CallParams, leg_id: int) -> None:
    """The colleague's call failed to connect: the first operator keeps the caller."""
    if params.get("CallStatus") not in ("busy", "no-answer", "failed", "canceled"):
        return
    with rt.database.transaction() as session:
        leg = session.get(CallLeg, leg_id)
        if leg is not None and leg.state == LegState.CONFERENCE and leg.transfer_to_id:
            leg.transfer_to_id = None
            leg.colleague_call_sid = None
            leg.version += 1
    log.info("call leg %s: the colleague did not answer the warm transfer", leg_id)


def conference_end(rt: Runtime, params: CallParams, now: dt.datetime) -> VoiceResponse:
    """A leg's conference ended. The caller hears goodbye; any other leg just hangs up."""
    with rt.database.transaction(write=False) as session:
        leg = session.scalar(select(CallLeg).where(CallLeg.call_sid == params.call_sid))
        language = leg.language if leg is not None else None
    if leg is None:
        response = twiml.empty()
        response.hangup()
        return response
    return twiml.goodbye(rt.tset, rt.tset.language(language))
