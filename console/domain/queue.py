"""The live queue: enqueue, route and offer, claim, reject, time out, transfer, abandon, close.

The database is the source of truth. Every move that two parties could race for is one conditional
UPDATE whose row count decides, so a contact goes to exactly one operator on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    ForeignKey,
    ScalarSelect,
    Table,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from console.db import Base, intpk, str16, timestamp, utcnow
from console.domain import claim_turns, events, hooks
from console.domain.contacts import (
    HELD,
    QUEUED,
    Channel,
    Contact,
    ContactTransition,
    Source,
    State,
    check_transition,
    get_contact,
    record_transition,
    transition,
)
from console.domain.errors import (
    AlreadyAccepted,
    AtCapacity,
    ContactNotFound,
    ContactUnavailable,
    IllegalTransition,
    NotYourContact,
    OperatorNotFound,
    OperatorUnavailable,
    ValidationFailed,
)
from console.domain.operators import (
    TAKING_CONTACTS,
    Operator,
    Presence,
    become_busy,
    get_operator,
    set_presence,
)
from console.settings import QueueSettings


class OfferState(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    RESCINDED = "rescinded"


class Offer(Base):
    """A reservation: a contact offered to one operator, who accepts, rejects or lets it lapse."""

    __tablename__ = "offers"

    id: Mapped[intpk]
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    state: Mapped[str16] = mapped_column(default=OfferState.PENDING, index=True)
    created_at: Mapped[timestamp]
    expires_at: Mapped[timestamp]
    resolved_at: Mapped[dt.datetime | None]


@dataclass(frozen=True)
class Load:
    """What an operator holds. A contact in wrap-up still occupies its channel's place."""

    voice: int = 0  # calls and callbacks, active or wrapping up
    chat: int = 0  # chats, active or wrapping up
    active: int = 0
    wrap_up: int = 0


def _publish_contact(
    session: Session, contact: Contact, event_type: str = "contact.updated"
) -> None:
    events.publish(session, event_type, contact.to_public())


def enqueue(
    session: Session,
    *,
    channel: Channel | str,
    language: str,
    cfg: QueueSettings,
    topic: str | None = None,
    priority: int | None = None,
    channel_ref: str | None = None,
    urgent: bool = False,
    source: Source | str = Source.SELF,
    parent_id: int | None = None,
    target_operator_id: int | None = None,
    now: dt.datetime | None = None,
) -> Contact:
    now = now or utcnow()
    try:
        channel = Channel(channel)
    except ValueError as exc:
        raise ValidationFailed(f"channel: one of {', '.join(c.value for c in Channel)}") from exc
    if not language or len(language) > 16:
        raise ValidationFailed("language: a language code is required")
    if topic is not None and len(topic) > 32:
        raise ValidationFailed("topic: at most 32 characters")
    try:
        source = Source(source)
    except ValueError as exc:
        raise ValidationFailed(f"source: one of {', '.join(s.value for s in Source)}") from exc
    contact = Contact(
        channel=channel,
        channel_ref=channel_ref,
        language=language,
        topic=topic,
        priority=priority if priority is not None else cfg.priority.get(channel.value, 0),
        state=State.WAITING,
        urgent=urgent,
        source=source,
        parent_id=parent_id,
        target_operator_id=target_operator_id,
        created_at=now,
        enqueued_at=now,
    )
    session.add(contact)
    session.flush()
    record_transition(session, contact, None, State.WAITING, now)
    _publish_contact(session, contact, "contact.queued")
    return contact


def loads(session: Session, operator_ids: list[int] | None) -> dict[int, Load]:
    """What each operator holds; None: every operator who holds anything (no id list to send)."""
    counts: dict[int, dict[str, int]] = defaultdict(
        lambda: {"voice": 0, "chat": 0, "active": 0, "wrap_up": 0}
    )
    if operator_ids is None or operator_ids:
        query = (
            select(Contact.operator_id, Contact.channel, Contact.state, func.count())
            .where(Contact.state.in_(HELD))
            .group_by(Contact.operator_id, Contact.channel, Contact.state)
        )
        if operator_ids is not None:
            query = query.where(Contact.operator_id.in_(operator_ids))
        rows = session.execute(query).all()
        for operator_id, channel, state, count in rows:
            if operator_id is None:
                continue
            held = counts[operator_id]
            held["chat" if channel == Channel.CHAT else "voice"] += count
            held["wrap_up" if state == State.WRAP_UP else "active"] += count
    wanted = counts.keys() if operator_ids is None else operator_ids
    return defaultdict(Load, {op: Load(**counts[op]) for op in wanted})


def operator_load(session: Session, operator_id: int) -> Load:
    return loads(session, [operator_id])[operator_id]


def has_room(operator: Operator, load: Load, channel: str) -> bool:
    """One call at a time, and nothing else beside it; chats up to the operator's limit."""
    return _room(operator.max_chats, load, channel)


def _room(max_chats: int, load: Load, channel: str) -> bool:
    if load.voice:
        return False
    if channel == Channel.CHAT:
        return load.chat < max_chats
    return load.chat == 0


def _room_for_any(max_chats: int, load: Load) -> bool:
    """Room for a contact of some channel: `_room` for a call or for a chat."""
    return not load.voice and (not load.chat or load.chat < max_chats)


def presence_for_load(session: Session, operator_id: int) -> Presence:
    load = operator_load(session, operator_id)
    if load.active:
        return Presence.BUSY
    if load.wrap_up:
        return Presence.WRAP_UP
    return Presence.AVAILABLE


def _follow_load(session: Session, operator: Operator, now: dt.datetime) -> None:
    """Busy and wrap-up follow the contacts held, unless the operator chose break or offline."""
    if operator.presence in (Presence.BREAK, Presence.OFFLINE):
        return
    set_presence(session, operator, presence_for_load(session, operator.id), now)


def _end_pending_offer(
    session: Session, contact_id: int, operator_id: int | None, state: OfferState, now: dt.datetime
) -> None:
    query = select(Offer).where(Offer.contact_id == contact_id, Offer.state == OfferState.PENDING)
    if operator_id is not None:
        query = query.where(Offer.operator_id == operator_id)
    for offer in session.scalars(query):
        offer.state = state
        offer.resolved_at = now
        events.publish(
            session,
            "offer.ended",
            {"offer_id": offer.id, "contact_id": contact_id, "state": state.value},
            room=events.operator_room(offer.operator_id),
        )


# Built once: an accept is the hottest path, and building a statement costs more than running it.
_HELD = aliased(Contact)


def _count_held(chats: bool) -> ScalarSelect[int]:
    kind = _HELD.channel == Channel.CHAT if chats else _HELD.channel != Channel.CHAT
    return (
        select(func.count())
        # Equalities, not IN: an IN list is re-rendered into the SQL at every execution.
        .where(
            _HELD.operator_id == bindparam("operator_id"),
            or_(*(_HELD.state == state for state in sorted(HELD))),
            kind,
        )
        .scalar_subquery()
    )


# Everything an accept checks, in one round trip: the contact, the operator (outer-joined, so a
# missing one is told apart from a missing contact) and what the operator already holds.
_CHECK = (
    select(
        Contact.state,
        Contact.channel,
        Contact.operator_id,
        Contact.offered_to_id,
        Contact.target_operator_id,
        Operator.presence,
        Operator.max_chats,
        _count_held(chats=True).label("chats"),
        _count_held(chats=False).label("calls"),
    )
    .select_from(Contact)
    .outerjoin(Operator, and_(Operator.id == bindparam("operator_id"), Operator.active))
    .where(Contact.id == bindparam("contact_id"))
    # PostgreSQL: the contact's row is locked from the check on, so contenders queue here and
    # read the winner's result; nothing moves it between the check and the UPDATE. (SQLite's
    # write lock, taken at BEGIN, already does both.) Contenders that found it gone hold the lock
    # in turn until they roll back; letting them all return at once (a lock taken only while the
    # contact is claimable) measured slower, as they then crowd one interpreter lock.
    .with_for_update(of=Contact)
)
# The conditional UPDATE whose row count decides a race: it moves the contact only from the state
# the checks saw, and only if it is not offered or aimed at someone else.
_SEEN: BindParameter[str] = bindparam("p_seen")
_TAKE_WHERE = (
    Contact.id == bindparam("p_contact"),
    Contact.state == _SEEN,
    Contact.offered_to_id.is_(None) | (Contact.offered_to_id == bindparam("p_operator")),
    Contact.target_operator_id.is_(None) | (Contact.target_operator_id == bindparam("p_operator")),
)
_TAKE_VALUES = {
    "state": State.ACTIVE,
    "operator_id": bindparam("p_operator"),
    "offered_to_id": None,
    "offer_expires_at": None,
    "accepted_at": bindparam("p_now"),
    "version": Contact.version + 1,
}
_TAKE = (
    update(Contact)
    .where(*_TAKE_WHERE)
    .values(_TAKE_VALUES)
    .returning(Contact)
    .execution_options(synchronize_session=False)
)
# PostgreSQL: the same UPDATE with its transition row, in one statement (a data-modifying WITH).
# The winner holds the contact's row lock while it writes, and every contender queued on that lock
# waits out each of its round trips; SQLite has no such WITH, so it records the transition apart.
_TAKEN = (
    update(cast(Table, Contact.__table__))
    .where(*_TAKE_WHERE)
    .values(_TAKE_VALUES)
    .returning(*Contact.__table__.c)
    .cte("taken")
)
_TAKE_RECORDED = select(aliased(Contact, _TAKEN)).add_cte(
    insert(ContactTransition)
    .from_select(
        ["contact_id", "from_state", "to_state", "at", "operator_id"],
        select(_TAKEN.c.id, _SEEN, _TAKEN.c.state, _TAKEN.c.accepted_at, _TAKEN.c.operator_id),
    )
    .cte("moved")
)


def _check_claim(session: Session, contact_id: int, operator_id: int) -> Any:
    """The checks of an accept, in the order an operator would want to hear them."""
    seen = (
        session.connection()
        .execute(_CHECK, {"contact_id": contact_id, "operator_id": operator_id})
        .one_or_none()
    )
    if seen is None:
        raise ContactNotFound(f"no contact {contact_id}")
    if seen.state == State.ACTIVE and seen.operator_id == operator_id:
        raise AlreadyAccepted("You have already accepted this contact.")
    if seen.presence is None:
        raise OperatorNotFound(f"no operator {operator_id}")
    if seen.presence not in TAKING_CONTACTS:
        raise OperatorUnavailable(
            f"You are {seen.presence.replace('_', ' ')}; become available to take contacts."
        )
    if seen.state not in QUEUED:
        raise ContactUnavailable(f"This contact is {seen.state} and can no longer be accepted.")
    if seen.offered_to_id not in (None, operator_id):
        raise ContactUnavailable("This contact is offered to a colleague right now.")
    if seen.target_operator_id not in (None, operator_id):
        raise ContactUnavailable("This contact is waiting for the colleague it was passed to.")
    if not _room(seen.max_chats, Load(voice=seen.calls, chat=seen.chats), seen.channel):
        raise AtCapacity("Finish or wrap up what you hold before taking another contact.")
    return seen


def claim(
    session: Session, contact_id: int, operator_id: int, now: dt.datetime | None = None
) -> Contact:
    """Accept an offered contact, or pick a waiting one. Exactly one operator ever wins.

    An accept is a race that most contenders lose. Contenders in this process take turns
    (`claim_turns`), so those behind a winner lose without a statement; in the database the checks
    read plain columns (no ORM objects), a loser stops after that one read, and the winner gets its
    row from the UPDATE.
    """
    now = now or utcnow()
    turn = claim_turns.take_turn(session, contact_id, operator_id)
    try:
        contact = _take(session, contact_id, operator_id, now)
    except BaseException:
        claim_turns.end(turn)
        raise
    claim_turns.claimed(session, turn)
    return contact


def _take(session: Session, contact_id: int, operator_id: int, now: dt.datetime) -> Contact:
    # Core, not ORM, execution: plain columns need none of the ORM's bookkeeping. Core does not
    # autoflush, so what the caller changed in this session is written first.
    session.flush()
    seen = _check_claim(session, contact_id, operator_id)
    recorded = session.connection().dialect.name == "postgresql"
    contact = session.scalar(
        _TAKE_RECORDED if recorded else _TAKE,
        {
            "p_contact": contact_id,
            "p_seen": seen.state,
            "p_operator": operator_id,
            "p_now": now,
        },
        execution_options={"populate_existing": True},
    )
    if contact is None:  # the decisive guard; under the lock the checks above already hold
        raise ContactUnavailable("Another operator has this contact.")
    if seen.presence == Presence.AVAILABLE:
        become_busy(session, operator_id, now)
    if seen.state == State.OFFERED:
        _end_pending_offer(session, contact_id, operator_id, OfferState.ACCEPTED, now)
    if not recorded:
        record_transition(session, contact, seen.state, State.ACTIVE, now, operator_id=operator_id)
    _publish_contact(session, contact)
    hooks.fire(session, "accepted", contact)
    return contact


def reject(
    session: Session, contact_id: int, operator_id: int, now: dt.datetime | None = None
) -> Contact:
    """Turn down an offer; the contact goes back to waiting for the next operator."""
    return _release_offer(session, contact_id, operator_id, OfferState.REJECTED, now or utcnow())


def _release_offer(
    session: Session,
    contact_id: int,
    operator_id: int,
    state: OfferState,
    now: dt.datetime,
) -> Contact:
    contact = get_contact(session, contact_id)
    if contact.state != State.OFFERED or contact.offered_to_id != operator_id:
        raise ContactUnavailable("This contact is not offered to you.")
    result = session.execute(
        update(Contact)
        .where(
            Contact.id == contact_id,
            Contact.state == State.OFFERED,
            Contact.offered_to_id == operator_id,
        )
        .values(
            state=State.WAITING,
            offered_to_id=None,
            offer_expires_at=None,
            version=Contact.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ContactUnavailable("This contact is not offered to you.")
    session.refresh(contact)
    record_transition(
        session,
        contact,
        State.OFFERED,
        State.WAITING,
        now,
        operator_id=operator_id,
        reason=state.value,
    )
    _end_pending_offer(session, contact_id, operator_id, state, now)
    _publish_contact(session, contact)
    hooks.fire(session, "requeued", contact)
    return contact


def _lapsed(now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """Offers not accepted within the reservation timeout."""
    return (Contact.state == State.OFFERED, Contact.offer_expires_at <= now)


def _overflow_due(cfg: QueueSettings, now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """Contacts in the queue that have waited long enough to go to operators of any language."""
    return (
        Contact.state.in_([State.WAITING, State.OFFERED]),
        Contact.overflowed_at.is_(None),
        Contact.enqueued_at <= now - dt.timedelta(seconds=cfg.language_overflow_after),
    )


def expire_offers(session: Session, now: dt.datetime | None = None) -> int:
    """Offers not accepted within the reservation timeout go back to the queue."""
    now = now or utcnow()
    expired = session.execute(select(Contact.id, Contact.offered_to_id).where(*_lapsed(now))).all()
    count = 0
    for contact_id, operator_id in expired:
        if operator_id is None:
            continue
        try:
            _release_offer(session, contact_id, operator_id, OfferState.TIMEOUT, now)
            count += 1
        except ContactUnavailable:
            continue  # accepted or released by someone else in the meantime
    return count


def rescind_offers(session: Session, operator_id: int, now: dt.datetime | None = None) -> int:
    """Withdraw what is offered to an operator who stops taking contacts (break, offline): each
    contact goes back to waiting at once, for routing to offer to someone else."""
    now = now or utcnow()
    offered = session.scalars(
        select(Contact.id).where(
            Contact.state == State.OFFERED, Contact.offered_to_id == operator_id
        )
    ).all()
    count = 0
    for contact_id in offered:
        try:
            _release_offer(session, contact_id, operator_id, OfferState.RESCINDED, now)
            count += 1
        except ContactUnavailable:
            continue  # accepted, abandoned or timed out in the meantime
    return count


def _recent_refusals(
    session: Session, contact_ids: list[int], since: dt.datetime
) -> dict[int, set[int]]:
    if not contact_ids:
        return {}
    rows = session.execute(
        select(Offer.contact_id, Offer.operator_id).where(
            Offer.contact_id.in_(contact_ids),
            Offer.state.in_([OfferState.REJECTED, OfferState.TIMEOUT]),
            Offer.resolved_at >= since,
        )
    ).all()
    refused: dict[int, set[int]] = defaultdict(set)
    for contact_id, operator_id in rows:
        refused[contact_id].add(operator_id)
    return refused


def language_matches(
    operator: Operator, contact: Contact, cfg: QueueSettings, now: dt.datetime
) -> bool:
    if contact.language in operator.languages:
        return True
    return (now - contact.enqueued_at).total_seconds() >= cfg.language_overflow_after


def skill_matches(operator: Operator, contact: Contact) -> bool:
    return not operator.skills or contact.topic is None or contact.topic in operator.skills


def _with_room(session: Session) -> tuple[list[int], dict[int, Load]]:
    """The operators a contact could be offered to now, longest in their presence first, and what
    everyone holds. Offers pending first, then presence and load: on PostgreSQL each statement
    sees the latest commits, so an operator who accepted an offer meanwhile shows up with the
    contact held. Plain columns: in a rush hour hundreds of operators take contacts and hardly
    any has room, and an object built for each held the interpreter for milliseconds."""
    pending = set(
        session.scalars(select(Contact.offered_to_id).where(Contact.state == State.OFFERED))
    )
    taking = [
        row
        for row in session.execute(
            select(Operator.id, Operator.max_chats)
            .where(Operator.active, Operator.presence.in_(list(TAKING_CONTACTS)))
            .order_by(Operator.presence_since, Operator.id)
        )
        if row.id not in pending
    ]
    if not taking:
        return [], {}
    held = loads(session, None)
    return [row.id for row in taking if _room_for_any(row.max_chats, held[row.id])], held


def routing_due(session: Session, cfg: QueueSettings, now: dt.datetime | None = None) -> bool:
    """Whether a tick has anything to write: an offer lapsed, a contact due to overflow, or a
    contact waiting while someone has room. Read first, so that a tick with nothing to do takes
    no write lock (on SQLite, the whole file's, which the other server processes wait for)."""
    now = now or utcnow()
    for due in (_lapsed(now), _overflow_due(cfg, now)):
        if session.scalar(select(Contact.id).where(*due).limit(1)) is not None:
            return True
    if session.scalar(select(Contact.id).where(Contact.state == State.WAITING).limit(1)) is None:
        return False
    return bool(_with_room(session)[0])


def route(session: Session, cfg: QueueSettings, now: dt.datetime | None = None) -> list[Offer]:
    """Offer waiting contacts, by priority then wait, to free operators who speak the language.

    Safe to run in several processes at once: each offer is a conditional UPDATE from waiting.
    """
    now = now or utcnow()
    if not _routing_lock(session):
        return []
    _mark_overflow(session, cfg, now)
    # Operators first, contacts second: with every operator busy (the usual state of a queue
    # with people in it) a pass ends after two small reads instead of reading the whole queue.
    with_room, held = _with_room(session)
    if not with_room:
        return []
    loaded = {
        op.id: op for op in session.scalars(select(Operator).where(Operator.id.in_(with_room)))
    }
    free = [loaded[op_id] for op_id in with_room if op_id in loaded]
    waiting = list(
        session.scalars(
            select(Contact)
            .where(Contact.state == State.WAITING)
            .order_by(Contact.priority.desc(), Contact.enqueued_at, Contact.id)
            .limit(500)
        )
    )
    if not waiting:
        return []
    refused = _recent_refusals(
        session, [c.id for c in waiting], now - dt.timedelta(seconds=cfg.reoffer_cooldown)
    )
    offers: list[Offer] = []
    for contact in waiting:
        if not free:
            break
        chosen = next(
            (
                op
                for op in free
                if has_room(op, held[op.id], contact.channel)
                and (contact.target_operator_id in (None, op.id))
                and op.id not in refused.get(contact.id, set())
                and language_matches(op, contact, cfg, now)
                and skill_matches(op, contact)
            ),
            None,
        )
        if chosen is None:
            continue
        expires = now + dt.timedelta(seconds=cfg.reservation_timeout)
        result = session.execute(
            update(Contact)
            .where(Contact.id == contact.id, Contact.state == State.WAITING)
            .values(
                state=State.OFFERED,
                offered_to_id=chosen.id,
                offered_at=now,
                offer_expires_at=expires,
                version=Contact.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue
        session.refresh(contact)
        record_transition(
            session, contact, State.WAITING, State.OFFERED, now, operator_id=chosen.id
        )
        offer = Offer(
            contact_id=contact.id,
            operator_id=chosen.id,
            state=OfferState.PENDING,
            created_at=now,
            expires_at=expires,
        )
        session.add(offer)
        session.flush()
        _publish_contact(session, contact)
        events.publish(
            session,
            "offer.created",
            {
                "offer_id": offer.id,
                "contact": contact.to_public(),
                "expires_at": expires.isoformat(),
            },
            room=events.operator_room(chosen.id),
        )
        offers.append(offer)
        free.remove(chosen)
    return offers


# Any fixed number: the key of PostgreSQL's advisory lock that one routing pass holds.
_ROUTING_LOCK_KEY = 116006


def _routing_lock(session: Session) -> bool:
    """One routing pass at a time across server processes, so no operator gets two offers at once.

    SQLite needs nothing: the tick's write transaction already holds the database's write lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(_ROUTING_LOCK_KEY))))


def _mark_overflow(session: Session, cfg: QueueSettings, now: dt.datetime) -> None:
    due = list(session.scalars(select(Contact).where(*_overflow_due(cfg, now))))
    for contact in due:
        contact.overflowed_at = now
        _publish_contact(session, contact)


def _owned(session: Session, contact_id: int, operator_id: int) -> Contact:
    contact = get_contact(session, contact_id)
    if contact.operator_id != operator_id:
        raise NotYourContact("This contact is not yours.")
    return contact


def start_wrap_up(
    session: Session, contact_id: int, operator_id: int, now: dt.datetime | None = None
) -> Contact:
    """The conversation ended; the operator now records the outcome (handling time goes on)."""
    now = now or utcnow()
    contact = _owned(session, contact_id, operator_id)
    transition(session, contact, State.WRAP_UP, now, operator_id=operator_id)
    _publish_contact(session, contact)
    _follow_load(session, get_operator(session, operator_id), now)
    hooks.fire(session, "ended", contact)
    return contact


def close(
    session: Session,
    contact: Contact,
    operator_id: int | None,
    now: dt.datetime | None = None,
    *,
    reason: str | None = None,
) -> Contact:
    """Close a contact that is wrapping up (or a waiting one the system gives up on)."""
    now = now or utcnow()
    if contact.state == State.ACTIVE:
        transition(session, contact, State.WRAP_UP, now, operator_id=operator_id)
        hooks.fire(session, "ended", contact)
    transition(session, contact, State.CLOSED, now, operator_id=operator_id, reason=reason)
    _publish_contact(session, contact)
    if contact.operator_id is not None:
        _follow_load(session, get_operator(session, contact.operator_id), now)
    hooks.fire(session, "final", contact)
    return contact


def abandon(
    session: Session, contact_id: int, now: dt.datetime | None = None, *, reason: str = "hangup"
) -> Contact:
    """The caller or visitor left before anyone answered."""
    now = now or utcnow()
    contact = get_contact(session, contact_id)
    check_transition(contact.state, State.ABANDONED)
    result = session.execute(
        update(Contact)
        .where(Contact.id == contact_id, Contact.state.in_([State.WAITING, State.OFFERED]))
        .values(
            state=State.ABANDONED,
            abandoned_at=now,
            offered_to_id=None,
            offer_expires_at=None,
            version=Contact.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise IllegalTransition("The contact was answered before it could be abandoned.")
    previous = contact.state
    session.refresh(contact)
    record_transition(session, contact, previous, State.ABANDONED, now, reason=reason)
    _end_pending_offer(session, contact_id, None, OfferState.RESCINDED, now)
    _publish_contact(session, contact)
    hooks.fire(session, "final", contact)
    return contact


def transfer(
    session: Session,
    contact_id: int,
    operator_id: int,
    cfg: QueueSettings,
    *,
    to_operator_id: int | None = None,
    now: dt.datetime | None = None,
) -> Contact:
    """Hand a live contact on: to a named colleague, or back to the queue at transfer priority.

    The old leg ends as transferred and a new leg, linked by parent_id, waits at the front.
    """
    now = now or utcnow()
    contact = _owned(session, contact_id, operator_id)
    if to_operator_id is not None:
        if to_operator_id == operator_id:
            raise ValidationFailed("You cannot transfer a contact to yourself.")
        get_operator(session, to_operator_id)
    transition(session, contact, State.TRANSFERRED, now, operator_id=operator_id)
    _publish_contact(session, contact)
    hooks.fire(session, "final", contact)
    successor = enqueue(
        session,
        channel=contact.channel,
        language=contact.language,
        cfg=cfg,
        topic=contact.topic,
        priority=cfg.priority.get("transfer", 150),
        channel_ref=contact.channel_ref,
        urgent=contact.urgent,
        source=contact.source,
        parent_id=contact.id,
        target_operator_id=to_operator_id,
        now=now,
    )
    # The caller has been waiting since they first joined; keep their place in line honest.
    successor.enqueued_at = contact.enqueued_at
    _follow_load(session, get_operator(session, operator_id), now)
    return successor


def queue_snapshot(session: Session) -> list[Contact]:
    return list(
        session.scalars(
            select(Contact)
            .where(Contact.state.in_([State.WAITING, State.OFFERED]))
            .order_by(Contact.priority.desc(), Contact.enqueued_at, Contact.id)
        )
    )


def held_by(session: Session, operator_id: int) -> list[Contact]:
    return list(
        session.scalars(
            select(Contact)
            .where(Contact.operator_id == operator_id, Contact.state.in_(HELD))
            .order_by(Contact.accepted_at)
        )
    )


def front_of_queue(session: Session, contact: Contact) -> None:
    """A call whose operator leg failed goes back to the front, not the back."""
    contact.priority = max(contact.priority, _top_priority(session) + 1)


def _top_priority(session: Session) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.max(Contact.priority), 0)).where(
                Contact.state.in_([State.WAITING, State.OFFERED])
            )
        )
        or 0
    )


__all__ = [
    "Load",
    "Offer",
    "OfferState",
    "abandon",
    "claim",
    "close",
    "enqueue",
    "expire_offers",
    "held_by",
    "queue_snapshot",
    "reject",
    "route",
    "routing_due",
    "start_wrap_up",
    "transfer",
]
