"""Transfers of a live call (cold: to the queue or a colleague; warm: through a conference), and
blocking an abusive caller for a set time with nothing but a hash kept, only for that time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from console.db import Database, utcnow
from console.domain import queue
from console.domain.contacts import Contact
from telephony import jobs as telephony_jobs
from telephony.models import Block, CallLeg
from telephony.simulator import SimulatedCall, SimulatedTwilio
from tests.support import login, make_operator
from tests.telephony.conftest import PUBLIC_BASE


def _latest(database: Database, call_sid: str) -> Contact:
    with database.transaction(write=False) as session:
        contact = session.scalar(
            select(Contact).where(Contact.channel_ref == call_sid).order_by(Contact.id.desc())
        )
        assert contact is not None
        return contact


def _leg(database: Database, call_sid: str) -> CallLeg:
    with database.transaction(write=False) as session:
        leg = session.scalar(select(CallLeg).where(CallLeg.call_sid == call_sid))
        assert leg is not None
        return leg


def _connected(
    twilio: SimulatedTwilio, database: Database, operator_id: int, number: str = "+32470111222"
) -> SimulatedCall:
    call = twilio.call(from_=number).start()
    call.press("3")
    call.press("0")
    with database.transaction() as session:
        queue.claim(session, _latest(database, call.sid).id, operator_id)
    assert call.wait_in_queue(timeout=5)
    call.operator_answers()
    return call


def _client(app: Flask, username: str) -> tuple[Any, str]:
    client = app.test_client()
    return client, login(client, username)


def test_cold_transfer_to_the_queue_and_to_a_colleague(
    voice_app: Flask, twilio: SimulatedTwilio, database: Database
) -> None:
    ana = make_operator(database, "ana", languages=["en"])
    lea = make_operator(database, "lea", role="shift_lead", languages=["en"])
    call = _connected(twilio, database, ana)
    first = _latest(database, call.sid)
    client, token = _client(voice_app, "ana")

    # To the shift lead, by name: the call goes back to Twilio's queue for its next leg.
    moved = client.post(
        f"/api/contacts/{first.id}/transfer",
        json={"to_operator_id": lea},
        headers={"X-CSRFToken": token},
    )
    assert moved.status_code == 200, moved.get_data(as_text=True)
    redirect = twilio.rest_requests("redirect")[-1]
    assert redirect.call_sid == call.sid
    assert redirect.data["Url"] == f"{PUBLIC_BASE}/voice/requeue"
    twilio.settle()
    assert call.where == "queue"
    second = _latest(database, call.sid)
    assert (second.parent_id, second.target_operator_id, second.priority) == (first.id, lea, 150)
    assert _leg(database, call.sid).contact_id == second.id

    with database.transaction() as session:
        queue.claim(session, second.id, lea)
    assert call.wait_in_queue(timeout=5)
    assert call.dialled == f"client:operator_{lea}"
    call.operator_answers()

    # And from the lead back to the queue, for anyone.
    lead_client, lead_token = _client(voice_app, "lea")
    back = lead_client.post(
        f"/api/contacts/{second.id}/transfer", json={}, headers={"X-CSRFToken": lead_token}
    )
    assert back.status_code == 200
    twilio.settle()
    third = _latest(database, call.sid)
    assert third.state in ("waiting", "offered")  # the routing tick may already offer it
    assert third.target_operator_id is None
    assert call.where == "queue"


def test_warm_transfer_through_a_conference_until_the_hand_over(
    voice_app: Flask, twilio: SimulatedTwilio, database: Database
) -> None:
    ana = make_operator(database, "ana", languages=["en"])
    ben = make_operator(database, "ben", languages=["en"])
    call = _connected(twilio, database, ana)
    contact = _latest(database, call.sid)
    client, token = _client(voice_app, "ana")

    colleague_legs: list[SimulatedCall] = []

    def colleague_answers(placed: SimulatedCall) -> None:
        placed.answer()
        colleague_legs.append(placed)

    twilio.on_outbound(colleague_answers)
    started = client.post(
        f"/api/voice/calls/{contact.id}/warm-transfer",
        json={"to_operator_id": ben},
        headers={"X-CSRFToken": token},
    )
    assert started.status_code == 200, started.get_data(as_text=True)
    twilio.settle()

    name = f"helpline-leg-{_leg(database, call.sid).id}"
    assert call.where == "conference"  # the caller followed the operator into the conference
    (colleague,) = colleague_legs
    assert colleague.to == f"client:operator_{ben}"
    assert colleague.where == "conference"
    members = {c.sid for c in twilio.conferences[name]}
    assert call.sid in members
    assert colleague.sid in members
    assert len(members) == 3  # caller, first operator, colleague
    assert _latest(database, call.sid).operator_id == ana  # ana keeps it until she hands over

    handed = client.post(
        f"/api/voice/calls/{contact.id}/hand-over", json={}, headers={"X-CSRFToken": token}
    )
    assert handed.status_code == 200, handed.get_data(as_text=True)
    twilio.settle()
    now_with = _latest(database, call.sid)
    assert (now_with.state, now_with.operator_id, now_with.parent_id) == ("active", ben, contact.id)
    members = {c.sid for c in twilio.conferences[name]}
    assert members == {call.sid, colleague.sid}  # the first operator's leg was hung up

    colleague.hang_up()  # the colleague leaving ends the conference; the caller hears goodbye
    assert call.ended
    assert call.heard[-1] == "Thank you for calling. Goodbye."
    assert _latest(database, call.sid).state == "wrap_up"


def test_an_operator_blocks_an_abusive_caller_for_a_set_time(
    voice_app: Flask, twilio: SimulatedTwilio, database: Database, expect_logs: Any
) -> None:
    ana = make_operator(database, "ana", languages=["en"])
    call = _connected(twilio, database, ana, number="+32470666666")
    contact = _latest(database, call.sid)
    client, token = _client(voice_app, "ana")
    bad = client.post(
        f"/api/voice/calls/{contact.id}/block", json={"hours": 5}, headers={"X-CSRFToken": token}
    )
    assert bad.status_code == 422
    blocked = client.post(
        f"/api/voice/calls/{contact.id}/block", json={"hours": 24}, headers={"X-CSRFToken": token}
    )
    assert blocked.status_code == 200
    with database.transaction(write=False) as session:
        assert session.scalar(select(Block)) is None  # made from the call's next webhook
    call.hang_up()
    with database.transaction(write=False) as session:
        (block,) = session.scalars(select(Block)).all()
        assert (
            dt.timedelta(hours=23, minutes=59)
            < block.expires_at - utcnow()
            <= dt.timedelta(hours=24)
        )
        assert block.caller_hash != _leg(database, call.sid).caller_hash  # another key
        assert block.operator_id == ana

    again = twilio.call(from_="+32470666666").start()
    assert again.heard == ["Deze lijn kan uw oproep nu niet aannemen.", "In nood, bel 112."]
    assert again.ended
    other = twilio.call(from_="+32470777777").start()
    assert other.where == "gather"

    # When the block lapses, housekeeping deletes it and the caller gets through again.
    with database.transaction() as session:
        session.execute(update(Block).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    telephony_jobs.housekeeping()
    with database.transaction(write=False) as session:
        assert session.scalar(select(Block)) is None
    assert twilio.call(from_="+32470666666").start().where == "gather"


def test_a_block_asked_for_after_the_call_reads_the_caller_back_from_twilio(
    voice_app: Flask, twilio: SimulatedTwilio, database: Database
) -> None:
    ana = make_operator(database, "ana", languages=["en"])
    call = _connected(twilio, database, ana, number="+32470555555")
    contact = _latest(database, call.sid)
    call.hang_up()
    client, token = _client(voice_app, "ana")
    response = client.post(
        f"/api/voice/calls/{contact.id}/block", json={"hours": 1}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200
    fetched = [r for r in twilio.rest_requests() if r.method == "GET"]
    assert [r.call_sid for r in fetched] == [call.sid]
    assert twilio.call(from_="+32470555555").start().ended


def test_only_the_operator_on_the_call_or_a_lead_may_block(
    voice_app: Flask, twilio: SimulatedTwilio, database: Database
) -> None:
    ana = make_operator(database, "ana", languages=["en"])
    make_operator(database, "ben", languages=["en"])
    call = _connected(twilio, database, ana)
    contact = _latest(database, call.sid)
    client, token = _client(voice_app, "ben")
    response = client.post(
        f"/api/voice/calls/{contact.id}/block", json={"hours": 1}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 403
    assert response.get_json()["error"] == "not_your_contact"


def test_a_withheld_caller_cannot_be_blocked(
    voice_app: Flask, twilio: SimulatedTwilio, database: Database
) -> None:
    ana = make_operator(database, "ana", languages=["en"])
    call = _connected(twilio, database, ana, number="anonymous")
    client, token = _client(voice_app, "ana")
    response = client.post(
        f"/api/voice/calls/{_latest(database, call.sid).id}/block",
        json={"hours": 1},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 422
    assert "withheld" in response.get_json()["message"]
