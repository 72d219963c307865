"""Callback on request, with consent: the only way the line ever keeps a caller's number.

A waiting caller presses the callback key. They hear why the number is needed and how long it is
kept, agree with a key, and choose a safe window. Only then is a consent recorded
(`console.domain.consent`, scope callback, method IVR key press) and the number stored under it,
encrypted (`console.domain.identity`). Inside the window the line calls them; when they pick up and
press 1, a callback contact enters the queue and an operator answers it like any call. After the
configured number of failed attempts, or when the window has passed, the callback closes with that
outcome, and the number is erased. It is erased as soon as the callback is done, too.

Attempts are rows in the database, so a job lost with Redis is redone by the periodic sweep.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from console.domain import queue
from console.domain.contacts import QUEUED, Channel, Contact, State
from console.domain.errors import DomainError
from telephony import twiml
from telephony.hooks import inline
from telephony.models import (
    Callback,
    CallbackAttempt,
    CallbackState,
    CallLeg,
    Direction,
    LegState,
)
from telephony.params import CallParams
from telephony.rest import RestUnavailable
from telephony.runtime import Runtime

log = logging.getLogger(__name__)

# After the window ends the consent (and so the number) lasts this much longer, for a call that
# was answered just before the end.
CONSENT_GRACE = dt.timedelta(hours=1)
# A ringing attempt with no status after this long lost its status callback.
LOST_ATTEMPT = dt.timedelta(minutes=5)
REFERENCE_MAX_AGE = dt.timedelta(minutes=15)


def available(rt: Runtime) -> bool:
    if not rt.tset.callback.enabled:
        return False
    from console.domain import crypto

    return crypto.is_configured()


def can_offer(rt: Runtime, leg: CallLeg) -> bool:
    return can_offer_to(rt, leg.direction, leg.withheld, leg.line)


def can_offer_to(rt: Runtime, direction: str, withheld: bool, line: str | None) -> bool:
    """Only a caller whose number we can reach, on a line we can call from."""
    return (
        available(rt)
        and direction == Direction.INBOUND
        and not withheld
        and bool(rt.tset.callback.caller_id or line)
    )


def windows(rt: Runtime, now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The next safe windows inside opening hours, starting on the hour."""
    cfg = rt.tset.callback
    span = dt.timedelta(minutes=cfg.window_minutes)
    local = now.astimezone(rt.tz)
    candidate = local.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    found: list[tuple[dt.datetime, dt.datetime]] = []
    horizon = local + dt.timedelta(days=3)
    while candidate < horizon and len(found) < cfg.windows_offered:
        start = candidate.astimezone(dt.UTC)
        end = start + span
        checks = [start, start + span / 2, end - dt.timedelta(minutes=1)]
        if all(rt.hours.is_open(moment) for moment in checks):
            found.append((start, end))
            candidate = end.astimezone(rt.tz)
        else:
            candidate = (candidate + dt.timedelta(hours=1)).astimezone(rt.tz)
    return found


def _waiting_leg(session: Session, call_sid: str) -> tuple[CallLeg, Contact] | None:
    row = session.execute(
        select(CallLeg, Contact)
        .join(Contact, Contact.id == CallLeg.contact_id)
        .where(CallLeg.call_sid == call_sid)
    ).first()
    if row is None:
        return None
    leg, contact = row
    return leg, contact


def consent_step(rt: Runtime, params: CallParams, language: str, now: dt.datetime) -> VoiceResponse:
    """After the explanation: 1 agrees (then the windows), anything else goes back to waiting."""
    lang = rt.tset.language(language)
    if params.digits != "1":
        return twiml.enqueue(rt.tset, lang, intro=None)
    offered = windows(rt, now)
    if not offered or params.caller.number is None:
        response = twiml.enqueue(rt.tset, lang, intro="callback_unavailable")
        return response
    return twiml.callback_windows(
        rt.tset, lang, offered, reference=int(now.timestamp()), now=now, tz=rt.tz
    )


def window_step(
    rt: Runtime, params: CallParams, language: str, reference: int, now: dt.datetime
) -> VoiceResponse:
    """The caller chose a window: record consent and number, close the voice contact, hang up."""
    from console.domain import identity
    from console.domain.consent import Method, Scope, grant

    lang = rt.tset.language(language)
    offered_at = dt.datetime.fromtimestamp(reference, dt.UTC)
    if not now - REFERENCE_MAX_AGE <= offered_at <= now + dt.timedelta(seconds=5):
        return twiml.callback_explain(rt.tset, lang)
    offered = windows(rt, offered_at)
    if not params.digits.isdigit() or not 1 <= int(params.digits) <= len(offered):
        return twiml.enqueue(rt.tset, lang, intro="invalid")
    window = offered[int(params.digits) - 1]
    number = params.caller.number
    with rt.database.transaction() as session:
        inline(session)
        found = _waiting_leg(session, params.call_sid)
        if found is None or number is None or not can_offer(rt, found[0]):
            return twiml.enqueue(rt.tset, lang, intro="callback_unavailable")
        leg, contact = found
        if contact.state not in QUEUED or leg.callback_id is not None:
            return twiml.hold()  # answered meanwhile (the redirect is coming), or already done
        consent = grant(
            session,
            contact_id=contact.id,
            case_id=None,
            scope=Scope.CALLBACK,
            method=Method.IVR_KEYPRESS,
            operator_id=None,
            expires_at=window[1] + CONSENT_GRACE,
            now=now,
        )
        identity.store_identity(session, consent.id, "phone", number, actor_id=None, now=now)
        callback = Callback(
            parent_contact_id=contact.id,
            consent_id=consent.id,
            language=contact.language,
            topic=contact.topic,
            line=twiml.line_caller_id(rt.tset, leg.line),
            window_start=window[0],
            window_end=window[1],
            state=CallbackState.SCHEDULED,
            max_attempts=rt.tset.callback.max_attempts,
            next_attempt_at=window[0],
            created_at=now,
        )
        session.add(callback)
        session.flush()
        leg.callback_id = callback.id
        leg.state = LegState.ENDED
        leg.version += 1
        if contact.state == State.WAITING:
            queue.close(session, contact, None, now, reason="callback_requested")
        else:
            queue.abandon(session, contact.id, now, reason="callback_requested")
        callback_id = callback.id
    log.info("call %s: callback %s requested with consent", params.call_sid, callback_id)
    return twiml.callback_confirmed(rt.tset, lang, window, now, rt.tz)


# ---------------------------------------------------------------- attempts


def place_attempt(rt: Runtime, callback_id: int, now: dt.datetime) -> bool:
    """Call the caller back, if an attempt is due. True when a call was placed."""
    from console.domain import identity
    from console.domain.consent import ConsentRefused, Scope

    with rt.database.transaction() as session:
        callback = session.get(Callback, callback_id)
        if callback is None or callback.state != CallbackState.SCHEDULED:
            return False
        if callback.next_attempt_at is not None and callback.next_attempt_at > now:
            return False
        if now >= callback.window_end:
            close(session, callback, CallbackState.EXPIRED, "window_passed", rt, now)
            return False
        if now < callback.window_start:
            return False
        claimed = session.execute(
            update(Callback)
            .where(
                Callback.id == callback_id,
                Callback.state == CallbackState.SCHEDULED,
                Callback.version == callback.version,
            )
            .values(
                state=CallbackState.CALLING,
                attempts=Callback.attempts + 1,
                next_attempt_at=None,
                current_call_sid=None,
                version=Callback.version + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            return False  # another process's sweep took this attempt
        session.refresh(callback)
        attempt = CallbackAttempt(callback_id=callback.id, number=callback.attempts, started_at=now)
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
        caller_id = callback.line
        try:
            number = identity.read_identity(
                session,
                callback.consent_id or 0,
                "phone",
                actor_id=None,
                reason="callback attempt",
                scope=Scope.CALLBACK,
                now=now,
            )
        except (ConsentRefused, DomainError):
            close(session, callback, CallbackState.EXPIRED, "consent_ended", rt, now)
            return False
        attempt_number = callback.attempts
    if not caller_id:
        with rt.database.transaction() as session:
            callback = session.get_one(Callback, callback_id)
            close(session, callback, CallbackState.FAILED, "no_caller_id", rt, now)
        return False
    try:
        placed = rt.rest.call(
            to=number,
            from_=caller_id,
            url=rt.url(twiml.path("callback/answer", cb=callback_id)),
            status_callback=rt.url(twiml.path("callback/status", cb=callback_id)),
            timeout=rt.tset.callback.ring_seconds,
        )
    except (RestUnavailable, RuntimeError) as exc:
        del number
        log.warning(
            "callback %s: attempt %s could not be placed (%s)", callback_id, attempt_number, exc
        )
        with rt.database.transaction() as session:
            callback = session.get_one(Callback, callback_id)
            attempt_failed(session, callback, "not_placed", rt, now)
        return False
    del number
    with rt.database.transaction() as session:
        callback = session.get_one(Callback, callback_id)
        attempt = session.get_one(CallbackAttempt, attempt_id)
        if attempt.call_sid is None:
            attempt.call_sid = placed.sid
        if callback.state == CallbackState.CALLING:
            callback.current_call_sid = placed.sid
    log.info("callback %s: attempt %s placed as call %s", callback_id, attempt_number, placed.sid)
    return True


def _current_attempt(session: Session, callback: Callback) -> CallbackAttempt | None:
    return session.scalar(
        select(CallbackAttempt)
        .where(CallbackAttempt.callback_id == callback.id)
        .order_by(CallbackAttempt.number.desc())
        .limit(1)
    )


def answer(rt: Runtime, params: CallParams, callback_id: int) -> VoiceResponse:
    """The caller picked up: a discreet greeting, and a key to say they can talk now."""
    with rt.database.transaction(write=False) as session:
        callback = session.get(Callback, callback_id)
        if callback is None or callback.state != CallbackState.CALLING:
            response = twiml.empty()
            response.hangup()
            return response
        lang = rt.tset.language(callback.language)
    return twiml.callback_greeting(rt.tset, lang, callback_id)


def confirm(rt: Runtime, params: CallParams, callback_id: int, now: dt.datetime) -> VoiceResponse:
    """1: they can talk, the callback contact enters the queue. Anything else: hang up quietly."""
    hang_up = twiml.empty()
    hang_up.hangup()
    if params.digits != "1":
        return hang_up
    with rt.database.transaction() as session:
        callback = session.get(Callback, callback_id)
        if callback is None or callback.state != CallbackState.CALLING:
            return hang_up
        contact = queue.enqueue(
            session,
            channel=Channel.CALLBACK,
            language=callback.language,
            topic=callback.topic,
            cfg=rt.queue,
            channel_ref=params.call_sid,
            parent_id=callback.parent_contact_id,
            now=now,
        )
        session.add(
            CallLeg(
                call_sid=params.call_sid,
                direction=Direction.CALLBACK,
                contact_id=contact.id,
                callback_id=callback.id,
                language=callback.language,
                state=LegState.QUEUED,
                created_at=now,
                queued_at=now,
            )
        )
        attempt = _current_attempt(session, callback)
        if attempt is not None:
            attempt.confirmed = True
            attempt.call_sid = attempt.call_sid or params.call_sid
        callback.state = CallbackState.QUEUED
        callback.contact_id = contact.id
        callback.version += 1
        lang = rt.tset.language(callback.language)
        contact_id = contact.id
    log.info("callback %s: reached; queued as contact %s", callback_id, contact_id)
    return twiml.enqueue(rt.tset, lang, intro="callback_wait")


def attempt_status(rt: Runtime, params: CallParams, callback_id: int, now: dt.datetime) -> None:
    """The status callback of an attempt: reached and answered, or one more failed attempt."""
    from telephony import legs

    status = params.get("CallStatus")
    if status not in legs.FINAL_STATUS:
        return
    with rt.database.transaction() as session:
        inline(session)
        callback = session.get(Callback, callback_id)
        if callback is None:
            return
        leg = legs.leg_of(session, params.call_sid)
        if leg is not None:
            legs.finish(rt, session, leg, params, now)
        attempt = _current_attempt(session, callback)
        if attempt is not None and attempt.ended_at is None:
            attempt.ended_at = now
            if attempt.confirmed:
                attempt.result = "reached"
            else:
                attempt.result = status if status != "completed" else "unconfirmed"
            attempt.call_sid = attempt.call_sid or params.call_sid
        if callback.state == CallbackState.QUEUED:
            answered = session.scalar(
                select(
                    exists().where(
                        Contact.channel_ref == params.call_sid, Contact.accepted_at.is_not(None)
                    )
                )
            )
            if answered:
                close(session, callback, CallbackState.COMPLETED, "reached", rt, now)
            else:
                attempt_failed(session, callback, "abandoned", rt, now)
        elif callback.state == CallbackState.CALLING:
            attempt_failed(
                session, callback, status if status != "completed" else "unconfirmed", rt, now
            )


def attempt_failed(
    session: Session, callback: Callback, result: str, rt: Runtime, now: dt.datetime
) -> None:
    attempt = _current_attempt(session, callback)
    if attempt is not None and attempt.ended_at is None:
        attempt.ended_at = now
        attempt.result = result[:16]
    retry_at = now + dt.timedelta(minutes=rt.tset.callback.retry_minutes)
    log.info(
        "callback %s: attempt %s of %s failed (%s)",
        callback.id,
        callback.attempts,
        callback.max_attempts,
        result,
    )
    if callback.attempts >= callback.max_attempts:
        close(session, callback, CallbackState.FAILED, "unreachable", rt, now)
    elif retry_at >= callback.window_end:
        close(session, callback, CallbackState.EXPIRED, "window_passed", rt, now)
    else:
        callback.state = CallbackState.SCHEDULED
        callback.next_attempt_at = retry_at
        callback.current_call_sid = None
        callback.version += 1


def close(
    session: Session,
    callback: Callback,
    state: CallbackState,
    outcome: str,
    rt: Runtime,
    now: dt.datetime,
) -> None:
    """End the callback with its outcome and erase the number at once."""
    if callback.closed_at is not None:
        return
    if state != CallbackState.COMPLETED:
        # The callback never reached anyone: it is still a contact of the line, closed with why.
        contact = queue.enqueue(
            session,
            channel=Channel.CALLBACK,
            language=callback.language,
            topic=callback.topic,
            cfg=rt.queue,
            parent_id=callback.parent_contact_id,
            now=now,
        )
        queue.close(session, contact, None, now, reason=outcome)
        callback.contact_id = contact.id
    callback.state = state
    callback.outcome = outcome
    callback.closed_at = now
    callback.next_attempt_at = None
    callback.version += 1
    erase_number(session, callback, now)
    log.info("callback %s closed: %s; number erased", callback.id, outcome)


def erase_number(session: Session, callback: Callback, now: dt.datetime) -> None:
    from console.domain import identity

    if callback.consent_id is not None and callback.number_erased_at is None:
        # It also empties SQLite's write-ahead log once the erasure commits.
        identity.erase_identity(
            session, callback.consent_id, actor_id=None, reason="callback_done", now=now
        )
    callback.number_erased_at = callback.number_erased_at or now


def sweep(rt: Runtime, now: dt.datetime) -> int:
    """Due attempts, lost attempts and passed windows. Idempotent; safe in several processes."""
    with rt.database.transaction(write=False) as session:
        due = list(
            session.scalars(
                select(Callback.id).where(
                    Callback.state == CallbackState.SCHEDULED, Callback.next_attempt_at <= now
                )
            )
        )
        lost = list(
            session.scalars(
                select(Callback.id)
                .join(CallbackAttempt, CallbackAttempt.callback_id == Callback.id)
                .where(
                    Callback.state == CallbackState.CALLING,
                    CallbackAttempt.number == Callback.attempts,
                    CallbackAttempt.ended_at.is_(None),
                    CallbackAttempt.started_at < now - LOST_ATTEMPT,
                )
            )
        )
        passed = list(
            session.scalars(
                select(Callback.id).where(
                    Callback.state == CallbackState.SCHEDULED, Callback.window_end <= now
                )
            )
        )
    for callback_id in lost:
        with rt.database.transaction() as session:
            callback = session.get_one(Callback, callback_id)
            if callback.state == CallbackState.CALLING:
                attempt_failed(session, callback, "no_status", rt, now)
    for callback_id in passed:
        with rt.database.transaction() as session:
            callback = session.get_one(Callback, callback_id)
            if callback.state == CallbackState.SCHEDULED:
                close(session, callback, CallbackState.EXPIRED, "window_passed", rt, now)
    placed = 0
    for callback_id in due:
        if callback_id not in passed and place_attempt(rt, callback_id, now):
            placed += 1
    return placed
