"""Contenders for one contact in one process take turns (console.domain.claim_turns)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from console.db import Database
from console.domain import claim_turns, queue
from console.domain.contacts import Contact, State
from console.domain.errors import AlreadyAccepted, ContactUnavailable, DomainError
from console.settings import Settings
from tests.support import make_operator


class Contender(threading.Thread):
    """Claims `contact_id` as `operator_id` in a session of its own; keeps what came of it."""

    def __init__(self, database: Database, contact_id: int, operator_id: int) -> None:
        super().__init__(daemon=True)
        self.database, self.contact_id, self.operator_id = database, contact_id, operator_id
        self.outcome: Contact | DomainError | None = None

    def run(self) -> None:
        try:
            with self.database.transaction() as session:
                self.outcome = queue.claim(session, self.contact_id, self.operator_id)
        except DomainError as exc:
            self.outcome = exc

    def finish(self) -> Contact | DomainError | None:
        self.join(timeout=10)
        assert not self.is_alive(), "the contender never finished"
        return self.outcome


@pytest.fixture
def statements(database: Database) -> Iterator[dict[int, int]]:
    """Statements sent to the database, by the thread that sent them."""
    counts: dict[int, int] = {}

    def count(*_args: Any) -> None:
        ident = threading.get_ident()
        counts[ident] = counts.get(ident, 0) + 1

    event.listen(database.write_engine, "before_cursor_execute", count)
    yield counts
    event.remove(database.write_engine, "before_cursor_execute", count)


@pytest.fixture
def contact(database: Database, settings: Settings) -> int:
    with database.transaction() as s:
        return queue.enqueue(s, channel="chat", language="nl", cfg=settings.queue).id


def _waiting(contender: Contender) -> bool:
    contender.join(timeout=0.3)
    return contender.is_alive()


def _first_claims(database: Database, contact_id: int, operator_id: int) -> Session:
    """The first contender: it has claimed, and its transaction is still open."""
    first = database.write()
    queue.claim(first, contact_id, operator_id)
    return first


def _holder(database: Database, contact_id: int) -> int | None:
    with database.transaction(write=False) as s:
        return s.scalar(select(Contact.operator_id).where(Contact.id == contact_id))


def test_contenders_wait_for_the_first_and_lose_without_a_statement(
    database: Database, contact: int, statements: dict[int, int]
) -> None:
    ana, ben, cas = (make_operator(database, name) for name in ("ana", "ben", "cas"))
    first = _first_claims(database, contact, ana)
    others = [Contender(database, contact, op) for op in (ben, cas)]
    for other in others:
        other.start()
    assert all(_waiting(other) for other in others), "a contender did not wait for the first"
    first.commit()
    first.close()
    for other in others:
        outcome = other.finish()
        assert isinstance(outcome, ContactUnavailable)
        assert str(outcome) == "Another operator has this contact."
        assert statements.get(other.ident or 0, 0) == 0, "a contender behind a winner queried"
    assert _holder(database, contact) == ana
    assert claim_turns._turns == {}


def test_a_second_click_by_the_winner_is_told_it_already_has_the_contact(
    database: Database, contact: int
) -> None:
    ana = make_operator(database, "ana")
    first = _first_claims(database, contact, ana)
    again = Contender(database, contact, ana)
    again.start()
    assert _waiting(again)
    first.commit()
    first.close()
    assert isinstance(again.finish(), AlreadyAccepted)


def test_when_the_first_rolls_back_the_next_contender_takes_the_contact(
    database: Database, contact: int
) -> None:
    ana, ben = make_operator(database, "ana"), make_operator(database, "ben")
    first = _first_claims(database, contact, ana)
    other = Contender(database, contact, ben)
    other.start()
    assert _waiting(other)
    first.rollback()
    first.close()
    taken = other.finish()
    assert isinstance(taken, Contact)
    assert taken.state == State.ACTIVE
    assert _holder(database, contact) == ben
    assert claim_turns._turns == {}


def test_when_the_first_cannot_take_it_the_next_contender_goes_on(
    database: Database, contact: int
) -> None:
    ana, ben = make_operator(database, "ana"), make_operator(database, "ben")
    with database.transaction() as s:
        turn = claim_turns.take_turn(s, contact, ana)  # as a claim does, before its checks
    other = Contender(database, contact, ben)
    other.start()
    assert _waiting(other)
    claim_turns.end(turn)  # as a claim does when its checks refuse it
    assert isinstance(other.finish(), Contact)
    assert _holder(database, contact) == ben


def test_a_session_already_in_a_transaction_goes_to_the_database(
    database: Database, contact: int, statements: dict[int, int]
) -> None:
    ana, ben = make_operator(database, "ana"), make_operator(database, "ben")

    class Busy(Contender):
        def run(self) -> None:
            try:
                with self.database.transaction() as session:
                    session.execute(select(Contact.id).limit(1))  # holds a transaction already
                    self.outcome = queue.claim(session, self.contact_id, self.operator_id)
            except DomainError as exc:
                self.outcome = exc

    first = _first_claims(database, contact, ana)
    other = Busy(database, contact, ben)
    other.start()
    other.join(timeout=0.3)  # it waits on the database's lock, not on a turn
    first.commit()
    first.close()
    outcome = other.finish()
    assert isinstance(outcome, ContactUnavailable)
    assert statements.get(other.ident or 0, 0) >= 2, "it did not ask the database"
    assert _holder(database, contact) == ana


def test_a_turn_held_past_the_wait_no_longer_holds_anyone_up(
    database: Database, contact: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claim_turns, "WAIT", 0.2)
    ana, ben = make_operator(database, "ana"), make_operator(database, "ben")
    with database.transaction() as s:
        stuck = claim_turns.take_turn(s, contact, ana)  # never ended: a lost session
    assert stuck is not None
    late = Contender(database, contact, ben)
    late.start()
    assert isinstance(late.finish(), Contact), "the database should have decided"
    assert _holder(database, contact) == ben
    claim_turns.end(stuck)
    assert claim_turns._turns == {}
