"""Domain hooks: channels and features react to queue moves without the queue importing them.

Handlers run inside the transaction that made the move (so they may write rows that must commit
with it). Work with effects outside the database — a Twilio REST call, a job — goes through
`after_commit`, which runs only once the transaction has committed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Literal

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from console.domain.contacts import Contact

# accepted: an operator took the contact; ended: it reached wrap_up; final: closed, abandoned or
# transferred (the contact's row is final and can be counted); requeued: it went back to waiting.
Moment = Literal["accepted", "ended", "final", "requeued"]
Handler = Callable[[Session, Contact], None]

_handlers: dict[str, list[Handler]] = defaultdict(list)


def on(moment: Moment, handler: Handler) -> None:
    if handler not in _handlers[moment]:
        _handlers[moment].append(handler)


def off(moment: Moment, handler: Handler) -> None:
    if handler in _handlers[moment]:
        _handlers[moment].remove(handler)


def fire(session: Session, moment: Moment, contact: Contact) -> None:
    for handler in list(_handlers[moment]):
        handler(session, contact)


def after_commit(session: Session, work: Callable[[], None]) -> None:
    """Run `work` once this session's transaction commits; never if it rolls back."""
    session.info.setdefault("after_commit", []).append(work)


@sa_event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for work in session.info.pop("after_commit", []):
        work()


@sa_event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop("after_commit", None)
