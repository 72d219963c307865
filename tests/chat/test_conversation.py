"""A chat over the real Socket.IO handlers and HTTP API: start, queue, accept, talk, end, resume."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from chat.models import Conversation, Message
from console.db import Database
from console.domain import crypto
from console.domain.contacts import Contact
from console.domain.events import Event
from tests.chat.conftest import Operator, Visitor, chat_contact_id


def test_a_visitor_starts_waits_and_talks_with_the_operator_who_accepts(
    app: Flask, database: Database, sent_events: list[Event]
) -> None:
    visitor = Visitor(app)
    answer = visitor.start(language="fr", topic="domestic_violence")
    assert answer["status"] == "waiting"
    assert answer["queue"]["position"] == 1
    assert answer["queue"]["estimated_wait_seconds"] >= 0
    contact_id = chat_contact_id(database, answer["token"])
    with database.transaction(write=False) as s:
        contact = s.get_one(Contact, contact_id)
        assert (contact.channel, contact.language, contact.topic) == (
            "chat",
            "fr",
            "domestic_violence",
        )

    # Written while waiting: stored, and the operator reads it once they accept.
    early = visitor.say("Bonjour, je suis là", "c1")
    assert early["ok"]
    assert early["seq"] == 1

    ana = Operator(app, database, "ana")
    ana.accept(contact_id)
    assert visitor.wait_for("chat.widget.status", lambda p: p["status"] == "active")
    state = ana.get(f"/api/chat/contacts/{contact_id}")
    assert [m["text"] for m in state["messages"]] == ["Bonjour, je suis là"]
    assert state["visitor"] == "online"

    sent = ana.send(contact_id, "Bonjour, je vous écoute.", "op-1")
    assert sent["seq"] == 2
    heard = visitor.wait_for("chat.widget.message", lambda p: p["seq"] == 2)
    assert heard["text"] == "Bonjour, je vous écoute."
    assert heard["sender"] == "operator"

    reply = visitor.say("Merci", "c2")
    assert reply["ok"]
    assert reply["seq"] == 3
    got = ana.wait_for("chat.message", lambda p: p["seq"] == 3)
    assert got == {
        "contact_id": contact_id,
        "seq": 3,
        "sender": "visitor",
        "text": "Merci",
        "at": got["at"],
        "client_id": "c2",
    }

    # Delivery marks both ways.
    assert visitor.emit("delivered", {"seqs": [2]})["seqs"] == [2]
    assert ana.wait_for("chat.delivered")["seqs"] == [2]
    assert ana.ok(f"/api/chat/contacts/{contact_id}/delivered", {"seqs": [1, 3]})["seqs"] == [1, 3]
    assert visitor.wait_for("chat.widget.delivered")["seqs"] == [1, 3]

    # Typing both ways.
    assert visitor.emit("typing", {"typing": True})["ok"]
    assert ana.wait_for("chat.typing") == {"contact_id": contact_id, "typing": True}
    ana.ok(f"/api/chat/contacts/{contact_id}/typing", {"typing": True})
    assert visitor.wait_for("chat.widget.typing") == {"typing": True}

    # Messages are stored before they are acknowledged, and never in the clear.
    with database.transaction(write=False) as s:
        rows = s.scalars(select(Message).order_by(Message.seq)).all()
        assert [r.seq for r in rows] == [1, 2, 3]
        assert all("Merci" not in r.body and "Bonjour" not in r.body for r in rows)
        assert crypto.decrypt(rows[2].body) == "Merci"

    # Staff-wide rooms never carry message text.
    for event in sent_events:
        if event.room in ("staff", "leads"):
            assert "Merci" not in str(event.payload)
            assert "Bonjour" not in str(event.payload)


def test_a_resent_message_is_stored_once(app: Flask, database: Database) -> None:
    visitor = Visitor(app)
    visitor.start()
    first = visitor.say("only once", "same-id")
    again = visitor.say("only once", "same-id")
    assert first["seq"] == again["seq"] == 1
    with database.transaction(write=False) as s:
        assert len(s.scalars(select(Message)).all()) == 1


def test_a_reconnecting_visitor_resumes_the_same_conversation(
    app: Flask, database: Database
) -> None:
    visitor = Visitor(app)
    token = visitor.start()["token"]
    contact_id = chat_contact_id(database, token)
    ana = Operator(app, database, "ana")
    ana.accept(contact_id)
    visitor.say("first", "v1")
    ana.send(contact_id, "second", "o1")
    visitor.disconnect()
    assert ana.wait_for("chat.visitor") == {"contact_id": contact_id, "status": "away"}

    again = Visitor(app)
    answer = again.emit("resume", {"token": token})
    assert answer["ok"]
    assert answer["status"] == "active"
    assert [(m["seq"], m["text"]) for m in answer["messages"]] == [(1, "first"), (2, "second")]
    assert ana.wait_for("chat.visitor", lambda p: p["status"] == "online")
    assert again.say("third", "v2")["seq"] == 3

    # A forged or spent token resumes nothing.
    stranger = Visitor(app)
    assert stranger.emit("resume", {"token": "x" * 43})["error"] == "expired"
    assert stranger.say("hello", "s1")["error"] == "chat_ended"


def test_the_operator_ends_and_wraps_up_and_the_transcript_is_deleted(
    app: Flask, database: Database
) -> None:
    visitor = Visitor(app)
    token = visitor.start()["token"]
    contact_id = chat_contact_id(database, token)
    ana = Operator(app, database, "ana")
    ana.accept(contact_id)
    visitor.say("something private", "v1")
    ana.ok(f"/api/contacts/{contact_id}/end")
    ended = visitor.wait_for("chat.widget.status", lambda p: p["status"] == "ended")
    assert ended["survey"] is True
    assert visitor.say("too late", "v2")["error"] == "chat_ended"
    response = ana.post(
        f"/api/chat/contacts/{contact_id}/messages", {"text": "x", "client_id": "o"}
    )
    assert response.status_code == 409

    ana.wrap_up(contact_id)
    assert visitor.wait_for("chat.widget.status", lambda p: p["status"] == "closed")
    with database.transaction(write=False) as s:
        assert s.scalars(select(Message)).all() == []
        conversation = s.scalars(select(Conversation)).one()
        assert conversation.status == "closed"
        assert conversation.pseudonym is None
        assert conversation.visitor_sid is None
    assert Visitor(app).emit("resume", {"token": token})["error"] == "expired"


def test_too_long_or_empty_messages_are_refused(app: Flask, database: Database) -> None:
    visitor = Visitor(app)
    visitor.start()
    limit = app.extensions["chat"].chat.max_message_length
    assert visitor.say("x" * (limit + 1), "long")["error"] == "validation_failed"
    assert visitor.say("   ", "blank")["error"] == "validation_failed"
    assert visitor.say("ok", "bad id with spaces")["error"] == "validation_failed"
    assert visitor.say("x" * limit, "exact")["ok"]


def test_an_operator_cannot_touch_a_colleagues_chat(app: Flask, database: Database) -> None:
    visitor = Visitor(app)
    contact_id = chat_contact_id(database, visitor.start()["token"])
    ana = Operator(app, database, "ana")
    ben = Operator(app, database, "ben")
    ana.accept(contact_id)
    assert ben.http.get(f"/api/chat/contacts/{contact_id}").status_code == 403
    response = ben.post(
        f"/api/chat/contacts/{contact_id}/messages", {"text": "hi", "client_id": "b"}
    )
    assert response.status_code == 403
    assert response.get_json()["error"] == "not_your_contact"
    # Nor does a colleague's console hear the chat.
    ana.send(contact_id, "hello", "a1")
    visitor.wait_for("chat.widget.message")
    assert not [e for e in ben.drain() if e["name"].startswith("chat.")]


def test_malformed_visitor_payloads_get_a_named_error_not_an_internal_one(
    app: Flask, database: Database
) -> None:
    visitor = Visitor(app)
    token = visitor.start()["token"]
    contact_id = chat_contact_id(database, token)
    Operator(app, database, "ana").accept(contact_id)
    assert visitor.say("\ud800", "lone")["error"] == "validation_failed"
    for seqs in ([True], [-1], [2**40], ["1"]):
        assert visitor.emit("delivered", {"seqs": seqs})["error"] == "validation_failed", seqs
    assert visitor.emit("resume", {"token": "\ud800" * 30})["error"] == "expired"
    assert visitor.emit("leave")["survey"] is True
    for answer in ([], {"a": 1}, 3):
        reply = visitor.emit("survey", {"answers": {"helped": answer}})
        assert reply["error"] == "validation_failed", answer
    with database.transaction(write=False) as s:
        assert s.scalars(select(Message.seq)).all() == []  # nothing was stored


def test_erasing_the_case_erases_its_chat_at_once(app: Flask, database: Database) -> None:
    """A data-subject erasure does not wait for the transcript's retention."""
    import dataclasses
    import datetime as dt

    from console.domain import retention
    from tests.support import make_operator

    rt = app.extensions["chat"]
    rt.chat = dataclasses.replace(rt.chat, retention_days=30)  # the line keeps transcripts
    visitor = Visitor(app)
    token = visitor.start()["token"]
    contact_id = chat_contact_id(database, token)
    ana = Operator(app, database, "ana")
    ana.accept(contact_id)
    assert visitor.say("He took my phone", "v1")["ok"]
    ana.send(contact_id, "You are safe to talk here.", "o1")
    ana.ok(f"/api/contacts/{contact_id}/end")
    ana.wrap_up(contact_id)
    adam = make_operator(database, "adam", role="admin")
    with database.transaction() as s:
        ref = s.get_one(Contact, contact_id).ref
        assert s.scalars(select(Message.seq)).all() != []  # before the hourly purge
        counts = retention.erase_case(s, ref, actor_id=adam, now=dt.datetime.now(dt.UTC))
    assert counts["channel_data"] == 2
    with database.transaction(write=False) as s:
        assert s.scalars(select(Message.seq)).all() == []
        assert s.scalars(select(Conversation.id)).all() == []
