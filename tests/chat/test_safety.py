"""Quick exit, blocking by rotating pseudonym, rate and length limits, out-of-hours refusal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from chat.models import Block, Conversation, PseudonymKey
from chat.pseudonyms import Pseudonyms
from chat.ratelimit import MemoryLimiter, RedisLimiter
from console.app import create_app, shutdown
from console.db import Database
from console.domain.contacts import Contact
from console.settings import Settings
from tests.chat.conftest import Operator, Visitor, chat_config, chat_contact_id, settle


def test_quick_exit_beacon_abandons_a_waiting_chat_and_spends_the_token(
    app: Flask, database: Database
) -> None:
    visitor = Visitor(app)
    token = visitor.start()["token"]
    contact_id = chat_contact_id(database, token)
    response = visitor.http.post(
        "/chat/api/leave", data=token, content_type="text/plain;charset=UTF-8"
    )
    assert response.status_code == 204
    with database.transaction(write=False) as s:
        assert s.get_one(Contact, contact_id).state == "abandoned"
    assert Visitor(app).emit("resume", {"token": token})["error"] == "expired"
    # An unknown or empty token is answered the same way, and changes nothing.
    assert visitor.http.post("/chat/api/leave", data="nonsense").status_code == 204


def test_the_operator_sees_visitor_left_after_a_quick_exit_mid_chat(
    app: Flask, database: Database
) -> None:
    visitor = Visitor(app)
    token = visitor.start()["token"]
    contact_id = chat_contact_id(database, token)
    ana = Operator(app, database, "ana")
    ana.accept(contact_id)
    assert visitor.emit("leave")["ok"]
    # "End the chat" is a plain leave: no quick-exit warning.
    assert "reason" not in ana.wait_for("chat.visitor", lambda p: p["status"] == "left")
    state = ana.get(f"/api/chat/contacts/{contact_id}")
    assert (state["visitor"], state["left_reason"]) == ("left", None)
    # The operator still wraps it up as usual.
    ana.ok(f"/api/contacts/{contact_id}/end")
    ana.wrap_up(contact_id)
    with database.transaction(write=False) as s:
        assert s.get_one(Contact, contact_id).state == "closed"


@pytest.mark.parametrize("first", ["beacon", "socket"])
def test_a_quick_exit_mid_chat_warns_the_operator_once_whichever_message_lands_first(
    app: Flask, database: Database, first: str
) -> None:
    visitor = Visitor(app)
    token = visitor.start()["token"]
    contact_id = chat_contact_id(database, token)
    ana = Operator(app, database, "ana")
    ana.accept(contact_id)

    def beacon() -> None:
        response = visitor.http.post(
            "/chat/api/leave", data=token, content_type="text/plain;charset=UTF-8"
        )
        assert response.status_code == 204

    def socket() -> None:
        assert visitor.emit("leave", {"reason": "quick_exit"})["ok"]

    # The widget sends both; the second finds the visitor already gone.
    for send in (beacon, socket) if first == "beacon" else (socket, beacon):
        send()
    warned = ana.wait_for("chat.visitor", lambda p: p.get("reason") == "quick_exit")
    assert warned == {"contact_id": contact_id, "status": "left", "reason": "quick_exit"}
    settle()
    warnings = [
        item
        for item in ana.drain()
        if item["name"] == "chat.visitor" and item["args"][0].get("reason")
    ]
    assert len(warnings) == 1
    # The console reloaded, or reconnected: the warning is still there.
    state = ana.get(f"/api/chat/contacts/{contact_id}")
    assert (state["visitor"], state["left_reason"]) == ("left", "quick_exit")


def test_a_visitor_past_the_rate_limit_is_slowed_and_told_and_others_are_not(
    app: Flask, database: Database
) -> None:
    limit = app.extensions["chat"].chat.messages_per_window
    flooder = Visitor(app, address="203.0.113.5")
    calm = Visitor(app, address="203.0.113.6")
    flooder.start()
    calm.start()
    answers = [flooder.say(f"flood {i}", f"f{i}") for i in range(limit + 5)]
    accepted = [a for a in answers if a["ok"]]
    refused = [a for a in answers if not a["ok"]]
    assert len(accepted) == limit
    assert len(refused) == 5
    assert all(a["error"] == "rate_limited" and a["retry_after"] > 0 for a in refused)
    assert all("too quickly" in a["message"] for a in refused)
    # Another chat is not affected.
    assert all(calm.say(f"calm {i}", f"c{i}")["ok"] for i in range(3))


def test_the_limiters_count_per_key_and_window() -> None:
    limiter = MemoryLimiter()
    assert [limiter.hit("a", 2, 10, now=100.0) for _ in range(3)] == [0.0, 0.0, 10.0]
    assert limiter.hit("b", 2, 10, now=100.0) == 0.0
    assert limiter.hit("a", 2, 10, now=110.0) == 0.0


@pytest.mark.redis
def test_the_redis_limiter_is_shared_between_processes(redis_url: str) -> None:
    one, two = RedisLimiter(redis_url), RedisLimiter(redis_url)
    key = f"test:{dt.datetime.now().timestamp()}"
    assert one.hit(key, 2, 30, now=1000.0) == 0.0
    assert two.hit(key, 2, 30, now=1000.0) == 0.0
    assert one.hit(key, 2, 30, now=1000.0) > 0


def test_an_operator_blocks_a_disruptive_visitor_by_pseudonym(
    app: Flask, database: Database
) -> None:
    visitor = Visitor(app, address="192.0.2.77")
    contact_id = chat_contact_id(database, visitor.start()["token"])
    ana = Operator(app, database, "ana")
    ana.accept(contact_id)
    minutes = app.extensions["chat"].chat.block_durations[0]
    assert ana.post(f"/api/chat/contacts/{contact_id}/block", {"minutes": 7}).status_code == 422
    ana.ok(f"/api/chat/contacts/{contact_id}/block", {"minutes": minutes})
    assert visitor.wait_for("chat.widget.status", lambda p: p["status"] == "blocked")
    with database.transaction(write=False) as s:
        block = s.scalars(select(Block)).one()
        assert "192.0.2.77" not in block.pseudonym
        assert len(block.pseudonym) == 64
        assert s.get_one(Contact, contact_id).state == "wrap_up"

    # The same address cannot open a visitor socket; another one can.
    again = Visitor(app, address="192.0.2.77")
    assert not again.connected
    assert Visitor(app, address="192.0.2.78").connected


def test_a_block_follows_the_visitor_across_a_key_rotation(database: Database) -> None:
    pseudonyms = Pseudonyms(database, rotation_seconds=3600, secret_key="the line's secret")
    day1 = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.UTC)
    day1_next = day1 + dt.timedelta(hours=1)
    first = pseudonyms.of("192.0.2.9", day1)
    assert first == pseudonyms.of("192.0.2.9", day1)
    assert first != pseudonyms.of("192.0.2.10", day1)
    with database.transaction() as s:
        s.add(Block(pseudonym=first, until=day1 + dt.timedelta(minutes=90)))
    current, until = pseudonyms.check("192.0.2.9", day1_next)
    assert until is not None
    assert current != first
    with database.transaction() as s:
        # Carried forward under the new key: still blocked once the old key is destroyed.
        assert pseudonyms.destroy_old_keys(s, day1 + dt.timedelta(hours=2)) == 1
        assert s.get(PseudonymKey, pseudonyms.epoch(day1)) is None
    _, still = pseudonyms.check("192.0.2.9", day1 + dt.timedelta(hours=1, minutes=5))
    assert still is not None
    _, other = pseudonyms.check("192.0.2.10", day1_next)
    assert other is None


def test_out_of_hours_the_widget_shows_hours_and_the_chat_is_refused(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    closed = '[weekdays]\n[alternatives]\nnl = "Bel 106, dag en nacht."\n'
    application = create_app(
        settings.with_overrides(config_dir=chat_config(tmp_path / "closed", hours=closed)),
        database,
    )
    try:
        config = application.test_client().get("/chat/api/config?lang=nl").get_json()
        assert config["open"] is False
        assert config["alternatives"] == "Bel 106, dag en nacht."
        assert config["strings"]["emergency"] == "In nood: bel 112."
        assert [row["hours"] for row in config["hours"]] == ["Gesloten"] * 7
        visitor = Visitor(application)
        assert visitor.emit("start", {"language": "nl"})["error"] == "out_of_hours"
        with database.transaction(write=False) as s:
            assert s.scalars(select(Conversation)).all() == []
    finally:
        shutdown(application)


def test_a_visitor_cannot_start_twice_or_with_unknown_choices(app: Flask) -> None:
    visitor = Visitor(app)
    assert visitor.emit("start", {"language": "xx"})["error"] == "validation_failed"
    assert visitor.emit("start", {"language": "nl", "topic": "nope"})["error"] == (
        "validation_failed"
    )
    visitor.start(topic=None)
    assert visitor.emit("start", {"language": "nl"})["error"] == "chat_ended"


def test_new_chats_from_one_pseudonym_are_limited(app: Flask) -> None:
    limit = app.extensions["chat"].chat.starts_per_hour
    answers = [Visitor(app, address="198.51.100.200").emit("start", {"language": "en"})]
    answers += [
        Visitor(app, address="198.51.100.200").emit("start", {"language": "en"})
        for _ in range(limit)
    ]
    assert sum(1 for a in answers if a["ok"]) == limit
    assert answers[-1]["error"] == "rate_limited"
    assert Visitor(app, address="198.51.100.201").emit("start", {"language": "en"})["ok"]
