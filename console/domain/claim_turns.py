"""Contenders for one contact in this process take turns: the first goes to the database, the rest
wait for its transaction to end.

Several operators take the same contact at once whenever they pick from a shared queue (or one
clicks twice). All but one lose, yet each loser would still open a transaction, read the contact
and roll back, queued behind the winner's lock and each other, so the last of them heard "taken"
only after everyone else's round trips. Here the others wait for the first one instead: if it
committed the claim they lose at once, without a statement; if it did not (its operator could not
take it, or it rolled back) they go on, the next of them first.

Nothing here decides a race. The claim's conditional UPDATE does, for the first of each turn and
for contenders in other processes. A contender only waits while its session holds no transaction,
so it holds no lock the one it waits for could need, and never longer than `WAIT`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from console.domain.errors import AlreadyAccepted, ContactUnavailable

# Seconds a contender waits for the one ahead; after that it goes to the database itself, where
# the contact's lock orders it as before. A claim's transaction takes milliseconds.
WAIT = 2.0

_IN_SESSION = "helpline.claim_turns"


@dataclass(eq=False)
class Turn:
    """One contender's go at a contact; the others in this process wait for `over`."""

    contact_id: int
    operator_id: int
    deadline: float
    over: threading.Event = field(default_factory=threading.Event)
    claimed: bool = False  # the claim's UPDATE took the contact in this turn's transaction
    won: bool = False  # ... and that transaction committed


_turns: dict[int, Turn] = {}
_guard = threading.Lock()


def take_turn(session: Session, contact_id: int, operator_id: int) -> Turn | None:
    """Wait while another claim of this contact here is under way; None: go on without a turn.

    Raises `ContactUnavailable` (or `AlreadyAccepted`, to the operator who has it) when the claim
    waited for committed.
    """
    if session.in_transaction():
        return None  # it may hold locks the turn ahead needs: the database orders it instead
    while True:
        now = time.monotonic()
        with _guard:
            ahead = _turns.get(contact_id)
            if ahead is None or ahead.deadline <= now:  # free, or held past all waiting
                turn = Turn(contact_id, operator_id, now + WAIT)
                _turns[contact_id] = turn
                return turn
        if not ahead.over.wait(ahead.deadline - now):
            return None  # the turn ahead is slow: go to the database, which orders the two
        if ahead.won:
            if ahead.operator_id == operator_id:
                raise AlreadyAccepted("You have already accepted this contact.")
            raise ContactUnavailable("Another operator has this contact.")


def claimed(session: Session, turn: Turn | None) -> None:
    """The claim took the contact: its turn ends with the transaction, won if that commits."""
    if turn is None:
        return
    turn.claimed = True
    session.info.setdefault(_IN_SESSION, []).append(turn)


def end(turn: Turn | None) -> None:
    """Let the contenders waiting for `turn` go on."""
    if turn is None:
        return
    with _guard:
        if _turns.get(turn.contact_id) is turn:
            del _turns[turn.contact_id]
    turn.over.set()


@sa_event.listens_for(Session, "after_commit")
def _won(session: Session) -> None:
    for turn in session.info.get(_IN_SESSION, ()):
        turn.won = turn.claimed


@sa_event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction, not a savepoint
        for turn in session.info.pop(_IN_SESSION, ()):
            end(turn)
