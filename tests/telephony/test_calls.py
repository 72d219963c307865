"""Calls driven through the simulator, as Twilio would: the menu in each language, out of hours,
withheld numbers, hang-ups while waiting, and an answered call through to its status callback."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select, update

from console.db import Database, utcnow
from console.domain import events, lead_actions, queue
from console.domain.contacts import Contact, ContactTransition
from console.domain.operators import Operator
from console.domain.stats_settings import load_stats_settings
from console.settings import Settings, load_settings
from telephony import runtime, waiting
from telephony.models import CallLeg
from telephony.simulator import SimulatedTwilio
from tests.support import login, make_operator
from tests.telephony.conftest import PUBLIC_BASE, ROOT, WEEKDAYS, InlineJobs, voice_env

# Every language the shipped configuration offers on the phone.
LANGUAGES = [
    lang["code"]
    for lang in tomllib.loads((ROOT / "config" / "languages.toml").read_text())["language"]
]


def _contact(database: Database, call_sid: str) -> Contact:
    with database.transaction(write=False) as session:
        contact = session.scalar(
            select(Contact).where(Contact.channel_ref == call_sid).order_by(Contact.id.desc())
        )
        assert contact is not None, "no contact for the call"
        return contact


def _leg(database: Database, call_sid: str) -> CallLeg:
    with database.transaction(write=False) as session:
        leg = session.scalar(select(CallLeg).where(CallLeg.call_sid == call_sid))
        assert leg is not None, "no call leg"
        return leg


def _reasons(database: Database, contact_id: int) -> list[tuple[str | None, str]]:
    with database.transaction(write=False) as session:
        rows = session.execute(
            select(ContactTransition.to_state, ContactTransition.reason)
            .where(ContactTransition.contact_id == contact_id)
            .order_by(ContactTransition.id)
        ).all()
    return [(str(state), reason) for state, reason in rows]


@pytest.mark.parametrize("code", LANGUAGES)
def test_in_hours_call_in_each_language_is_queued_and_visible_at_once(
    twilio: SimulatedTwilio,
    database: Database,
    voice_settings: Settings,
    sent_events: list[events.Event],
    code: str,
) -> None:
    digit = str(voice_settings.language_codes.index(code) + 1)
    call = twilio.call(from_="+32470111222").start()
    assert call.where == "gather"
    assert call.heard[0] == "Welkom bij Victim Support Line."  # a Belgian number: Dutch first
    assert len(call.heard) == 1 + len(voice_settings.languages)  # then each language offered

    call.press(digit)  # language
    assert call.where == "gather"  # the topic menu, in the chosen language
    call.press("1")  # domestic violence
    assert call.where == "queue"

    contact = _contact(database, call.sid)
    assert (contact.channel, contact.language, contact.topic) == (
        "voice",
        code,
        "domestic_violence",
    )
    assert contact.state == "waiting"
    queued = [e for e in sent_events if e.type == "contact.queued"]
    assert [e.payload["id"] for e in queued] == [contact.id]
    assert queued[0].room == "staff"

    call.listen()
    spoken = runtime.get().tset.language(code).prompts["position"].text.format(position=1)
    assert spoken in call.heard
    leg = _leg(database, call.sid)
    assert (leg.state, leg.language, leg.country, leg.withheld) == ("queued", code, "BE", False)
    assert leg.caller_hash is not None
    assert len(leg.caller_hash) == 64


def test_the_greeting_follows_the_callers_country(twilio: SimulatedTwilio) -> None:
    call = twilio.call(from_="+33612345678").start()  # a French mobile
    assert call.heard[0] == "Bienvenue à Victim Support Line."
    assert twilio.call(from_="+212612345678").start().heard[0].startswith("مرحبا")


def test_no_key_in_the_menus_takes_the_suggested_language_and_no_topic(
    twilio: SimulatedTwilio, database: Database
) -> None:
    call = twilio.call(from_="+447400123456").start()  # a UK mobile: English suggested
    call.silence()
    call.silence()
    assert call.where == "queue"
    contact = _contact(database, call.sid)
    assert (contact.language, contact.topic) == ("en", None)


def test_out_of_hours_call_hears_hours_emergency_and_other_lines_in_its_language(
    config_dir: Path, request: pytest.FixtureRequest, counts: Any
) -> None:
    # Closed all of today (in the line's time zone), open 09:00-17:00 on the other days.
    today = utcnow().astimezone(load_settings(mode="test", env={}).tz).weekday()
    lines = ['country = ""', "[weekdays]"]
    for index, day in enumerate(WEEKDAYS):
        lines.append(f"{day} = []" if index == today else f'{day} = ["09:00-17:00"]')
    lines += ["[alternatives]", 'en = "To talk to someone day or night, call Tele-Onthaal on 106."']
    (config_dir / "hours.toml").write_text("\n".join(lines) + "\n")
    twilio: SimulatedTwilio = request.getfixturevalue("twilio")

    call = twilio.call(from_="+32470111222").start()
    assert call.heard[0].startswith("We zijn nu gesloten. We zijn open ")
    assert "van 09:00 tot 17:00" in call.heard[0]
    assert "In nood, bel 112." in call.heard
    assert call.where == "gather"  # the other languages are offered
    call.press("3")  # English
    assert call.heard[-4].startswith("We are closed now. We are open ")
    assert call.heard[-3:] == [
        "In an emergency, call 112.",
        "To talk to someone day or night, call Tele-Onthaal on 106.",
        "Thank you for calling. Goodbye.",
    ]
    assert call.ended
    assert counts() == (0, 1)  # no contact; the leg is kept for the menu's own figures


@pytest.mark.parametrize("withheld", ["+266696687", "anonymous", "restricted", "unknown", ""])
def test_withheld_numbers_are_accepted_and_never_lesotho(
    twilio: SimulatedTwilio, database: Database, withheld: str
) -> None:
    call = twilio.call(from_=withheld).start()
    assert call.heard[0] == "Welkom bij Victim Support Line."  # the line's first language
    call.press("3")
    call.press("0")
    assert call.where == "queue"
    leg = _leg(database, call.sid)
    assert (leg.withheld, leg.country, leg.caller_hash) == (True, None, None)
    call.listen()
    assert not any("call you back" in line for line in call.heard)  # no number to call back
    call.hang_up()
    assert _leg(database, call.sid).country is None


def test_hang_up_while_waiting_is_abandoned_with_its_wait_time(
    twilio: SimulatedTwilio, database: Database
) -> None:
    quick = twilio.call(from_="+32470111222").start()
    quick.press("3")
    quick.press("0")
    quick.hang_up()
    contact = _contact(database, quick.sid)
    assert contact.state == "abandoned"
    assert _reasons(database, contact.id)[-1] == ("abandoned", "short_abandon")

    patient = twilio.call(from_="+32470111333").start()
    patient.press("3")
    patient.press("0")
    earlier = utcnow() - dt.timedelta(seconds=95)
    with database.transaction() as session:
        session.execute(
            update(Contact).where(Contact.channel_ref == patient.sid).values(enqueued_at=earlier)
        )
    patient.listen()
    patient.hang_up()
    contact = _contact(database, patient.sid)
    assert contact.state == "abandoned"
    assert contact.abandoned_at is not None
    waited = (contact.abandoned_at - contact.enqueued_at).total_seconds()
    assert 94 <= waited < 120
    assert _reasons(database, contact.id)[-1] == ("abandoned", "hangup")
    leg = _leg(database, patient.sid)
    assert (leg.state, leg.end_status) == ("ended", "completed")


def _queued_call(twilio: SimulatedTwilio, number: str = "+32470111222", digit: str = "3") -> Any:
    call = twilio.call(from_=number).start()
    call.press(digit)
    call.press("0")
    assert call.where == "queue"
    return call


def test_answered_call_is_bridged_to_the_operator_and_ends_with_the_status_callback(
    voice_app: Flask,
    twilio: SimulatedTwilio,
    database: Database,
    jobs: InlineJobs,
    sent_events: list[events.Event],
) -> None:
    ana = make_operator(database, "ana", languages=["en"])
    call = _queued_call(twilio)
    contact = _contact(database, call.sid)

    client = voice_app.test_client()
    token = login(client, "ana")
    accepted = client.post(
        f"/api/contacts/{contact.id}/accept", json={}, headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    assert jobs.done == [("telephony.jobs.bridge_call", (contact.id,))]

    # The redirect the app sent through the real twilio client, over the local transport:
    redirects = twilio.rest_requests("redirect")
    assert len(redirects) == 1
    assert redirects[0].method == "POST"
    assert redirects[0].path == f"/2010-04-01/Accounts/{twilio.account_sid}/Calls/{call.sid}.json"
    assert redirects[0].data["Url"] == f"{PUBLIC_BASE}/voice/bridge?c={contact.id}"
    assert redirects[0].data["Method"] == "POST"

    assert call.wait_in_queue(timeout=5)
    assert call.where == "dial"
    assert call.dialled == f"client:operator_{ana}"
    # The operator's browser is shown the number the caller dialled, never the caller's.
    assert call.shown_to_dialled == twilio.line != "+32470111222"
    assert call.heard[-1] == "Connecting you now."
    assert _leg(database, call.sid).state == "ringing"

    call.operator_answers()
    leg = _leg(database, call.sid)
    assert (leg.state, leg.operator_id) == ("connected", ana)
    assert leg.connected_at is not None

    call.hang_up()  # the caller ends the call; Twilio posts the status callback
    contact = _contact(database, call.sid)
    assert contact.state == "wrap_up"
    assert contact.operator_id == ana
    leg = _leg(database, call.sid)
    assert (leg.state, leg.end_status) == ("ended", "completed")
    assert leg.duration is not None
    calls = [e for e in sent_events if e.type == "voice.call"]
    assert [e.payload["state"] for e in calls] == ["bridging", "ringing", "connected", "ended"]
    assert {e.room for e in calls} == {f"operator:{ana}"}
    assert {e.payload["contact_id"] for e in calls} == {contact.id}

    wrapped = client.post(
        f"/api/contacts/{contact.id}/wrap-up",
        json={"code": "information_given"},
        headers={"X-CSRFToken": token},
    )
    assert wrapped.status_code in (200, 422), wrapped.get_data(as_text=True)


def test_operator_hanging_up_ends_the_call_politely_and_starts_wrap_up(
    twilio: SimulatedTwilio, database: Database, voice_settings: Settings
) -> None:
    ana = make_operator(database, "ana", languages=["en"])
    call = _queued_call(twilio)
    contact = _contact(database, call.sid)
    with database.transaction() as session:
        queue.claim(session, contact.id, ana)
    call.wait_in_queue(timeout=5)
    call.operator_answers()
    call.operator_hangs_up()
    assert call.heard[-1] == "Thank you for calling. Goodbye."
    assert call.ended
    assert _contact(database, call.sid).state == "wrap_up"


def test_a_failed_operator_leg_puts_the_call_back_at_the_front(
    twilio: SimulatedTwilio, database: Database, voice_settings: Settings
) -> None:
    ana = make_operator(database, "ana", languages=["en"])
    ben = make_operator(database, "ben", languages=["en"])
    first = _queued_call(twilio, "+32470111222")
    contact = _contact(database, first.sid)
    later = _queued_call(twilio, "+32470111333")
    with database.transaction() as session:
        queue.claim(session, contact.id, ana)
    first.wait_in_queue(timeout=5)
    first.operator_misses("no-answer")

    assert first.where == "queue"
    assert first.heard[-1].startswith("Sorry, that did not work.")
    successor = _contact(database, first.sid)
    assert successor.id != contact.id
    assert successor.parent_id == contact.id
    assert successor.state == "waiting"
    with database.transaction(write=False) as session:
        snapshot = queue.queue_snapshot(session)
        assert snapshot[0].id == successor.id  # ahead of the caller who came later
        assert _contact(database, later.sid).id in [c.id for c in snapshot]
        assert session.get_one(Operator, ana).presence == "break"
        assert session.get_one(Contact, contact.id).state == "transferred"
    with database.transaction() as session:
        queue.claim(session, successor.id, ben)
    first.wait_in_queue(timeout=5)
    assert first.dialled == f"client:operator_{ben}"


def test_a_call_in_a_small_language_overflows_after_the_configured_wait(
    twilio: SimulatedTwilio, database: Database, voice_settings: Settings
) -> None:
    make_operator(database, "ana", languages=["nl"])
    call = _queued_call(twilio, digit="4")  # Arabic
    contact = _contact(database, call.sid)
    cfg = voice_settings.queue
    with database.transaction() as session:
        assert queue.route(session, cfg) == []
    later = utcnow() + dt.timedelta(seconds=cfg.language_overflow_after + 1)
    with database.transaction() as session:
        offers = queue.route(session, cfg, now=later)
        assert [o.contact_id for o in offers] == [contact.id]


def test_desk_phone_operators_are_bridged_to_their_number(
    config_dir: Path, database_url: str, database: Database, tmp_path: Path
) -> None:
    ivr = (config_dir / "ivr.toml").read_text()
    ivr = ivr.replace("[voice.desk_phones]\n", '[voice.desk_phones]\ndesk = "+3225550199"\n')
    (config_dir / "ivr.toml").write_text(ivr)
    settings = load_settings(
        mode="test", env=voice_env(database_url), config_dir=config_dir, instance_dir=tmp_path
    ).with_overrides(background_tasks=False)
    from console.app import create_app, shutdown
    from telephony.simulator import install

    app = create_app(settings, database)
    try:
        runtime.get().jobs = InlineJobs()
        twilio = install(app)
        desk = make_operator(database, "desk", languages=["en"])
        call = _queued_call(twilio)
        with database.transaction() as session:
            queue.claim(session, _contact(database, call.sid).id, desk)
        call.wait_in_queue(timeout=5)
        assert call.dialled == "+3225550199"
        # A desk phone keeps a call log: it is shown the line's number, not the caller's.
        assert call.shown_to_dialled == twilio.line
        client = app.test_client()
        login(client, "desk")
        assert client.get("/api/voice/token").get_json()["mode"] == "desk_phone"
    finally:
        shutdown(app)


def test_the_wait_document_announces_place_and_expected_wait(
    twilio: SimulatedTwilio, database: Database
) -> None:
    ana = make_operator(database, "ana", languages=["en"])
    answered = _queued_call(twilio, "+32470111001")
    with database.transaction() as session:
        queue.claim(session, _contact(database, answered.sid).id, ana)
    first = _queued_call(twilio, "+32470111002")
    second = _queued_call(twilio, "+32470111003")
    second.listen()
    assert "You are number 2 in the queue." in second.heard
    # One answer in the last 30 minutes: two places ahead is an hour, the longest it says.
    assert "The expected wait is about 60 minutes." in second.heard
    first.listen()
    assert "You are number 1 in the queue." in first.heard
    assert urlsplit(twilio.webhooks[-1].url).path == "/voice/wait"


def test_callers_hear_of_the_partner_line_the_shift_lead_opens_for_their_language(
    voice_settings: Settings,
    twilio: SimulatedTwilio,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(waiting, "VIEW_SECONDS", 0.0)  # each wait round reads the lead's choice
    lead = make_operator(database, "lena", role="shift_lead", languages=["en"])
    english = _queued_call(twilio, "+32470111004")
    french = _queued_call(twilio, "+32470111005", digit="2")
    english.listen()
    notice = "We are very busy right now. You can also call Tele-Onthaal (106)."
    assert notice not in english.heard

    with database.transaction() as session:
        overflow = lead_actions.open_overflow(
            session,
            lead,
            "en",
            "partner:tele_onthaal",
            languages=voice_settings.language_codes,
            stats=load_stats_settings(voice_settings),
            cfg=voice_settings.queue,
        )
    english.heard.clear()
    french.heard.clear()
    english.listen()
    french.listen()
    assert notice in english.heard
    assert not any("Tele-Onthaal" in line or "Télé" in line for line in french.heard)

    with database.transaction() as session:
        lead_actions.close_overflow(session, lead, overflow.id)
    english.heard.clear()
    english.listen()
    assert "You are number 1 in the queue." in english.heard
    assert notice not in english.heard


def test_repeat_calls_on_one_day_are_noticed(
    voice_app: Flask, twilio: SimulatedTwilio, database: Database
) -> None:
    make_operator(database, "ana", languages=["en"])
    for _ in range(2):
        call = _queued_call(twilio, "+32470999888")
        call.hang_up()
    third = _queued_call(twilio, "+32470999888")
    other = _queued_call(twilio, "+32470999777")
    client = voice_app.test_client()
    login(client, "ana")
    facts = client.get(f"/api/voice/calls/{_contact(database, third.sid).id}").get_json()
    assert facts["calls_today"] == 3
    assert facts["country"] == "BE"
    assert set(facts) == {
        "contact_id",
        "state",
        "country",
        "withheld",
        "calls_today",
        "block_pending",
        "callback",
        "block_hours",
    }
    assert (
        client.get(f"/api/voice/calls/{_contact(database, other.sid).id}").get_json()["calls_today"]
        == 1
    )


def test_twilio_retrying_the_queue_step_creates_one_contact(
    twilio: SimulatedTwilio, counts: Any
) -> None:
    call = twilio.call(from_="+32470111222").start()
    call.press("3")
    topic_action = f"{PUBLIC_BASE}/voice/topic?l=en"
    twilio.post(topic_action, call.params(Digits="0"))
    twilio.post(topic_action, call.params(Digits="0"))
    assert counts() == (1, 1)


def test_all_twiml_is_built_by_the_library() -> None:
    import re

    literal = re.compile(r"""["'f]<\??(xml|Response|Say|Play|Gather|Dial|Enqueue|Hangup)""")
    package = Path(__file__).resolve().parents[2] / "telephony"
    for path in package.rglob("*.py"):
        if path.name == "simulator.py":
            continue  # Twilio's side reads TwiML, it never writes it
        assert not literal.search(path.read_text()), f"hand-written TwiML in {path}"


def test_the_place_counts_only_callers_competing_for_the_same_operators(
    twilio: SimulatedTwilio, database: Database
) -> None:
    first_en = _queued_call(twilio, "+32470111001", digit="3")
    arabic = _queued_call(twilio, "+32470111002", digit="4")
    second_en = _queued_call(twilio, "+32470111003", digit="3")
    second_en.listen()
    assert "You are number 2 in the queue." in second_en.heard  # the Arabic caller is not ahead
    arabic.listen()
    assert any(line.endswith(" 1.") for line in arabic.heard[-3:])
    # Once the Arabic caller overflows to any language, they compete with everyone.
    with database.transaction() as session:
        session.execute(
            update(Contact).where(Contact.channel_ref == arabic.sid).values(overflowed_at=utcnow())
        )
    runtime.get().cache.pop("queue_view", None)
    second_en.listen()
    assert second_en.heard[-2] == "You are number 3 in the queue."
    assert first_en.where == "queue"
