"""The visitor's wait estimate: never quicker than the pace at which the line has answered."""

from __future__ import annotations

import datetime as dt

from chat.waiting import Capacity, answers_per_minute, estimate_seconds
from console.db import Database, utcnow
from console.domain import queue
from console.settings import Settings


def test_a_free_place_means_half_a_minute() -> None:
    assert estimate_seconds(2, Capacity(slots=6, busy=3, handle_seconds=600)) == 30


def test_the_slower_of_capacity_and_pace_is_told() -> None:
    # Nine chat places and ten-minute chats: twelve ahead looks like 12-0 places x 67 s = 14 min.
    cap = Capacity(slots=9, busy=9, handle_seconds=600)
    by_capacity = estimate_seconds(12, cap)
    assert by_capacity == 810
    # But the line answered only one contact a minute lately: twelve ahead is twelve minutes
    # at least, and fourteen is the slower.
    assert estimate_seconds(12, cap, pace=1.0) == 810
    # Calls hold those operators too: half a contact a minute makes it twenty-four.
    assert estimate_seconds(12, cap, pace=0.5) == 24 * 60
    # With no answer lately, there is no pace to go by.
    assert estimate_seconds(12, cap, pace=None) == by_capacity


def test_the_pace_counts_answers_of_every_channel_in_the_last_half_hour(
    database: Database, settings: Settings
) -> None:
    from tests.support import make_operator

    operators = [make_operator(database, name, languages=["nl"]) for name in ("ana", "ben", "cas")]
    with database.transaction() as s:
        assert answers_per_minute(s) is None
        for operator_id, channel in zip(operators, ("voice", "chat", "chat"), strict=True):
            contact = queue.enqueue(s, channel=channel, language="nl", cfg=settings.queue)
            queue.claim(s, contact.id, operator_id)
    with database.transaction(write=False) as s:
        assert answers_per_minute(s) == 3 / 30
        assert answers_per_minute(s, now=utcnow() + dt.timedelta(minutes=31)) is None
