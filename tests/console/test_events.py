"""Every live event type has a schema, and the spine's events are emitted and valid.

Validation is on for the whole suite (conftest), so any test that publishes a payload that does not
match its schema fails; these tests make sure each spine type is actually exercised.
"""

from __future__ import annotations

import jsonschema
import pytest

from console.db import Database
from console.domain import events, live_stats, operators, queue
from console.domain.operators import Presence
from console.settings import Settings
from tests.support import make_operator

SPINE_TYPES = {
    "contact.queued",
    "contact.updated",
    "offer.created",
    "offer.ended",
    "operator.presence",
    "lead.stats",
}


def test_every_registered_schema_is_a_closed_valid_json_schema() -> None:
    assert set(events.SCHEMAS) >= SPINE_TYPES
    for event_type, schema in events.SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema.get("additionalProperties") is False, f"{event_type} schema is open"
        assert event_type in events.DEFAULT_ROOMS or event_type.startswith(
            ("offer.", "chat.", "voice.", "wallboard.", "lead.", "records.", "triage.")
        ), f"{event_type} has no default room and is not sent to a named one"


def test_the_spine_emits_each_of_its_event_types(
    database: Database, settings: Settings, sent_events: list[events.Event]
) -> None:
    ana = make_operator(database, "ana")
    with database.transaction() as s:
        first = queue.enqueue(s, channel="voice", language="nl", cfg=settings.queue).id
        queue.enqueue(s, channel="chat", language="nl", cfg=settings.queue)
    with database.transaction() as s:
        queue.route(s, settings.queue)
    with database.transaction() as s:
        queue.reject(s, first, ana)
    with database.transaction() as s:
        operators.set_presence(s, operators.get_operator(s, ana), Presence.BREAK)
    with database.transaction(write=False) as s:
        events.send_now("lead.stats", live_stats.snapshot(s, settings.tz))

    seen = {e.type for e in sent_events}
    assert seen >= SPINE_TYPES
    for event in sent_events:
        events.validate(event.type, event.payload)
    offers = [e for e in sent_events if e.type == "offer.created"]
    assert {e.room for e in offers} == {events.operator_room(ana)}
    assert {e.room for e in sent_events if e.type == "lead.stats"} == {events.ROOM_LEADS}


def test_payloads_carry_no_free_text_or_identity(
    database: Database, settings: Settings, sent_events: list[events.Event]
) -> None:
    with database.transaction() as s:
        queue.enqueue(
            s,
            channel="voice",
            language="nl",
            cfg=settings.queue,
            channel_ref="CA" + "f" * 32,
        )
    (event,) = sent_events
    assert "channel_ref" not in event.payload
    assert not any("CA" + "f" * 32 in str(v) for v in event.payload.values())


def test_an_invalid_payload_is_refused_before_it_is_sent(database: Database) -> None:
    with database.transaction() as s, pytest.raises(jsonschema.ValidationError):
        events.publish(s, "operator.presence", {"id": 1, "presence": "dancing"})


def test_unknown_event_types_are_refused(database: Database) -> None:
    with database.transaction() as s, pytest.raises(KeyError):
        events.publish(s, "contact.teleported", {})
