"""The demo's chat visitors: someone behind each demo chat, who answers the operator."""

from __future__ import annotations

import datetime as dt
import random

from flask import Flask
from sqlalchemy import select

from chat.demo import LINES, TURNS, DemoVisitors
from chat.models import Conversation, Message
from console.db import Database, utcnow
from console.domain.contacts import Contact
from tests.chat.conftest import Operator


def _contact_ids(database: Database) -> list[int]:
    with database.transaction(write=False) as session:
        return list(session.scalars(select(Contact.id).where(Contact.channel == "chat")))


def test_a_demo_visitor_writes_once_accepted_answers_the_operator_and_leaves(
    app: Flask, database: Database
) -> None:
    ana = Operator(app, database, "ana", languages=["nl", "fr", "en", "ar"])
    visitors = DemoVisitors(app.extensions["chat"], rng=random.Random(7))
    now = utcnow()
    visitors.step(now)
    (contact_id,) = _contact_ids(database)
    (visitor,) = visitors.visitors.values()
    openers, replies, goodbye = LINES[visitor.language]

    visitors.step(now + dt.timedelta(seconds=10))
    with database.transaction(write=False) as session:
        assert session.scalars(select(Message)).all() == []  # nobody has the chat yet

    ana.accept(contact_id)
    for seconds in (11, 20):  # noticed, then written a few seconds later
        visitors.step(now + dt.timedelta(seconds=seconds))
    texts = [m["text"] for m in ana.get(f"/api/chat/contacts/{contact_id}")["messages"]]
    assert len(texts) == 1
    assert texts[0] in openers

    later = 20
    for turn in range(TURNS):
        ana.send(contact_id, "Ik luister. Vertel maar.", f"op-{turn}")
        for step in (1, 10):
            visitors.step(now + dt.timedelta(seconds=later + step))
        later += 10
    messages = ana.get(f"/api/chat/contacts/{contact_id}")["messages"]
    said = [m["text"] for m in messages if m["sender"] == "visitor"]
    assert said[1:] == [*replies[: TURNS - 1], goodbye]
    with database.transaction(write=False) as session:
        assert session.get_one(Conversation, visitor.conversation_id).status == "left"
    assert visitor.conversation_id not in visitors.visitors  # done; a next visitor is a new one
