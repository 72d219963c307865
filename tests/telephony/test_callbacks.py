"""Callback on request: consent and a safe window, then attempts inside it; the number is kept
encrypted under the consent, and erased after the last failed attempt or once the call is made."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update

from console.db import Database, utcnow
from console.domain import crypto, queue
from console.domain.consent import Consent
from console.domain.contacts import Contact, ContactTransition
from console.domain.identity import IdentityValue
from telephony import jobs as telephony_jobs
from telephony.models import Callback, CallbackAttempt
from telephony.simulator import SimulatedCall, SimulatedTwilio
from tests.support import make_operator
from tests.telephony.conftest import PUBLIC_BASE

NUMBER = "+32470246810"


def _request_callback(twilio: SimulatedTwilio) -> SimulatedCall:
    call = twilio.call(from_=NUMBER).start()
    call.press("3")
    call.press("0")
    call.listen()
    assert "If you would rather we call you back, press 9." in call.heard
    call.press("9")  # in the queue: Twilio's <Leave>, then the Enqueue action
    assert call.heard[-1].startswith("We can call you back. To do that we keep your phone number")
    call.press("1")  # agrees
    assert call.heard[-3].startswith("For today between ") or call.heard[-3].startswith("For ")
    chosen = call.heard[-3]
    call.press("1")  # the first window
    window = chosen.removeprefix("For ").rsplit(", press", 1)[0]
    assert call.heard[-1] == f"Thank you. We will call you {window}. Goodbye."
    assert call.ended
    return call


def _callback(database: Database) -> Callback:
    with database.transaction(write=False) as session:
        callback = session.scalar(select(Callback))
        assert callback is not None
        return callback


def _stored_numbers(database: Database) -> list[str]:
    with database.transaction(write=False) as session:
        tokens = list(session.scalars(select(IdentityValue.ciphertext)))
    return [crypto.decrypt(token) for token in tokens]


def _make_due(database: Database) -> None:
    """Bring the window (and the next attempt) to now, as if the clock had moved on."""
    now = utcnow()
    with database.transaction() as session:
        session.execute(
            update(Callback).values(
                window_start=now - dt.timedelta(minutes=1),
                window_end=now + dt.timedelta(hours=2),
            )
        )
        session.execute(
            update(Callback)
            .where(Callback.next_attempt_at.is_not(None))
            .values(next_attempt_at=now - dt.timedelta(seconds=1))
        )


def test_callback_with_consent_and_window_three_failed_attempts_then_erased(
    twilio: SimulatedTwilio, database: Database
) -> None:
    call = _request_callback(twilio)

    callback = _callback(database)
    assert (callback.state, callback.attempts, callback.max_attempts) == ("scheduled", 0, 3)
    assert callback.next_attempt_at == callback.window_start
    assert callback.window_end - callback.window_start == dt.timedelta(hours=2)
    assert callback.window_start > utcnow()  # a window the caller chose, not "now"
    with database.transaction(write=False) as session:
        consent = session.get_one(Consent, callback.consent_id)
        assert (consent.scope, consent.method, consent.operator_id) == (
            "callback",
            "ivr_keypress",
            None,
        )
        assert consent.expires_at == callback.window_end + dt.timedelta(hours=1)
        voice = session.get_one(Contact, callback.parent_contact_id)
        assert voice.state == "closed"
        assert voice.channel_ref == call.sid
    assert _stored_numbers(database) == [NUMBER]  # encrypted at rest, readable with the key

    # Nothing happens before the window opens.
    telephony_jobs.sweep()
    assert twilio.rest_requests("create") == []

    for attempt in (1, 2, 3):
        _make_due(database)
        telephony_jobs.sweep()
        created = twilio.rest_requests("create")
        assert len(created) == attempt
        request = created[-1]
        assert request.data["To"] == NUMBER
        assert request.data["From"] == "+3225550100"  # the number the caller dialled
        assert request.data["Url"] == f"{PUBLIC_BASE}/voice/callback/answer?cb={callback.id}"
        assert request.data["StatusCallback"] == (
            f"{PUBLIC_BASE}/voice/callback/status?cb={callback.id}"
        )
        twilio.on_outbound(lambda placed: placed.no_answer())
        twilio.settle()
        state = _callback(database)
        assert state.attempts == attempt
        if attempt < 3:
            assert state.state == "scheduled"
            assert state.next_attempt_at is not None
            assert state.next_attempt_at > utcnow()
            assert _stored_numbers(database) == [NUMBER]

    final = _callback(database)
    assert (final.state, final.outcome) == ("failed", "unreachable")
    assert final.number_erased_at is not None
    assert _stored_numbers(database) == []
    with database.transaction(write=False) as session:
        results = list(
            session.scalars(select(CallbackAttempt.result).order_by(CallbackAttempt.number))
        )
        assert results == ["no-answer", "no-answer", "no-answer"]
        assert session.get_one(Consent, final.consent_id).erased_at is not None
        record = session.get_one(Contact, final.contact_id)
        assert (record.channel, record.state) == ("callback", "closed")
        reason = session.scalar(
            select(ContactTransition.reason)
            .where(ContactTransition.contact_id == record.id)
            .order_by(ContactTransition.id.desc())
        )
        assert reason == "unreachable"
    # No more attempts after the last one.
    _make_due(database)
    telephony_jobs.sweep()
    assert len(twilio.rest_requests("create")) == 3


def test_a_reached_callback_is_answered_by_an_operator_and_the_number_erased(
    twilio: SimulatedTwilio, database: Database
) -> None:
    ana = make_operator(database, "ana", languages=["en"])
    _request_callback(twilio)
    callback = _callback(database)
    _make_due(database)

    picked_up: list[SimulatedCall] = []

    def answers_and_presses_1(placed: SimulatedCall) -> None:
        placed.answer()
        assert (
            placed.heard[-1]
            == "Hello. You asked us to call you back. If you can talk now, press 1."
        )
        placed.press("1")
        picked_up.append(placed)

    twilio.on_outbound(answers_and_presses_1)
    telephony_jobs.sweep()
    twilio.settle()
    (placed,) = picked_up
    assert placed.where == "queue"
    contact = _contact_for(database, placed.sid)
    assert (contact.channel, contact.priority) == ("callback", 30)
    assert contact.parent_id == callback.parent_contact_id

    with database.transaction() as session:
        queue.claim(session, contact.id, ana)
    assert placed.wait_in_queue(timeout=5)
    assert placed.dialled == f"client:operator_{ana}"
    placed.operator_answers()
    placed.operator_hangs_up()
    assert placed.ended
    done = _callback(database)
    assert (done.state, done.outcome) == ("completed", "reached")
    assert _stored_numbers(database) == []
    assert _contact_for(database, placed.sid).state == "wrap_up"


def test_an_unconfirmed_pick_up_counts_as_a_failed_attempt(
    twilio: SimulatedTwilio, database: Database
) -> None:
    _request_callback(twilio)
    _make_due(database)

    def picks_up_and_says_nothing(placed: SimulatedCall) -> None:
        placed.answer()
        placed.silence()

    twilio.on_outbound(picks_up_and_says_nothing)
    telephony_jobs.sweep()
    twilio.settle()
    state = _callback(database)
    assert (state.state, state.attempts) == ("scheduled", 1)
    with database.transaction(write=False) as session:
        assert session.scalar(select(CallbackAttempt.result)) == "unconfirmed"
        assert session.scalar(select(Contact).where(Contact.channel == "callback")) is None


def test_a_window_that_passes_closes_the_callback_and_erases_the_number(
    twilio: SimulatedTwilio, database: Database
) -> None:
    _request_callback(twilio)
    past = utcnow() - dt.timedelta(minutes=5)
    with database.transaction() as session:
        session.execute(
            update(Callback).values(window_start=past - dt.timedelta(hours=2), window_end=past)
        )
    telephony_jobs.sweep()
    state = _callback(database)
    assert (state.state, state.outcome) == ("expired", "window_passed")
    assert _stored_numbers(database) == []
    assert twilio.rest_requests("create") == []


def test_withheld_callers_are_not_offered_a_callback(twilio: SimulatedTwilio) -> None:
    call = twilio.call(from_="anonymous").start()
    call.press("3")
    call.press("0")
    call.listen()
    assert not any("call you back" in line for line in call.heard)
    call.press("9")  # pressing it anyway changes nothing
    assert call.where == "queue"


def _contact_for(database: Database, call_sid: str) -> Any:
    with database.transaction(write=False) as session:
        contact = session.scalar(
            select(Contact).where(Contact.channel_ref == call_sid).order_by(Contact.id.desc())
        )
        assert contact is not None
        return contact
