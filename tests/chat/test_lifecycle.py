"""Transfers, abandonment, retention and the purge job, the survey, the case reference."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from flask import Flask
from sqlalchemy import select, update

from chat import jobs
from chat.models import Conversation, Message
from console.db import Database, utcnow
from console.domain.contacts import Contact, ContactTransition
from console.domain.outcomes import Outcome
from tests.chat.conftest import Operator, Visitor, chat_contact_id


def test_transfer_back_to_the_queue_and_to_a_colleague_keeps_the_conversation(
    app: Flask, database: Database
) -> None:
    visitor = Visitor(app)
    token = visitor.start()["token"]
    first_leg = chat_contact_id(database, token)
    ana = Operator(app, database, "ana")
    ben = Operator(app, database, "ben")
    ana.accept(first_leg)
    visitor.say("I need help", "v1")

    ana.ok(f"/api/contacts/{first_leg}/transfer", {})
    status = visitor.wait_for("chat.widget.status", lambda p: p["status"] == "waiting")
    assert status["transferred"] is True
    second_leg = chat_contact_id(database, token)
    assert second_leg != first_leg
    assert ana.http.get(f"/api/chat/contacts/{second_leg}").status_code == 403

    ben.accept(second_leg)
    assert visitor.wait_for("chat.widget.status", lambda p: p["status"] == "active")
    assert [m["text"] for m in ben.get(f"/api/chat/contacts/{second_leg}")["messages"]] == [
        "I need help"
    ]
    assert visitor.say("still me", "v2")["seq"] == 2
    assert ben.wait_for("chat.message", lambda p: p["seq"] == 2)["contact_id"] == second_leg

    # Named transfer: only the colleague may take the next leg.
    colleagues = ben.get("/api/chat/colleagues")["colleagues"]
    assert [c["id"] for c in colleagues] == [ana.id]
    ben.ok(f"/api/contacts/{second_leg}/transfer", {"to_operator_id": ana.id})
    third_leg = chat_contact_id(database, token)
    ana.accept(third_leg)
    assert len(ana.get("/api/chat/conversations")["chats"]) == 1
    assert ben.get("/api/chat/conversations")["chats"] == []


def test_a_waiting_visitor_gone_for_the_abandon_time_is_abandoned(
    app: Flask, database: Database
) -> None:
    visitor = Visitor(app)
    contact_id = chat_contact_id(database, visitor.start()["token"])
    visitor.disconnect()
    after = app.extensions["chat"].chat.abandon_after
    assert jobs.sweep_abandoned(now=utcnow() + dt.timedelta(seconds=after / 2)) == 0
    assert jobs.sweep_abandoned(now=utcnow() + dt.timedelta(seconds=after + 1)) == 1
    with database.transaction(write=False) as s:
        assert s.get_one(Contact, contact_id).state == "abandoned"


def test_a_chat_both_sides_left_closes_as_abandoned(app: Flask, database: Database) -> None:
    visitor = Visitor(app)
    contact_id = chat_contact_id(database, visitor.start()["token"])
    ana = Operator(app, database, "ana")
    ana.accept(contact_id)
    visitor.say("hello", "v1")
    visitor.disconnect()
    after = app.extensions["chat"].chat.abandon_after
    later = utcnow() + dt.timedelta(seconds=after + 1)

    # The operator's console is still there (its heartbeat): nothing closes.
    ana.sio.emit("chat.heartbeat")
    with database.transaction() as s:
        s.execute(
            update(Conversation).values(operator_seen_at=later - dt.timedelta(seconds=after / 2))
        )
    assert jobs.sweep_abandoned(now=later) == 0

    # Both gone: closed, with "abandoned" as the reason, and the transcript goes with it.
    assert jobs.sweep_abandoned(now=later + dt.timedelta(seconds=after)) == 1
    with database.transaction(write=False) as s:
        contact = s.get_one(Contact, contact_id)
        assert contact.state == "closed"
        reasons = s.scalars(
            select(ContactTransition.reason).where(
                ContactTransition.contact_id == contact_id, ContactTransition.to_state == "closed"
            )
        ).all()
        assert reasons == ["abandoned"]
        assert s.scalars(select(Message)).all() == []


def test_retention_keeps_a_transcript_until_the_purge_job_is_due(
    app: Flask, database: Database
) -> None:
    rt = app.extensions["chat"]
    rt.chat = replace(rt.chat, retention_days=2)
    visitor = Visitor(app)
    contact_id = chat_contact_id(database, visitor.start()["token"])
    ana = Operator(app, database, "ana")
    ana.accept(contact_id)
    visitor.say("kept for two days", "v1")
    ana.ok(f"/api/contacts/{contact_id}/end")
    ana.wrap_up(contact_id)
    with database.transaction(write=False) as s:
        conversation = s.scalars(select(Conversation)).one()
        assert conversation.status == "closed"
        assert conversation.purge_after is not None
        assert len(s.scalars(select(Message)).all()) == 1

    assert jobs.purge_transcripts(now=utcnow() + dt.timedelta(days=1)) == 0
    assert jobs.purge_transcripts(now=utcnow() + dt.timedelta(days=2, minutes=1)) == 1
    with database.transaction(write=False) as s:
        assert s.scalars(select(Message)).all() == []
    # The row (no text in it) goes once the survey can no longer be answered.
    jobs.purge_transcripts(now=utcnow() + dt.timedelta(days=3))
    with database.transaction(write=False) as s:
        assert s.scalars(select(Conversation)).all() == []


def test_a_transcript_consent_keeps_the_transcript_until_it_is_withdrawn(
    app: Flask, database: Database
) -> None:
    """The line keeps no transcripts (retention 0), but this visitor asked for theirs to be kept:
    it stays while the consent runs, and goes at the next purge once it is withdrawn."""
    from console.domain.consent import Consent

    visitor = Visitor(app)
    contact_id = chat_contact_id(database, visitor.start()["token"])
    ana = Operator(app, database, "ana")
    ana.accept(contact_id)
    visitor.say("please keep this", "v1")
    granted = ana.post(
        f"/api/contacts/{contact_id}/consents", {"scope": "transcript", "method": "chat_checkbox"}
    )
    assert granted.status_code == 201, granted.get_data(as_text=True)
    ana.ok(f"/api/contacts/{contact_id}/end")
    ana.wrap_up(contact_id)
    with database.transaction(write=False) as s:
        consent = s.scalars(select(Consent)).one()
        conversation = s.scalars(select(Conversation)).one()
        assert conversation.purge_after == consent.expires_at
        assert len(s.scalars(select(Message)).all()) == 1
    assert jobs.purge_transcripts(now=utcnow() + dt.timedelta(days=1)) == 0

    withdrawn = ana.post(f"/api/consents/{consent.id}/withdraw", {"reason": "caller_request"})
    assert withdrawn.status_code == 200, withdrawn.get_data(as_text=True)
    assert jobs.purge_transcripts() == 1
    with database.transaction(write=False) as s:
        assert s.scalars(select(Message)).all() == []


def test_the_purge_job_closes_chats_whose_contact_closed_without_the_chat(
    app: Flask, database: Database
) -> None:
    from console.domain import queue

    visitor = Visitor(app)
    contact_id = chat_contact_id(database, visitor.start()["token"])
    visitor.say("orphaned", "v1")
    from chat import hooks
    from console.domain import hooks as domain_hooks

    domain_hooks.off("final", hooks.on_final)
    try:
        with database.transaction() as s:
            queue.abandon(s, contact_id, reason="stale")
    finally:
        domain_hooks.on("final", hooks.on_final)
    jobs.purge_transcripts()
    with database.transaction(write=False) as s:
        assert s.scalars(select(Message)).all() == []
        assert s.scalars(select(Conversation)).one().status == "closed"


def test_survey_answers_land_in_the_outcome_whichever_comes_first(
    app: Flask, database: Database
) -> None:
    # Answered after the wrap-up.
    visitor = Visitor(app)
    token = visitor.start()["token"]
    first = chat_contact_id(database, token)
    ana = Operator(app, database, "ana")
    ana.accept(first)
    ana.ok(f"/api/contacts/{first}/end")
    ana.wrap_up(first)
    answer = visitor.emit("survey", {"answers": {"helped": "yes", "recommend": "no"}})
    assert answer["ok"], answer
    # Answered before the wrap-up (the visitor ended the chat), through a new socket and the token.
    other = Visitor(app)
    token2 = other.start()["token"]
    second = chat_contact_id(database, token2)
    ana.accept(second)
    assert other.emit("leave")["survey"] is True
    later = Visitor(app)
    bad = later.emit("survey", {"token": token2, "answers": {"helped": "maybe"}})
    assert bad["error"] == "validation_failed"
    assert later.emit("survey", {"token": token2, "answers": {"helped": "partly"}})["ok"]
    assert later.emit("survey", {"token": token2, "answers": {"helped": "no"}})["error"] == (
        "validation_failed"
    )
    ana.ok(f"/api/contacts/{second}/end")
    ana.wrap_up(second)
    with database.transaction(write=False) as s:
        details = {o.contact_id: o.details for o in s.scalars(select(Outcome))}
    assert details[first]["survey"] == {"helped": "yes", "recommend": "no"}
    assert details[second]["survey"] == {"helped": "partly"}


def test_a_chat_nobody_answered_has_no_survey(app: Flask, database: Database) -> None:
    visitor = Visitor(app)
    visitor.start()
    assert visitor.emit("leave")["survey"] is False
    assert visitor.emit("survey", {"answers": {"helped": "yes"}})["error"] == "chat_ended"


def test_a_consenting_visitor_gets_a_case_reference(app: Flask, database: Database) -> None:
    from console.domain.cases import Case
    from console.domain.consent import Consent

    visitor = Visitor(app)
    token = visitor.start()["token"]
    contact_id = chat_contact_id(database, token)
    ana = Operator(app, database, "ana")
    ana.accept(contact_id)
    ana.ok(f"/api/contacts/{contact_id}/end")
    answer = visitor.emit("survey", {"answers": {"helped": "yes"}, "case_reference": True})
    assert answer["ok"]
    assert answer["case_reference"]
    with database.transaction(write=False) as s:
        case = s.scalars(select(Case)).one()
        consent = s.scalars(select(Consent)).one()
    assert case.ref == answer["case_reference"]
    assert (consent.scope, consent.method, consent.contact_id, consent.case_id) == (
        "case_follow_up",
        "chat_checkbox",
        contact_id,
        case.id,
    )


def test_key_rotation_re_encrypts_the_transcripts(app: Flask, database: Database) -> None:
    from console.domain import crypto, rotation

    visitor = Visitor(app)
    token = visitor.start()["token"]
    visitor.say("kept under the new key", "v1")
    old = list(crypto.ring().keys)
    newest = crypto.generate_key()
    crypto.configure([newest, *old])
    try:
        assert rotation.rotate_all(database)["chat_messages"] == 1
        crypto.configure([newest])  # the old key is gone: everything must read with the new one
        resumed = Visitor(app).emit("resume", {"token": token})
        assert [m["text"] for m in resumed["messages"]] == ["kept under the new key"]
    finally:
        crypto.configure(old)
