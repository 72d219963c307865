"""Triage: the checklist suggests, the operator decides; very serious alerts the leads live and
marks the contact (and its case) urgent."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from console.db import Database
from console.domain import cases, events, outcomes, triage
from console.domain.contacts import Contact
from console.domain.errors import NotYourContact, ValidationFailed
from console.domain.records_config import RecordsSettings
from console.domain.triage import Track, TriageAssessment, load_checklist
from console.settings import DEFAULT_CONFIG_DIR, Settings, SettingsError
from tests.records.conftest import held_contact
from tests.support import login, make_operator

CHECKLIST = load_checklist(DEFAULT_CONFIG_DIR / "triage.toml")


@pytest.mark.parametrize(
    ("answers", "suggested"),
    [
        ([], Track.LESS_SERIOUS),
        (["isolated"], Track.LESS_SERIOUS),
        (["injury"], Track.SERIOUS),
        (["injury", "isolated"], Track.SERIOUS),
        (["injury", "escalation", "recent_violence"], Track.VERY_SERIOUS),
        (["immediate_danger"], Track.VERY_SERIOUS),
    ],
)
def test_the_checklist_suggests_a_track(answers: list[str], suggested: Track) -> None:
    assert CHECKLIST.suggest(CHECKLIST.check_answers(answers)) == suggested


def test_a_broken_checklist_stops_start_up(tmp_path: Path) -> None:
    path = tmp_path / "triage.toml"
    path.write_text('[[item]]\ncode = "x"\nlabel = "X"\ntrack = "urgentish"\n')
    with pytest.raises(SettingsError, match=r"triage\.toml: item #1"):
        load_checklist(path)


def test_the_operator_decides_and_very_serious_alerts_the_leads_once(
    database: Database, settings: Settings, sent_events: list[events.Event]
) -> None:
    ana = make_operator(database, "ana")
    cid = held_contact(database, settings, ana)
    with database.transaction() as s:
        case = cases.open_case(s, cid, operator_id=ana)
        decided = triage.assess(
            s, cid, ana, checklist=CHECKLIST, answers=["injury"], track="less_serious"
        )
        assert (decided.suggested, decided.track, decided.alerted) == (
            "serious",
            "less_serious",
            False,
        )
    assert not [e for e in sent_events if e.type == "triage.alert"]
    with database.transaction() as s:
        first = triage.assess(
            s, cid, ana, checklist=CHECKLIST, answers=["immediate_danger"], track=None
        )
        assert (first.track, first.alerted) == ("very_serious", True)
    with database.transaction() as s:
        again = triage.assess(
            s, cid, ana, checklist=CHECKLIST, answers=["immediate_danger"], track="very_serious"
        )
        assert again.alerted is False
    alerts = [e for e in sent_events if e.type == "triage.alert"]
    assert len(alerts) == 1
    assert alerts[0].room == events.ROOM_LEADS
    assert alerts[0].payload["contact_id"] == cid
    assert alerts[0].payload["operator_name"] == "ana"
    urgent_updates = [
        e for e in sent_events if e.type == "contact.updated" and e.payload["urgent"] is True
    ]
    assert urgent_updates
    assert urgent_updates[0].room == events.ROOM_STAFF
    with database.transaction(write=False) as s:
        assert s.get_one(Contact, cid).urgent is True
        assert s.get_one(cases.Case, case.id).urgent is True  # any follow-up sees it first


def test_a_very_serious_wrap_up_without_the_checklist_alerts_too(
    database: Database, settings: Settings, records: RecordsSettings, sent_events: list
) -> None:  # type: ignore[type-arg]
    from tests.records.conftest import kb_service
    from tests.records.test_wrapup import full_body

    kb_service(database, "svc-legal-aid", "Legal Aid Brussels")
    ana = make_operator(database, "ana")
    cid = held_contact(database, settings, ana)
    with database.transaction() as s:
        outcomes.wrap_up(
            s,
            cid,
            ana,
            code="referred",
            taxonomy=records.taxonomy,
            details=full_body(details={"triage_track": "very_serious"})["details"],
            form_version=records.taxonomy.version,
        )
    assert [e.payload["contact_id"] for e in sent_events if e.type == "triage.alert"] == [cid]
    with database.transaction(write=False) as s:
        assessment = s.scalars(select(TriageAssessment)).one()
        assert (assessment.checklist_version, assessment.alerted) == (None, True)


def test_only_the_holder_triages_and_answers_are_checked(
    database: Database, settings: Settings
) -> None:
    ana = make_operator(database, "ana")
    ben = make_operator(database, "ben")
    cid = held_contact(database, settings, ana)
    with database.transaction() as s, pytest.raises(NotYourContact):
        triage.assess(s, cid, ben, checklist=CHECKLIST, answers=[], track=None)
    with database.transaction() as s, pytest.raises(ValidationFailed, match="unknown item"):
        triage.assess(s, cid, ana, checklist=CHECKLIST, answers=["Jan"], track=None)
    with database.transaction() as s, pytest.raises(ValidationFailed, match="track"):
        triage.assess(s, cid, ana, checklist=CHECKLIST, answers=[], track="meh")


def test_triage_over_http(
    app: Flask, client: FlaskClient, database: Database, settings: Settings, sent_events: list
) -> None:  # type: ignore[type-arg]
    ana = make_operator(database, "ana")
    token = login(client, "ana")
    cid = held_contact(database, settings, ana)
    suggestion = client.post(
        "/api/records/suggest", json={"answers": ["threat_to_life"]}, headers={"X-CSRFToken": token}
    )
    assert suggestion.get_json() == {"suggested": "very_serious"}
    response = client.post(
        f"/api/contacts/{cid}/triage",
        json={"answers": ["threat_to_life"], "track": "very_serious"},
        headers={"X-CSRFToken": token},
    )
    assert response.get_json() == {
        "suggested": "very_serious",
        "track": "very_serious",
        "alerted": True,
        "urgent": True,
    }
    assert [e.type for e in sent_events].count("triage.alert") == 1
