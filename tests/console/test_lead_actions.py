"""The shift lead's actions: presence, reassignment, broadcast and overflow, each audited; the
domain refuses them to anyone but a shift lead, and the HTTP interface answers with clear 4xx."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from console.db import Database
from console.domain import events, lead_actions, queue
from console.domain.audit import AuditEvent
from console.domain.contacts import Contact
from console.domain.errors import ContactUnavailable, ValidationFailed
from console.domain.lead_actions import NotAllowed
from console.domain.queue import Offer
from console.domain.stats_settings import StatsSettings, install, load_stats_settings
from console.settings import Settings
from tests.support import login, make_operator

NOW = dt.datetime(2026, 3, 11, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def cfg(settings: Settings) -> StatsSettings:
    return install(load_stats_settings(settings))


def _audit(database: Database, action: str) -> list[AuditEvent]:
    with database.transaction(write=False) as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_lead_sends_an_operator_on_a_break_and_it_is_audited(database: Database) -> None:
    lea = make_operator(database, "lea", role="shift_lead")
    ana = make_operator(database, "ana")
    with database.transaction() as s:
        lead_actions.set_operator_presence(s, lea, ana, "break", NOW)
    (entry,) = _audit(database, "lead.presence")
    assert entry.actor_id == lea
    assert entry.details == {"operator_id": ana, "from": "available", "to": "break"}
    with database.transaction() as s, pytest.raises(ValidationFailed):
        lead_actions.set_operator_presence(s, lea, ana, "busy", NOW)
    with database.transaction() as s, pytest.raises(NotAllowed):
        lead_actions.set_operator_presence(s, ana, lea, "break", NOW)


def test_reassigning_an_offered_contact_rescinds_the_offer_and_offers_it_to_another(
    database: Database, settings: Settings, sent_events: list[events.Event]
) -> None:
    lea = make_operator(database, "lea", role="shift_lead", presence=None)
    ana = make_operator(database, "ana")
    with database.transaction() as s:
        cid = queue.enqueue(s, channel="voice", language="nl", cfg=settings.queue, now=NOW).id
    with database.transaction() as s:
        (offer,) = queue.route(s, settings.queue, now=NOW)
        assert offer.operator_id == ana
    ben = make_operator(database, "ben")
    sent_events.clear()
    with database.transaction() as s:
        lead_actions.reassign(s, lea, cid, ben, settings.queue, NOW + dt.timedelta(seconds=3))
    with database.transaction(write=False) as s:
        contact = s.get_one(Contact, cid)
        assert (contact.state, contact.offered_to_id, contact.target_operator_id) == (
            "offered",
            ben,
            ben,
        )
        states = {o.operator_id: o.state for o in s.scalars(select(Offer))}
    assert states == {ana: "rescinded", ben: "pending"}
    ended = [e for e in sent_events if e.type == "offer.ended"]
    created = [e for e in sent_events if e.type == "offer.created"]
    assert [e.room for e in ended] == [events.operator_room(ana)]
    assert [e.room for e in created] == [events.operator_room(ben)]
    (entry,) = _audit(database, "lead.reassign")
    assert entry.contact_id == cid
    assert entry.details["from_operator_id"] == ana
    # Back to the whole queue.
    with database.transaction() as s:
        lead_actions.reassign(s, lea, cid, None, settings.queue, NOW + dt.timedelta(seconds=5))
    with database.transaction(write=False) as s:
        contact = s.get_one(Contact, cid)
        assert (contact.state, contact.target_operator_id) == ("waiting", None)
    # A contact someone is talking to cannot be reassigned.
    with database.transaction() as s:
        queue.claim(s, cid, ana, now=NOW + dt.timedelta(seconds=6))
    with database.transaction() as s, pytest.raises(ContactUnavailable):
        lead_actions.reassign(s, lea, cid, ben, settings.queue, NOW + dt.timedelta(seconds=7))


def test_a_broadcast_reaches_every_console_and_its_text_is_not_stored(
    database: Database, sent_events: list[events.Event]
) -> None:
    lea = make_operator(database, "lea", role="shift_lead")
    message = "Quebec Zulu lunch cover at 12:30, please"
    with database.transaction() as s:
        lead_actions.broadcast(s, lea, message, NOW)
    (event,) = [e for e in sent_events if e.type == "lead.broadcast"]
    assert event.room == events.ROOM_STAFF
    assert event.payload["message"] == message
    (entry,) = _audit(database, "lead.broadcast")
    assert entry.details == {"length": len(message)}
    with database.transaction(write=False) as s:
        dumped = " ".join(str(row) for row in s.execute(text("SELECT * FROM audit_events")).all())
    assert "Quebec Zulu" not in dumped
    with database.transaction() as s, pytest.raises(ValidationFailed):
        lead_actions.broadcast(s, lea, "x" * 281, NOW)
    with database.transaction() as s, pytest.raises(ValidationFailed):
        lead_actions.broadcast(s, lea, "   ", NOW)


def test_overflow_sends_a_language_to_other_speakers_at_once(
    database: Database, settings: Settings, cfg: StatsSettings
) -> None:
    lea = make_operator(database, "lea", role="shift_lead", presence=None)
    ana = make_operator(database, "ana", languages=["nl"])
    with database.transaction() as s:
        cid = queue.enqueue(s, channel="voice", language="ar", cfg=settings.queue, now=NOW).id
    with database.transaction() as s:
        assert queue.route(s, settings.queue, now=NOW + dt.timedelta(seconds=1)) == []
    with database.transaction() as s:
        overflow = lead_actions.open_overflow(
            s,
            lea,
            "ar",
            "nl",
            languages=settings.language_codes,
            stats=cfg,
            cfg=settings.queue,
            now=NOW + dt.timedelta(seconds=2),
        )
        overflow_id = overflow.id
    with database.transaction(write=False) as s:
        contact = s.get_one(Contact, cid)
        assert (contact.state, contact.offered_to_id) == ("offered", ana)
    (entry,) = _audit(database, "lead.overflow_open")
    assert entry.details == {
        "overflow_id": overflow_id,
        "language": "ar",
        "target_kind": "language",
        "target": "nl",
    }
    with database.transaction() as s:
        lead_actions.close_overflow(s, lea, overflow_id, NOW + dt.timedelta(seconds=3))
        assert lead_actions.open_overflows(s) == []
    assert len(_audit(database, "lead.overflow_close")) == 1


def test_overflow_to_a_partner_line_is_what_telephony_asks_for(
    database: Database, settings: Settings, cfg: StatsSettings
) -> None:
    lea = make_operator(database, "lea", role="shift_lead")
    with database.transaction() as s:
        overflow = lead_actions.open_overflow(
            s,
            lea,
            "nl",
            "partner:tele_onthaal",
            languages=settings.language_codes,
            stats=cfg,
            cfg=settings.queue,
            now=NOW,
        )
        assert lead_actions.partner_line_for(s, "nl") == "tele_onthaal"
        assert lead_actions.partner_line_for(s, "fr") is None
        lead_actions.close_overflow(s, lea, overflow.id, NOW)
        assert lead_actions.partner_line_for(s, "nl") is None
    for target in ("partner:nobody", "klingon", "nl"):
        with database.transaction() as s, pytest.raises(ValidationFailed):
            lead_actions.open_overflow(
                s,
                lea,
                "nl",
                target,
                languages=settings.language_codes,
                stats=cfg,
                cfg=settings.queue,
                now=NOW,
            )


def _post(client: FlaskClient, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, json=body or {}, headers={"X-CSRFToken": token})


def test_the_http_actions_answer_leads_and_refuse_operators(
    app: Flask, database: Database, settings: Settings, sent_events: list[events.Event]
) -> None:
    make_operator(database, "lea", role="shift_lead")
    ana = make_operator(database, "ana")
    with database.transaction() as s:
        cid = queue.enqueue(s, channel="voice", language="nl", cfg=settings.queue).id
    lead = app.test_client()
    token = login(lead, "lea")
    response = _post(lead, f"/api/lead/operators/{ana}/presence", token, {"presence": "break"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["operator"]["presence"] == "break"
    assert any(e.type == "wallboard.snapshot" for e in sent_events)  # shown at once
    response = _post(lead, f"/api/lead/contacts/{cid}/reassign", token, {"to_operator_id": ana})
    assert response.status_code == 200
    assert response.get_json()["contact"]["state"] == "waiting"  # ana is on a break
    assert _post(lead, "/api/lead/broadcast", token, {"message": "Hello all"}).status_code == 200
    response = _post(lead, "/api/lead/overflows", token, {"language": "nl", "target": "any"})
    assert response.status_code == 201
    overflow_id = response.get_json()["overflow"]["id"]
    assert _post(lead, f"/api/lead/overflows/{overflow_id}/close", token).status_code == 200
    bad = _post(lead, "/api/lead/overflows", token, {"language": "xx", "target": "any"})
    assert bad.status_code == 422
    assert "language" in bad.get_json()["message"]
    gone = _post(lead, "/api/lead/contacts/999999/reassign", token, {"to_operator_id": None})
    assert gone.status_code == 404

    operator = app.test_client()
    op_token = login(operator, "ana")
    for url in (
        f"/api/lead/operators/{ana}/presence",
        f"/api/lead/contacts/{cid}/reassign",
        "/api/lead/broadcast",
        "/api/lead/overflows",
    ):
        assert _post(operator, url, op_token, {"presence": "available"}).status_code == 403
    assert operator.get("/api/lead/wallboard").status_code == 403
    assert lead.get("/api/lead/wallboard").status_code == 200
