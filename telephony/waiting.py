"""While the caller waits: the wait document (place and expected wait), the callback key, and what
happens when the call leaves Twilio's queue (hang-up, callback request, queue error).

The wait URL only reads. Place and expected wait come from the console's own queue, not Twilio's:
the console routes by priority and language, so Twilio's FIFO position would be wrong.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from console.domain import lead_actions, queue, stats_settings
from console.domain.contacts import QUEUED, Contact, ContactTransition, State
from console.domain.errors import DomainError
from telephony import callbacks, twiml
from telephony.hooks import inline
from telephony.models import CallLeg, Direction, LegState
from telephony.params import CallParams
from telephony.runtime import Runtime

log = logging.getLogger(__name__)

RATE_WINDOW = dt.timedelta(minutes=30)
RATE_CACHE_SECONDS = 15.0
# Every waiting caller's wait document reads the queue; one process reads it at most this often.
VIEW_SECONDS = 1.0


@dataclass(frozen=True)
class Waiting:
    """A queued contact as the wait document needs it (and its call leg, if it is a call)."""

    id: int
    priority: int
    enqueued_at: dt.datetime
    language: str
    overflowed: bool
    call_sid: str | None
    direction: str | None
    withheld: bool
    line: str | None

    def before(self, other: Waiting) -> bool:
        """Served before `other` by the router (priority, then wait, then arrival)."""
        return (self.priority, other.enqueued_at, other.id) > (
            other.priority,
            self.enqueued_at,
            self.id,
        )

    def competes_with(self, other: Waiting) -> bool:
        """Both can go to the same operators: same language, or either has overflowed."""
        return other.overflowed or self.overflowed or self.language == other.language


@dataclass(frozen=True)
class QueueView:
    at: float
    waiting: tuple[Waiting, ...]
    by_call: dict[str, Waiting]

    def position(self, mine: Waiting) -> int:
        return 1 + sum(
            1
            for other in self.waiting
            if other.id != mine.id and other.before(mine) and other.competes_with(mine)
        )


_VIEW = (
    select(
        Contact.id,
        Contact.priority,
        Contact.enqueued_at,
        Contact.language,
        Contact.overflowed_at,
        CallLeg.call_sid,
        CallLeg.direction,
        CallLeg.withheld,
        CallLeg.line,
    )
    .select_from(Contact)
    .outerjoin(CallLeg, CallLeg.contact_id == Contact.id)
    .where(Contact.state.in_([s.value for s in QUEUED]))
)


def queue_view(rt: Runtime, conn: Connection) -> QueueView:
    """The queue as it stood at most a second ago, shared by this process's wait documents."""
    cached = rt.cache.get("queue_view")
    if cached is not None and time.monotonic() - cached[0] < VIEW_SECONDS:
        view: QueueView = cached[1]
        return view
    rows = tuple(
        Waiting(
            id=row.id,
            priority=row.priority,
            enqueued_at=row.enqueued_at,
            language=row.language,
            overflowed=row.overflowed_at is not None,
            call_sid=row.call_sid,
            direction=row.direction,
            withheld=bool(row.withheld),
            line=row.line,
        )
        for row in conn.execute(_VIEW)
    )
    view = QueueView(
        at=time.monotonic(),
        waiting=rows,
        by_call={w.call_sid: w for w in rows if w.call_sid},
    )
    rt.cache["queue_view"] = (view.at, view)
    return view


def _wait_statement() -> Select[Any]:
    """One read for the wait URL: the leg, its contact, and how many the router serves first
    among those competing for the same operators (same language, or overflowed)."""
    legs = CallLeg.__table__
    mine = Contact.__table__.alias("mine")
    other = Contact.__table__.alias("other")
    ahead = (
        select(func.count())
        .select_from(other)
        .where(
            other.c.state.in_([s.value for s in QUEUED]),
            other.c.id != mine.c.id,
            (other.c.priority > mine.c.priority)
            | (
                (other.c.priority == mine.c.priority)
                & (
                    (other.c.enqueued_at < mine.c.enqueued_at)
                    | ((other.c.enqueued_at == mine.c.enqueued_at) & (other.c.id < mine.c.id))
                )
            ),
            mine.c.overflowed_at.is_not(None)
            | (other.c.language == mine.c.language)
            | other.c.overflowed_at.is_not(None),
        )
        .scalar_subquery()
    )
    return (
        select(
            legs.c.direction,
            legs.c.withheld,
            legs.c.line,
            mine.c.state,
            mine.c.language,
            ahead.label("ahead"),
        )
        .select_from(legs.join(mine, mine.c.id == legs.c.contact_id))
        .where(legs.c.call_sid == bindparam("call_sid"))
    )


_WAIT = _wait_statement()


def answers_per_minute(
    rt: Runtime, conn: Connection, language: str, now: dt.datetime
) -> float | None:
    """Recent answers in this language per minute; cached 15 s per process (it barely moves)."""
    key = f"answers_per_minute:{language}"
    cached = rt.cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < RATE_CACHE_SECONDS:
        rate: float | None = cached[1]
        return rate
    answered = conn.scalar(
        select(func.count())
        .select_from(ContactTransition)
        .join(Contact, Contact.id == ContactTransition.contact_id)
        .where(
            ContactTransition.to_state == State.ACTIVE,
            ContactTransition.at >= now - RATE_WINDOW,
            Contact.language == language,
        )
    )
    rate = (int(answered) / (RATE_WINDOW.total_seconds() / 60)) if answered else None
    rt.cache[key] = (time.monotonic(), rate)
    return rate


def expected_minutes(place: int, rate: float | None) -> int | None:
    """Say nothing rather than guess when there is no recent answer to go by."""
    if rate is None or rate <= 0:
        return None
    return min(60, max(1, math.ceil(place / rate)))


def partner_line(rt: Runtime, conn: Connection, language: str) -> str | None:
    """The name of the partner line the shift lead opened for callers in `language`, if any.
    Read at most once a second per process, like the queue view."""
    cached = rt.cache.get("partner_lines")
    if cached is None or time.monotonic() - cached[0] >= VIEW_SECONDS:
        with Session(bind=conn) as session:
            cached = (time.monotonic(), lead_actions.partner_lines_open(session))
        rt.cache["partner_lines"] = cached
    code = cached[1].get(language)
    if code is None:
        return None
    # The wallboard's settings, as the process installed them (config/wallboard.toml).
    names = {line.code: line.name for line in stats_settings.current().partner_lines}
    return names.get(code, code)


def wait(rt: Runtime, params: CallParams, language: str, now: dt.datetime) -> VoiceResponse:
    """The wait document. Every waiting caller fetches it every ~25 s, so it reads the queue
    through the process's one-second view; a call the view does not hold yet (it joined in the
    last second, or was just accepted) is read on its own, off the ORM."""
    lang = rt.tset.language(language)
    with rt.database.engine.connect() as conn:
        view = queue_view(rt, conn)
        mine = view.by_call.get(params.call_sid)
        if mine is not None:
            place = view.position(mine)
            minutes = expected_minutes(place, answers_per_minute(rt, conn, mine.language, now))
            return twiml.wait(
                rt.tset,
                rt.tset.language(mine.language),
                position=place,
                minutes=minutes,
                offer_callback=callbacks.can_offer_to(
                    rt, mine.direction or "", mine.withheld, mine.line
                ),
                partner=partner_line(rt, conn, mine.language),
            )
        row = conn.execute(_WAIT, {"call_sid": params.call_sid}).first()
        if row is None:
            return twiml.wait(rt.tset, lang, position=None, minutes=None, offer_callback=False)
        if row.state not in QUEUED:
            return twiml.hold()  # accepted: the redirect to the operator is under way
        lang = rt.tset.language(row.language)
        place = int(row.ahead) + 1
        minutes = expected_minutes(place, answers_per_minute(rt, conn, row.language, now))
        partner = partner_line(rt, conn, row.language)
    return twiml.wait(
        rt.tset,
        lang,
        position=place,
        minutes=minutes,
        offer_callback=callbacks.can_offer_to(rt, row.direction, row.withheld, row.line),
        partner=partner,
    )


def wait_key(rt: Runtime, params: CallParams) -> VoiceResponse:
    if params.digits != rt.tset.callback.key:
        return twiml.empty()
    with rt.database.transaction(write=False) as session:
        leg = session.scalar(select(CallLeg).where(CallLeg.call_sid == params.call_sid))
        if leg is None or not callbacks.can_offer(rt, leg):
            return twiml.empty()
    return twiml.leave()


def short_or_not(rt: Runtime, contact: Contact, now: dt.datetime) -> str:
    waited = (now - contact.enqueued_at).total_seconds()
    return "short_abandon" if waited < rt.tset.short_abandon_seconds else "hangup"


def end_waiting(
    rt: Runtime, session: Session, contact: Contact, now: dt.datetime, reason: str | None = None
) -> None:
    """The caller left the queue without being answered: abandoned, with its wait time."""
    if contact.state not in QUEUED:
        return
    try:
        queue.abandon(session, contact.id, now, reason=reason or short_or_not(rt, contact, now))
    except DomainError:
        return  # answered at the same moment; the bridge and its status follow
    log.info(
        "call %s abandoned after %.0f s waiting (contact %s)",
        contact.channel_ref,
        (now - contact.enqueued_at).total_seconds(),
        contact.id,
    )


def queue_result(rt: Runtime, params: CallParams, now: dt.datetime) -> VoiceResponse:
    """Twilio's <Enqueue> action: the call left the queue, and why."""
    result = params.get("QueueResult")
    with rt.database.transaction() as session:
        inline(session)
        row = session.execute(
            select(CallLeg, Contact)
            .join(Contact, Contact.id == CallLeg.contact_id)
            .where(CallLeg.call_sid == params.call_sid)
        ).first()
        if row is None:
            return twiml.empty()
        leg, contact = row
        lang = rt.tset.language(contact.language)
        if result == "hangup":
            end_waiting(rt, session, contact, now)
            leg.state = LegState.ENDED
            leg.ended_at = leg.ended_at or now
            return twiml.empty()
        if result == "leave":
            if leg.direction == Direction.INBOUND and callbacks.can_offer(rt, leg):
                return twiml.callback_explain(rt.tset, lang)
            return twiml.enqueue(rt.tset, lang, intro=None)
        if result in ("queue-full", "error", "system-error"):
            log.warning("call %s could not wait in the queue (%s)", params.call_sid, result)
            end_waiting(rt, session, contact, now, reason="queue_error")
            return twiml.unavailable(rt.tset, lang, twiml.line_caller_id(rt.tset, leg.line))
    # redirected, bridged, …: another document already has the call.
    return twiml.empty()
