"""A call after it was accepted: ringing the operator, the operator's leg failing, transfers, and
the end of the call (Twilio's status callback).

Every handler here is one short transaction marked "inline": domain hooks that would reach Twilio's
REST API skip it, since the webhook's own reply moves the call.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from console.domain import operators, queue
from console.domain.contacts import QUEUED, Channel, Contact, State, find_by_channel_ref
from console.domain.errors import DomainError
from console.domain.operators import Operator, Presence
from telephony import events as voice_events
from telephony import privacy, twiml, waiting
from telephony.hooks import inline
from telephony.models import CallLeg, Direction, LegState
from telephony.params import CallParams
from telephony.runtime import Runtime

log = logging.getLogger(__name__)

FAILED_DIAL = frozenset({"busy", "no-answer", "failed", "canceled"})
FINAL_STATUS = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


def leg_of(session: Session, call_sid: str) -> CallLeg | None:
    return session.scalar(select(CallLeg).where(CallLeg.call_sid == call_sid))


def desk_phone(rt: Runtime, session: Session, operator_id: int) -> str | None:
    if not rt.tset.desk_phones:
        return None
    username = session.scalar(select(Operator.username).where(Operator.id == operator_id))
    return rt.tset.desk_phones.get(username or "")


def resume(rt: Runtime, session: Session, leg: CallLeg | None) -> VoiceResponse:
    """Where a call should be now, for a webhook that arrives after things moved on."""
    if leg is None or leg.contact_id is None:
        return twiml.empty()
    contact = session.get(Contact, leg.contact_id)
    lang = rt.tset.language(leg.language)
    if contact is None:
        return twiml.goodbye(rt.tset, lang)
    if contact.state in QUEUED:
        return twiml.enqueue(rt.tset, lang, intro=None)
    if contact.state == State.ACTIVE and contact.operator_id is not None:
        return twiml.bridge(
            rt.tset,
            lang,
            contact_id=contact.id,
            operator_id=contact.operator_id,
            desk_phone=desk_phone(rt, session, contact.operator_id),
            caller_id=twiml.line_caller_id(rt.tset, leg.line),
        )
    return twiml.goodbye(rt.tset, lang)


def bridge(rt: Runtime, params: CallParams, contact_id: int, now: dt.datetime) -> VoiceResponse:
    """The call was redirected here after an operator accepted: ring that operator."""
    with rt.database.transaction() as session:
        inline(session)
        leg = leg_of(session, params.call_sid)
        contact = session.get(Contact, contact_id)
        if (
            leg is None
            or contact is None
            or contact.channel_ref != params.call_sid
            or contact.state != State.ACTIVE
            or contact.operator_id is None
        ):
            return resume(rt, session, leg)
        leg.contact_id = contact.id
        leg.operator_id = contact.operator_id
        leg.state = LegState.RINGING
        leg.version += 1
        voice_events.call_state(session, contact.operator_id, contact.id, "ringing")
        return twiml.bridge(
            rt.tset,
            rt.tset.language(contact.language),
            contact_id=contact.id,
            operator_id=contact.operator_id,
            desk_phone=desk_phone(rt, session, contact.operator_id),
            caller_id=twiml.line_caller_id(rt.tset, leg.line),
        )


def operator_leg(rt: Runtime, params: CallParams, contact_id: int, now: dt.datetime) -> None:
    """Status of the operator's leg (a child of the caller's call): note when they answer."""
    status = params.get("CallStatus")
    parent = params.get("ParentCallSid")
    if status not in ("in-progress", "answered") or not parent:
        return
    with rt.database.transaction() as session:
        inline(session)
        leg = leg_of(session, parent)
        if leg is None or leg.contact_id != contact_id or leg.state == LegState.ENDED:
            return
        if leg.state != LegState.CONFERENCE:
            leg.state = LegState.CONNECTED
        leg.connected_at = leg.connected_at or now
        leg.operator_call_sid = params.call_sid
        leg.version += 1
        voice_events.call_state(session, leg.operator_id, contact_id, "connected")
    log.info("call %s connected to the operator of contact %s", parent, contact_id)


def dial_result(
    rt: Runtime, params: CallParams, contact_id: int, now: dt.datetime
) -> VoiceResponse:
    """The <Dial> to the operator ended: the conversation is over, or the operator never answered
    and the call goes back to the front of the queue."""
    status = params.get("DialCallStatus")
    with rt.database.transaction() as session:
        inline(session)
        leg = leg_of(session, params.call_sid)
        if leg is None:
            return twiml.empty()
        if leg.state == LegState.CONFERENCE and leg.conference:
            # A warm transfer moved the operator's leg into the conference: the caller follows.
            return twiml.conference(leg.conference, end_on_exit=True, wait_music=True)
        contact = session.get(Contact, contact_id)
        if contact is None or contact.channel_ref != params.call_sid:
            return resume(rt, session, leg)
        lang = rt.tset.language(contact.language)
        if contact.state != State.ACTIVE:
            return resume(rt, session, leg)
        if status in FAILED_DIAL:
            return _back_to_front(rt, session, leg, contact, status, now)
        operator_id = contact.operator_id
        if operator_id is not None:
            queue.start_wrap_up(session, contact.id, operator_id, now)
        voice_events.call_state(session, operator_id, contact.id, "ended")
        leg.state = LegState.ENDED
        leg.version += 1
        return twiml.goodbye(rt.tset, lang)


def _back_to_front(
    rt: Runtime,
    session: Session,
    leg: CallLeg,
    contact: Contact,
    status: str,
    now: dt.datetime,
) -> VoiceResponse:
    operator_id = contact.operator_id
    assert operator_id is not None
    voice_events.call_state(session, operator_id, contact.id, "missed")
    successor = queue.transfer(session, contact.id, operator_id, rt.queue, now=now)
    queue.front_of_queue(session, successor)
    operator = operators.get_operator(session, operator_id)
    if status != "canceled" and operator.presence not in (Presence.BREAK, Presence.OFFLINE):
        # Their browser or phone did not answer: offering them the next call would fail too.
        # (A canceled leg is the caller's or Twilio's doing, not the operator's.)
        operators.set_presence(session, operator, Presence.BREAK, now)
    leg.contact_id = successor.id
    leg.operator_id = None
    leg.state = LegState.QUEUED
    leg.version += 1
    log.info(
        "call %s: operator leg %s, back at the front of the queue as contact %s",
        leg.call_sid,
        status,
        successor.id,
    )
    return twiml.enqueue(rt.tset, rt.tset.language(contact.language), intro="reconnecting")


def requeue(rt: Runtime, params: CallParams, now: dt.datetime) -> VoiceResponse:
    """A cold transfer redirected the call here: back into Twilio's queue for its next leg."""
    with rt.database.transaction() as session:
        inline(session)
        leg = leg_of(session, params.call_sid)
        if leg is None:
            return twiml.empty()
        current = find_by_channel_ref(session, _channel(leg), leg.call_sid)
        if current is None or current.state not in QUEUED:
            return resume(rt, session, leg)
        leg.contact_id = current.id
        leg.operator_id = None
        leg.state = LegState.QUEUED
        leg.version += 1
        return twiml.enqueue(rt.tset, rt.tset.language(current.language), intro=None)


def _channel(leg: CallLeg) -> Channel:
    return Channel.CALLBACK if leg.direction == Direction.CALLBACK else Channel.VOICE


def finish(
    rt: Runtime, session: Session, leg: CallLeg, params: CallParams, now: dt.datetime
) -> None:
    """The call is over (Twilio's final status): end the leg and settle its contact."""
    if leg.block_hours and params.caller.number:
        block_from_caller(rt, session, leg, params.caller, now)
    if leg.state == LegState.ENDED and leg.end_status:
        return
    if leg.contact_id is not None and leg.state != LegState.ENDED:
        voice_events.call_state(session, leg.operator_id, leg.contact_id, "ended")
    leg.state = LegState.ENDED
    leg.ended_at = leg.ended_at or now
    leg.end_status = params.get("CallStatus")[:16] or None
    leg.duration = params.number("CallDuration") if params.get("CallDuration") else None
    leg.version += 1
    if leg.contact_id is None:
        return
    contact = session.get(Contact, leg.contact_id)
    if contact is None:
        return
    if contact.state in QUEUED:
        waiting.end_waiting(rt, session, contact, now)
    elif contact.state == State.ACTIVE and contact.operator_id is not None:
        try:
            queue.start_wrap_up(session, contact.id, contact.operator_id, now)
        except DomainError:
            return


def status(rt: Runtime, params: CallParams, now: dt.datetime) -> None:
    """Twilio's status callback for a call to the line."""
    if params.get("CallStatus") not in FINAL_STATUS:
        return
    day = privacy.local_day(now, rt.tz)
    digest = privacy.caller_hash(rt.database, params.caller, day, rt.tset.secret_key)
    with rt.database.transaction() as session:
        inline(session)
        leg = leg_of(session, params.call_sid)
        if leg is None:
            # Hung up in the menu: kept for repeat detection and the menu's own figures.
            caller = params.caller
            leg = CallLeg(
                call_sid=params.call_sid,
                direction=Direction.INBOUND,
                country=caller.country,
                withheld=caller.withheld,
                caller_hash=digest,
                hash_day=day if digest else None,
                line=params.line,
                state=LegState.IVR,
                created_at=now,
            )
            session.add(leg)
            session.flush()
        finish(rt, session, leg, params, now)
    log.info("call %s ended (%s)", params.call_sid, params.get("CallStatus"))


def block_from_caller(
    rt: Runtime, session: Session, leg: CallLeg, caller: privacy.Caller, now: dt.datetime
) -> None:
    """Fulfil a pending block request with the number this webhook carries (then forget it)."""
    hours = leg.block_hours or 0
    operator_id = leg.block_operator_id
    leg.block_hours = None
    leg.block_operator_id = None
    if hours <= 0:
        return
    block = privacy.add_block(
        session,
        rt.tset.secret_key,
        caller,
        hours=hours,
        operator_id=operator_id,
        call_id=leg.id,
        now=now,
    )
    if block is not None:
        log.info("call %s: caller blocked for %d h (block %s)", leg.call_sid, hours, block.id)
