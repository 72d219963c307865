"""The queue's rules, on the domain API directly (SQLite or PostgreSQL, as the run chooses)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from console.db import Database, utcnow
from console.domain import events, operators, outcomes, queue
from console.domain.contacts import Contact, ContactTransition, State
from console.domain.errors import (
    AlreadyAccepted,
    AtCapacity,
    ContactNotFound,
    ContactUnavailable,
    IllegalTransition,
    NotYourContact,
    OperatorUnavailable,
    ValidationFailed,
)
from console.settings import QueueSettings, Settings
from tests.support import make_operator

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def cfg(settings: Settings) -> QueueSettings:
    return settings.queue


def _enqueue(db: Database, cfg: QueueSettings, now: dt.datetime = T0, **kw: object) -> int:
    kw.setdefault("channel", "voice")
    kw.setdefault("language", "nl")
    with db.transaction() as s:
        return queue.enqueue(s, cfg=cfg, now=now, **kw).id  # type: ignore[arg-type]


def _state(db: Database, contact_id: int) -> Contact:
    with db.transaction(write=False) as s:
        return s.get_one(Contact, contact_id)


def test_lifecycle_stamps_every_state_and_logs_transitions(
    database: Database, cfg: QueueSettings
) -> None:
    op = make_operator(database, "ana")
    cid = _enqueue(database, cfg)
    with database.transaction() as s:
        offers = queue.route(s, cfg, now=at(1))
        assert [o.contact_id for o in offers] == [cid]
    with database.transaction() as s:
        queue.claim(s, cid, op, now=at(3))
    with database.transaction() as s:
        queue.start_wrap_up(s, cid, op, now=at(60))
    taxonomy = outcomes.load_outcome_taxonomy(cfg_path())
    with database.transaction() as s:
        outcomes.wrap_up(s, cid, op, code="information_given", taxonomy=taxonomy, now=at(90))
    contact = _state(database, cid)
    assert contact.state == State.CLOSED
    assert (contact.enqueued_at, contact.offered_at, contact.accepted_at) == (T0, at(1), at(3))
    assert (contact.wrap_up_at, contact.closed_at) == (at(60), at(90))
    with database.transaction(write=False) as s:
        path = [
            t.to_state
            for t in s.query(ContactTransition)
            .filter_by(contact_id=cid)
            .order_by(ContactTransition.id)
        ]
    assert path == ["waiting", "offered", "active", "wrap_up", "closed"]


def cfg_path():  # type: ignore[no-untyped-def]
    from console.settings import DEFAULT_CONFIG_DIR

    return DEFAULT_CONFIG_DIR / "outcomes.toml"


def test_routing_orders_by_priority_then_wait(database: Database, cfg: QueueSettings) -> None:
    old_chat = _enqueue(database, cfg, now=T0, channel="chat")
    new_voice = _enqueue(database, cfg, now=at(5), channel="voice")
    older_voice = _enqueue(database, cfg, now=at(1), channel="voice")
    make_operator(database, "ana")
    with database.transaction() as s:
        offers = queue.route(s, cfg, now=at(10))
    assert [o.contact_id for o in offers] == [older_voice]
    make_operator(database, "ben")
    make_operator(database, "cas")
    with database.transaction() as s:
        offers = queue.route(s, cfg, now=at(11))
    assert [o.contact_id for o in offers] == [new_voice, old_chat]


def test_language_match_then_overflow_after_configured_wait(
    database: Database, cfg: QueueSettings
) -> None:
    cid = _enqueue(database, cfg, language="ar")
    op = make_operator(database, "ana", languages=["nl"])
    with database.transaction() as s:
        assert queue.route(s, cfg, now=at(cfg.language_overflow_after - 1)) == []
    with database.transaction() as s:
        offers = queue.route(s, cfg, now=at(cfg.language_overflow_after))
    assert [(o.contact_id, o.operator_id) for o in offers] == [(cid, op)]
    assert _state(database, cid).overflowed_at is not None


def test_skills_limit_offers_to_trained_operators(database: Database, cfg: QueueSettings) -> None:
    cid = _enqueue(database, cfg, topic="sexual_violence")
    make_operator(database, "general", skills=["general"])
    trained = make_operator(database, "trained", skills=["sexual_violence"])
    with database.transaction() as s:
        offers = queue.route(s, cfg, now=at(1))
    assert [(o.contact_id, o.operator_id) for o in offers] == [(cid, trained)]


def test_reject_and_timeout_reoffer_to_someone_else(database: Database, cfg: QueueSettings) -> None:
    cid = _enqueue(database, cfg)
    ana = make_operator(database, "ana")
    with database.transaction() as s:
        (offer,) = queue.route(s, cfg, now=at(1))
    assert offer.operator_id == ana
    with database.transaction() as s:
        queue.reject(s, cid, ana, now=at(2))
    assert _state(database, cid).state == State.WAITING
    ben = make_operator(database, "ben")
    with database.transaction() as s:
        (offer,) = queue.route(s, cfg, now=at(3))
    assert offer.operator_id == ben
    with database.transaction() as s:
        assert queue.expire_offers(s, now=at(3 + cfg.reservation_timeout - 1)) == 0
        assert queue.expire_offers(s, now=at(3 + cfg.reservation_timeout)) == 1
    assert _state(database, cid).state == State.WAITING
    # Both let it go recently: nobody is offered it again until the cool-down passes.
    with database.transaction() as s:
        assert queue.route(s, cfg, now=at(40)) == []
    with database.transaction() as s:
        (offer,) = queue.route(s, cfg, now=at(40 + cfg.reoffer_cooldown))
    assert offer.contact_id == cid


def test_claim_refusals(database: Database, cfg: QueueSettings) -> None:
    cid = _enqueue(database, cfg)
    ana = make_operator(database, "ana")
    ben = make_operator(database, "ben", presence="break")
    with database.transaction() as s, pytest.raises(OperatorUnavailable):
        queue.claim(s, cid, ben)
    with database.transaction() as s, pytest.raises(ContactNotFound):
        queue.claim(s, 999_999, ana)
    with database.transaction() as s:
        queue.claim(s, cid, ana)
    with database.transaction() as s, pytest.raises(AlreadyAccepted):
        queue.claim(s, cid, ana)
    cas = make_operator(database, "cas")
    with database.transaction() as s, pytest.raises(ContactUnavailable):
        queue.claim(s, cid, cas)
    second = _enqueue(database, cfg)
    with database.transaction() as s, pytest.raises(AtCapacity):
        queue.claim(s, second, ana)


def test_offer_reserved_for_one_operator_cannot_be_picked_by_another(
    database: Database, cfg: QueueSettings
) -> None:
    cid = _enqueue(database, cfg)
    ana = make_operator(database, "ana")
    with database.transaction() as s:
        queue.route(s, cfg)
    ben = make_operator(database, "ben")
    with database.transaction() as s, pytest.raises(ContactUnavailable):
        queue.claim(s, cid, ben)
    with database.transaction() as s:
        assert queue.claim(s, cid, ana).operator_id == ana


def test_chats_up_to_the_limit_and_never_beside_a_call(
    database: Database, cfg: QueueSettings
) -> None:
    ana = make_operator(database, "ana", max_chats=2)
    chats = [_enqueue(database, cfg, channel="chat") for _ in range(3)]
    call = _enqueue(database, cfg, channel="voice")
    with database.transaction() as s:
        queue.claim(s, chats[0], ana)
        queue.claim(s, chats[1], ana)
    with database.transaction() as s, pytest.raises(AtCapacity):
        queue.claim(s, chats[2], ana)
    with database.transaction() as s, pytest.raises(AtCapacity):
        queue.claim(s, call, ana)


def test_illegal_transitions_raise_named_errors(database: Database, cfg: QueueSettings) -> None:
    cid = _enqueue(database, cfg)
    ana = make_operator(database, "ana")
    with database.transaction() as s, pytest.raises(NotYourContact):
        queue.start_wrap_up(s, cid, ana)
    with database.transaction() as s:
        queue.claim(s, cid, ana)
    with database.transaction() as s, pytest.raises(IllegalTransition):
        queue.abandon(s, cid)
    with database.transaction() as s:
        queue.start_wrap_up(s, cid, ana)
    with database.transaction() as s, pytest.raises(IllegalTransition):
        queue.start_wrap_up(s, cid, ana)
    assert _state(database, cid).state == State.WRAP_UP


def test_presence_follows_load_and_break_is_kept(database: Database, cfg: QueueSettings) -> None:
    ana = make_operator(database, "ana")
    cid = _enqueue(database, cfg)
    with database.transaction() as s:
        queue.claim(s, cid, ana)
        assert operators.get_operator(s, ana).presence == "busy"
        queue.start_wrap_up(s, cid, ana)
        assert operators.get_operator(s, ana).presence == "wrap_up"
        op = operators.get_operator(s, ana)
        with pytest.raises(ValidationFailed):
            operators.choose_presence(s, op, "busy")
    taxonomy = outcomes.load_outcome_taxonomy(cfg_path())
    with database.transaction() as s:
        outcomes.wrap_up(s, cid, ana, code="silent", taxonomy=taxonomy)
        assert operators.get_operator(s, ana).presence == "available"


@pytest.mark.parametrize("presence", ["break", "offline"])
def test_break_or_offline_withdraws_a_pending_offer_at_once(
    database: Database, cfg: QueueSettings, sent_events: list[events.Event], presence: str
) -> None:
    cid = _enqueue(database, cfg)
    _enqueue(database, cfg, language="fr", now=at(1))  # offered to ben, and stays his
    ana = make_operator(database, "ana", languages=["nl"])
    ben = make_operator(database, "ben", languages=["fr"])
    with database.transaction() as s:
        offers = queue.route(s, cfg, now=at(2))
    held = {o.operator_id: o.contact_id for o in offers}
    assert held[ana] == cid
    sent_events.clear()
    with database.transaction() as s:
        operators.choose_presence(s, operators.get_operator(s, ana), presence, now=at(5))
        # Nothing is sent before the commit.
        assert sent_events == []
    contact = _state(database, cid)
    assert (contact.state, contact.offered_to_id, contact.offer_expires_at) == (
        State.WAITING,
        None,
        None,
    )
    with database.transaction(write=False) as s:
        offer_states = dict(s.execute(select(queue.Offer.operator_id, queue.Offer.state)).all())
        last = s.scalars(
            select(ContactTransition)
            .where(ContactTransition.contact_id == cid)
            .order_by(ContactTransition.id.desc())
        ).first()
    assert offer_states == {ana: "rescinded", ben: "pending"}
    assert last is not None
    assert (last.from_state, last.to_state, last.reason) == ("offered", "waiting", "rescinded")
    by_type = {(e.type, e.room): e.payload for e in sent_events}
    ended = by_type[("offer.ended", events.operator_room(ana))]
    assert (ended["contact_id"], ended["state"]) == (cid, "rescinded")
    assert by_type[("contact.updated", events.ROOM_STAFF)]["state"] == "waiting"
    assert by_type[("operator.presence", events.ROOM_STAFF)]["presence"] == presence
    # The operator can no longer take it; a colleague is offered it at once, with no cool-down.
    with database.transaction() as s, pytest.raises(OperatorUnavailable):
        queue.claim(s, cid, ana, now=at(6))
    cas = make_operator(database, "cas", languages=["nl"])
    with database.transaction() as s:
        (offer,) = queue.route(s, cfg, now=at(7))
    assert (offer.contact_id, offer.operator_id) == (cid, cas)


def test_transfer_makes_a_front_of_queue_leg_for_the_named_colleague(
    database: Database, cfg: QueueSettings
) -> None:
    ana = make_operator(database, "ana")
    ben = make_operator(database, "ben")
    cid = _enqueue(database, cfg)
    _enqueue(database, cfg, now=at(1))
    with database.transaction() as s:
        queue.claim(s, cid, ana)
        successor = queue.transfer(s, cid, ana, cfg, to_operator_id=ben)
        new_id = successor.id
    assert _state(database, cid).state == State.TRANSFERRED
    leg = _state(database, new_id)
    assert (leg.parent_id, leg.priority, leg.enqueued_at) == (cid, cfg.priority["transfer"], T0)
    with database.transaction() as s:
        offers = queue.route(s, cfg)
    assert (new_id, ben) in [(o.contact_id, o.operator_id) for o in offers]


def test_abandon_while_waiting_keeps_wait_time(database: Database, cfg: QueueSettings) -> None:
    cid = _enqueue(database, cfg)
    with database.transaction() as s:
        queue.abandon(s, cid, now=at(42))
    contact = _state(database, cid)
    assert contact.state == State.ABANDONED
    assert contact.wait_seconds == 42


def test_wrap_up_refuses_unknown_code_and_keeps_contact_open(
    database: Database, cfg: QueueSettings
) -> None:
    ana = make_operator(database, "ana")
    cid = _enqueue(database, cfg)
    taxonomy = outcomes.load_outcome_taxonomy(cfg_path())
    with database.transaction() as s:
        queue.claim(s, cid, ana)
    with database.transaction() as s, pytest.raises(ValidationFailed):
        outcomes.wrap_up(s, cid, ana, code="nonsense", taxonomy=taxonomy)
    assert _state(database, cid).state == State.ACTIVE


def test_events_are_sent_only_after_commit(
    database: Database, cfg: QueueSettings, sent_events: list
) -> None:  # type: ignore[type-arg]
    s = database.write()
    queue.enqueue(s, channel="chat", language="en", cfg=cfg)
    assert sent_events == []
    s.rollback()
    s.close()
    assert sent_events == []
    _enqueue(database, cfg)
    assert [e.type for e in sent_events] == ["contact.queued"]


def test_utc_columns_refuse_naive_datetimes(database: Database, cfg: QueueSettings) -> None:
    with pytest.raises(Exception, match="naive"), database.transaction() as s:
        queue.enqueue(s, channel="voice", language="nl", cfg=cfg, now=dt.datetime(2026, 1, 1))
    assert utcnow().tzinfo is dt.UTC


def test_an_offer_racing_an_accept_waits_for_it_and_finds_the_contact_taken(
    database: Database, cfg: QueueSettings
) -> None:
    """PostgreSQL reads each statement's latest commits, so an accept locks the contact's row from
    its first read: a routing pass that offers the contact meanwhile waits, then changes nothing,
    and the accept's log says it was taken from waiting."""
    if database.is_sqlite:
        pytest.skip("SQLite's write lock, taken at BEGIN, admits no other writer meanwhile")
    import threading
    import time

    from sqlalchemy import event, select, text

    ana = make_operator(database, "ana", languages=["nl"])
    contact_id = _enqueue(database, cfg)
    offered: list[int] = []

    def offer() -> None:
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as other:
            other.execute(text("SET lock_timeout = '10s'"))
            result = other.execute(
                text(
                    "UPDATE contacts SET state = 'offered', offered_to_id = :op "
                    "WHERE id = :id AND state = 'waiting'"
                ),
                {"op": ana, "id": contact_id},
            )
            offered.append(result.rowcount)

    racer = threading.Thread(target=offer)

    def offer_meanwhile(conn, cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if (
            not racer.is_alive()
            and not offered
            # the taking UPDATE; on PostgreSQL it leads a WITH that records the transition too
            and statement.lstrip().startswith(("UPDATE contacts", "WITH taken"))
        ):
            racer.start()
            time.sleep(0.3)  # the offer reaches the row lock and waits there

    event.listen(database.write_engine, "before_cursor_execute", offer_meanwhile)
    try:
        with database.transaction() as session:
            queue.claim(session, contact_id, ana, now=at(5))
    finally:
        event.remove(database.write_engine, "before_cursor_execute", offer_meanwhile)
    racer.join(timeout=15)
    assert offered == [0]
    contact = _state(database, contact_id)
    assert (contact.state, contact.operator_id, contact.offered_to_id) == (State.ACTIVE, ana, None)
    with database.transaction(write=False) as session:
        last = session.scalars(
            select(ContactTransition)
            .where(ContactTransition.contact_id == contact_id)
            .order_by(ContactTransition.id.desc())
        ).first()
    assert last is not None
    assert (last.from_state, last.to_state) == ("waiting", "active")


def test_a_tick_is_due_only_when_it_has_something_to_write(
    database: Database, cfg: QueueSettings
) -> None:
    def due(seconds: float) -> bool:
        with database.transaction(write=False) as s:
            return queue.routing_due(s, cfg, now=at(seconds))

    assert not due(0), "an empty queue"
    cid = _enqueue(database, cfg)
    make_operator(database, "bea", presence="break")
    assert not due(1), "a contact waits, but nobody takes contacts"
    ana = make_operator(database, "ana")
    assert due(1), "a contact waits and ana has room"
    with database.transaction() as s:
        (offer,) = queue.route(s, cfg, now=at(1))
    assert (offer.contact_id, offer.operator_id) == (cid, ana)
    assert not due(2), "offered, and nothing else waits"
    assert due(1 + cfg.reservation_timeout), "the offer has lapsed"


def test_a_tick_is_due_when_a_contact_waited_long_enough_to_overflow(
    database: Database, cfg: QueueSettings
) -> None:
    _enqueue(database, cfg, language="ar")
    make_operator(database, "ana", languages=["nl"], presence="break")
    with database.transaction(write=False) as s:
        assert not queue.routing_due(s, cfg, now=at(cfg.language_overflow_after - 1))
        assert queue.routing_due(s, cfg, now=at(cfg.language_overflow_after))


def test_with_every_operator_on_a_call_a_waiting_contact_is_no_work(
    database: Database, cfg: QueueSettings
) -> None:
    for name in ("ana", "ben"):
        op = make_operator(database, name)
        with database.transaction() as s:
            queue.claim(s, _enqueue(database, cfg), op, now=at(1))
    _enqueue(database, cfg, channel="chat")
    with database.transaction(write=False) as s:
        assert not queue.routing_due(s, cfg, now=at(2))
