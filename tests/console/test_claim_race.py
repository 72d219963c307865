"""Exactly once: many operators racing to claim the same contacts, in threads and in two processes.

Every contact must go to exactly one operator, and no claim may be lost (each contact is claimed).
"""

from __future__ import annotations

import multiprocessing
import random
import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from console.db import Database
from console.domain import queue
from console.domain.contacts import Contact, ContactTransition
from console.domain.errors import DomainError
from console.settings import Settings
from tests.support import make_operator

CONTACTS = 60


def _race(
    url: str,
    operator_ids: list[int],
    contact_ids: list[int],
    seed: int,
    ready: Any = None,
    in_transaction: bool = False,
) -> list[tuple[int, int]]:
    """Each operator tries every contact, in its own order; returns the (contact, operator) wins.

    `ready`, a barrier shared with another process, holds the start until both are connected:
    a claim takes about a millisecond, so one process could otherwise take every contact while
    the other is still starting up. `in_transaction`: each claim's session has begun already, so
    contenders in this process do not take turns (claim_turns) and the database decides them all."""
    database = Database(url)
    if ready is not None:
        with database.transaction(write=False) as session:
            session.execute(select(Contact.id).limit(1))
        ready.wait(timeout=60)
    wins: list[tuple[int, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(operator_ids))

    def operator(op_id: int) -> None:
        order = contact_ids[:]
        random.Random(seed + op_id).shuffle(order)
        barrier.wait()
        for contact_id in order:
            try:
                with database.transaction() as session:
                    if in_transaction:
                        session.connection()
                    queue.claim(session, contact_id, op_id)
            except DomainError:
                continue  # someone else has it: the expected outcome for all but one
            with lock:
                wins.append((contact_id, op_id))

    threads = [threading.Thread(target=operator, args=(op,)) for op in operator_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    database.dispose()
    return wins


def _process_race(
    url: str,
    operator_ids: list[int],
    contact_ids: list[int],
    seed: int,
    out: multiprocessing.Queue,  # type: ignore[type-arg]
    ready: Any,
) -> None:
    out.put(_race(url, operator_ids, contact_ids, seed, ready))


def _setup(
    database: Database, settings: Settings, operators: int, count: int = CONTACTS
) -> tuple[list[int], list[int]]:
    ops = [make_operator(database, f"op{i}", max_chats=count) for i in range(operators)]
    with database.transaction() as s:
        contacts = [
            queue.enqueue(s, channel="chat", language="nl", cfg=settings.queue).id
            for _ in range(count)
        ]
    return ops, contacts


def _assert_exactly_once(
    database: Database, wins: list[tuple[int, int]], contacts: list[int]
) -> None:
    per_contact = Counter(contact_id for contact_id, _ in wins)
    assert sorted(per_contact) == sorted(contacts), "a claim was lost"
    assert set(per_contact.values()) == {1}, "a contact went to two operators"
    with database.transaction(write=False) as s:
        rows = {c.id: c.operator_id for c in s.scalars(select(Contact))}
        accepted = Counter(
            t.contact_id
            for t in s.scalars(
                select(ContactTransition).where(ContactTransition.to_state == "active")
            )
        )
    assert rows == dict(wins)
    assert set(accepted.values()) == {1}


@pytest.mark.slow
@pytest.mark.parametrize("in_transaction", [False, True], ids=["taking-turns", "database-alone"])
def test_threads_claim_each_contact_exactly_once(
    database: Database, settings: Settings, in_transaction: bool
) -> None:
    ops, contacts = _setup(database, settings, operators=8)
    wins = _race(database.url, ops, contacts, seed=1, in_transaction=in_transaction)
    _assert_exactly_once(database, wins, contacts)


@pytest.mark.slow
def test_two_processes_claim_each_contact_exactly_once(
    database: Database, settings: Settings
) -> None:
    # Enough contacts that the race outlasts a process's start: a claim takes a millisecond or two.
    ops, contacts = _setup(database, settings, operators=8, count=8 * CONTACTS)
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    halves = [ops[:4], ops[4:]]
    ready = ctx.Barrier(len(halves))
    procs = [
        ctx.Process(target=_process_race, args=(database.url, half, contacts, i, out, ready))
        for i, half in enumerate(halves)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    wins = [w for result in results for w in result]
    assert {op for _, op in wins} & set(halves[0]), "process A won nothing: no race happened"
    assert {op for _, op in wins} & set(halves[1]), "process B won nothing: no race happened"
    _assert_exactly_once(database, wins, contacts)
