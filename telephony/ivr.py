"""The menu: greeting, language, topic, out-of-hours, and joining the queue.

Until the caller joins the queue nothing is written: the menu steps only read (the block list), so
the first webhook of every call stays fast however many calls arrive. Joining the queue is one
short write transaction: the Contact, its call leg, and (once a day) the day's hash key.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from twilio.twiml.voice_response import VoiceResponse

from console.domain import queue
from console.domain.contacts import Channel
from telephony import privacy, twiml
from telephony.models import CallLeg, Direction, LegState
from telephony.params import CallParams
from telephony.runtime import Runtime
from telephony.settings import VoiceLanguage

log = logging.getLogger(__name__)


def suggested_language(rt: Runtime, caller: privacy.Caller) -> VoiceLanguage:
    code = rt.tset.country_languages.get(caller.country or "")
    return rt.tset.language(code)


def incoming(rt: Runtime, params: CallParams, now: dt.datetime) -> VoiceResponse | str:
    lang = suggested_language(rt, params.caller)
    if privacy.is_blocked(rt.database, rt.tset.secret_key, params.caller, now):
        log.info("call %s refused: the caller is blocked", params.call_sid)
        return twiml.blocked(rt.tset, lang)
    if not rt.is_open(now):
        log.info("call %s arrived out of hours", params.call_sid)
        return twiml.closed(rt.tset, lang, rt.hours, offer_languages=True)
    if len(rt.tset.languages) > 1:
        return _menu(rt, lang)
    return after_language(rt, params, lang, now)


def _menu(rt: Runtime, lang: VoiceLanguage) -> str:
    """The language menu never changes while the process runs: render it once per language."""
    key = f"menu:{lang.code}"
    cached = rt.cache.get(key)
    if cached is None:
        cached = (0.0, str(twiml.language_menu(rt.tset, lang)))
        rt.cache[key] = cached
    document: str = cached[1]
    return document


def choose_language(
    rt: Runtime, params: CallParams, suggested: str, now: dt.datetime
) -> VoiceResponse | str:
    # No key, or a key that is no option: the suggested language (a caller is never looped).
    lang = rt.tset.by_digit(params.digits) or rt.tset.language(suggested)
    return after_language(rt, params, lang, now)


def after_language(
    rt: Runtime, params: CallParams, lang: VoiceLanguage, now: dt.datetime
) -> VoiceResponse | str:
    if not rt.is_open(now):
        return twiml.closed(rt.tset, lang, rt.hours, offer_languages=False)
    if rt.tset.ask_topic:
        return twiml.topic_menu(rt.tset, lang)
    return join_queue(rt, params, lang, None, now)


def choose_topic(rt: Runtime, params: CallParams, language: str, now: dt.datetime) -> VoiceResponse:
    lang = rt.tset.language(language)
    topic = None
    if params.digits.isdigit() and 1 <= int(params.digits) <= len(rt.tset.topics):
        topic = rt.tset.topics[int(params.digits) - 1]
    return join_queue(rt, params, lang, topic, now)


def closed_in(rt: Runtime, params: CallParams) -> VoiceResponse:
    lang = rt.tset.by_digit(params.digits) or rt.tset.default_language
    return twiml.closed(rt.tset, lang, rt.hours, offer_languages=False)


def join_queue(
    rt: Runtime,
    params: CallParams,
    lang: VoiceLanguage,
    topic: str | None,
    now: dt.datetime,
) -> VoiceResponse:
    """Create the Contact (visible in every console at once) and put the call in Twilio's queue.

    Everything that can be read or computed is done before the write transaction, which holds
    the database's write lock only for the contact's and the leg's inserts.
    """
    caller = params.caller
    with rt.database.engine.connect() as conn:
        known = conn.scalar(select(CallLeg.contact_id).where(CallLeg.call_sid == params.call_sid))
    if known is not None:
        # Twilio retried, or the call came through the menu twice: one call, one contact.
        return twiml.enqueue(rt.tset, lang, intro=None)
    day = privacy.local_day(now, rt.tz)
    digest = privacy.caller_hash(rt.database, caller, day, rt.tset.secret_key)
    leg = {
        "call_sid": params.call_sid,
        "direction": Direction.INBOUND.value,
        "language": lang.code,
        "country": caller.country,
        "withheld": caller.withheld,
        "caller_hash": digest,
        "hash_day": day if digest else None,
        "line": params.line,
        "state": LegState.QUEUED.value,
        "created_at": now,
        "queued_at": now,
        "bridge_attempts": 0,
        "version": 1,
    }
    try:
        with rt.writers.turn(), rt.database.transaction() as session:
            contact = queue.enqueue(
                session,
                channel=Channel.VOICE,
                language=lang.code,
                topic=topic,
                cfg=rt.queue,
                channel_ref=params.call_sid,
                now=now,
            )
            session.execute(insert(CallLeg).values(contact_id=contact.id, **leg))
            contact_id = contact.id
    except IntegrityError:
        # The same CallSid joined concurrently (a retry racing the first request): it is queued.
        return twiml.enqueue(rt.tset, lang, intro=None)
    except OperationalError:
        # The database cannot take the contact now: rather than a caller waiting unseen in
        # Twilio's queue, they go to the partner line at once.
        log.warning(
            "call %s could not be queued (database busy); sent to the partner line", params.call_sid
        )
        return twiml.unavailable(rt.tset, lang, twiml.line_caller_id(rt.tset, params.line))
    log.info("call %s queued as contact %s", params.call_sid, contact_id)
    return twiml.enqueue(rt.tset, lang, intro="queue_entered")
