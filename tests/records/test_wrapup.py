"""The full wrap-up over HTTP: required fields, taxonomy codes and version, drafts that survive a
reload and follow a transfer, one-click non-data outcomes, the note kept apart and encrypted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from console.db import Database
from console.domain import crypto, notes, outcomes, queue
from console.domain.contacts import Contact
from console.domain.drafts import WrapUpDraft
from console.domain.outcomes import Outcome
from console.domain.taxonomy import load_taxonomy
from console.settings import DEFAULT_CONFIG_DIR, Settings
from tests.records.conftest import T0, held_contact, kb_service
from tests.support import login, make_operator

TAXONOMY = load_taxonomy(DEFAULT_CONFIG_DIR / "taxonomy.toml")


def full_body(**changes: Any) -> dict[str, Any]:
    details: dict[str, Any] = {
        "caller_role": "victim",
        "victimisation": ["assault", "threats"],
        "cross_border": True,
        "country": "fr",
        "needs": ["emotional_support", "legal"],
        "information_given": ["kb-article-12"],
        "referrals": [{"service_id": "svc-legal-aid", "name": "Legal aid line"}],
        "heard_from": "police",
        "triage_track": "serious",
    }
    details |= changes.pop("details", {})
    body: dict[str, Any] = {
        "code": "referred",
        "note": "calmer by the end",
        "taxonomy_version": TAXONOMY.version,
        "details": details,
    }
    body |= changes
    return body


@pytest.fixture(autouse=True)
def _directory(database: Database) -> None:
    kb_service(database, "svc-legal-aid", "Legal Aid Brussels")


def _post(client: FlaskClient, url: str, token: str, body: object):  # type: ignore[no-untyped-def]
    return client.post(url, json=body, headers={"X-CSRFToken": token})


@pytest.fixture
def session_of_ana(app: Flask, client: FlaskClient, database: Database) -> str:
    make_operator(database, "ana")
    return login(client, "ana")


def _ana(database: Database) -> int:
    with database.transaction(write=False) as s:
        from console.domain.operators import Operator

        return s.scalars(select(Operator.id).where(Operator.username == "ana")).one()


def _state(database: Database, contact_id: int) -> str:
    with database.transaction(write=False) as s:
        return s.get_one(Contact, contact_id).state


def test_a_full_wrap_up_records_the_details_and_closes(
    client: FlaskClient, database: Database, settings: Settings, session_of_ana: str
) -> None:
    cid = held_contact(database, settings, _ana(database))
    response = _post(client, f"/api/contacts/{cid}/wrap-up", session_of_ana, full_body())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["outcome"]["taxonomy_version"] == TAXONOMY.version
    assert _state(database, cid) == "closed"
    with database.transaction(write=False) as s:
        outcome = s.scalars(select(Outcome).where(Outcome.contact_id == cid)).one()
        assert outcome.details["country"] == "FR"
        assert outcome.details["victimisation"] == ["assault", "threats"]
        referral = outcome.details["referrals"][0]
        # The directory's name, not what the form typed: no typed text is kept.
        assert (referral["service_id"], referral["name"]) == ("svc-legal-aid", "Legal Aid Brussels")
        assert set(outcome.details) == {
            "caller_role",
            "victimisation",
            "cross_border",
            "country",
            "needs",
            "information_given",
            "referrals",
            "heard_from",
            "triage_track",
            "survey",
        }
        assert outcome.note is None  # the note lives encrypted in contact_notes
        assert notes.note_text(s, cid) == "calmer by the end"
        token = s.get_one(notes.ContactNote, cid).ciphertext
        assert "calmer" not in token
        assert crypto.decrypt(token) == "calmer by the end"
        assert s.get(WrapUpDraft, cid) is None  # the draft goes with the close


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"details": {"caller_role": None}}, 422, "caller role: required"),
        ({"details": {"victimisation": []}}, 422, "victimisation: required"),
        ({"details": {"triage_track": None}}, 422, "triage track: required"),
        ({"details": {"needs": ["telepathy"]}}, 422, "needs: unknown code 'telepathy'"),
        ({"details": {"caller_role": "Jan Peeters"}}, 422, "caller_role: unknown code (not a"),
        ({"details": {"country": "XX"}}, 422, "country: an ISO 3166"),
        ({"details": {"cross_border": True, "country": None}}, 422, "country: required"),
        ({"details": {"mood": "sad"}}, 422, "details: unknown field 'mood'"),
        ({"details": {"referrals": [{"service_id": "svc-none"}]}}, 422, "no such service"),
        ({"code": "telepathy"}, 422, "outcome: unknown code"),
        ({"taxonomy_version": TAXONOMY.version - 1}, 409, "Reload the form: your draft is kept"),
        ({"taxonomy_version": None}, 422, "taxonomy_version: required"),
        ({"note": "call her on 0470 12 34 56"}, 422, "looks like it holds a phone number"),
    ],
)
def test_a_refused_wrap_up_says_why_and_keeps_the_draft(
    client: FlaskClient,
    database: Database,
    settings: Settings,
    session_of_ana: str,
    change: dict[str, Any],
    status: int,
    message: str,
) -> None:
    cid = held_contact(database, settings, _ana(database), wrap_up=True)
    body = full_body(**change)
    response = _post(client, f"/api/contacts/{cid}/wrap-up", session_of_ana, body)
    assert response.status_code == status, response.get_data(as_text=True)
    assert message in response.get_json()["message"]
    assert "Jan Peeters" not in response.get_data(as_text=True)
    assert _state(database, cid) == "wrap_up"
    with database.transaction(write=False) as s:
        assert s.scalar(select(Outcome.id).where(Outcome.contact_id == cid)) is None
    draft = client.get(f"/api/contacts/{cid}/draft").get_json()["draft"]
    assert draft["code"] == body["code"]
    assert draft["details"] == body["details"]
    assert draft.get("note") == body.get("note")


def test_minimal_non_data_outcomes_close_with_one_click_and_keep_nothing(
    client: FlaskClient, database: Database, settings: Settings, session_of_ana: str
) -> None:
    ana = _ana(database)
    for code in ("silent", "hang_up", "abusive", "test", "wrong_number"):
        cid = held_contact(database, settings, ana)
        _post(
            client,
            f"/api/contacts/{cid}/draft",
            session_of_ana,
            {"code": "referred", "details": {"caller_role": "victim"}},
        )
        response = _post(client, f"/api/contacts/{cid}/wrap-up", session_of_ana, {"code": code})
        assert response.status_code == 200, response.get_data(as_text=True)
        with database.transaction(write=False) as s:
            outcome = s.scalars(select(Outcome).where(Outcome.contact_id == cid)).one()
            assert (outcome.code, outcome.details) == (code, {})
            assert s.get(WrapUpDraft, cid) is None


def test_a_data_outcome_needs_the_full_form(
    client: FlaskClient, database: Database, settings: Settings, session_of_ana: str
) -> None:
    cid = held_contact(database, settings, _ana(database))
    response = _post(
        client, f"/api/contacts/{cid}/wrap-up", session_of_ana, {"code": "information_given"}
    )
    assert response.status_code == 422
    assert "taxonomy_version: required" in response.get_json()["message"]
    with_version = {"code": "information_given", "taxonomy_version": TAXONOMY.version}
    response = _post(client, f"/api/contacts/{cid}/wrap-up", session_of_ana, with_version)
    assert response.status_code == 422
    assert "required" in response.get_json()["message"]
    assert _state(database, cid) == "active"


def test_a_draft_survives_a_reload(
    app: Flask, client: FlaskClient, database: Database, settings: Settings, session_of_ana: str
) -> None:
    cid = held_contact(database, settings, _ana(database))
    draft = {
        "code": "referred",
        "details": {"caller_role": "witness", "needs": ["legal"]},
        "note": "half written",
        "triage": {"answers": ["injury"], "track": "serious"},
        "taxonomy_version": TAXONOMY.version,
    }
    assert _post(client, f"/api/contacts/{cid}/draft", session_of_ana, draft).status_code == 200
    reloaded = app.test_client()  # a fresh page: a new login, nothing kept in the browser
    login(reloaded, "ana")
    assert reloaded.get(f"/api/contacts/{cid}/draft").get_json()["draft"] == draft
    with database.transaction(write=False) as s:
        payload = s.get_one(WrapUpDraft, cid).payload
    assert "half written" not in payload
    assert "witness" not in payload


def test_only_the_holder_keeps_a_draft(
    app: Flask, client: FlaskClient, database: Database, settings: Settings, session_of_ana: str
) -> None:
    cid = held_contact(database, settings, _ana(database))
    make_operator(database, "ben")
    other = app.test_client()
    token = login(other, "ben")
    assert _post(other, f"/api/contacts/{cid}/draft", token, {"code": "x"}).status_code == 403
    assert other.get(f"/api/contacts/{cid}/draft").status_code == 403


def test_a_draft_travels_with_a_transfer(
    app: Flask, client: FlaskClient, database: Database, settings: Settings, session_of_ana: str
) -> None:
    ana = _ana(database)
    ben = make_operator(database, "ben")
    cid = held_contact(database, settings, ana)
    draft = {"code": "emotional_support", "details": {"caller_role": "relative_or_friend"}}
    _post(client, f"/api/contacts/{cid}/draft", session_of_ana, draft)
    moved = _post(client, f"/api/contacts/{cid}/transfer", session_of_ana, {"to_operator_id": ben})
    successor = moved.get_json()["contact"]["id"]
    other = app.test_client()
    token = login(other, "ben")
    assert _post(other, f"/api/contacts/{successor}/accept", token, {}).status_code == 200
    with database.transaction(write=False) as s:
        assert s.get(WrapUpDraft, successor) is not None  # copied to the new leg on accept
    assert other.get(f"/api/contacts/{successor}/draft").get_json()["draft"] == draft
    done = _post(
        other,
        f"/api/contacts/{successor}/wrap-up",
        token,
        full_body(code="emotional_support"),
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    with database.transaction(write=False) as s:
        assert s.scalars(select(WrapUpDraft)).all() == []  # both legs' drafts are gone


def test_wrap_up_time_counts_in_handling_time(
    database: Database, settings: Settings, records: Any
) -> None:
    ana = make_operator(database, "ana")
    with database.transaction() as s:
        contact = queue.enqueue(s, channel="voice", language="nl", cfg=settings.queue, now=T0)
        queue.claim(s, contact.id, ana, now=T0 + dt.timedelta(seconds=10))
        queue.start_wrap_up(s, contact.id, ana, now=T0 + dt.timedelta(seconds=310))
        outcomes.wrap_up(
            s,
            contact.id,
            ana,
            code="referred",
            taxonomy=records.taxonomy,
            details=full_body()["details"],
            form_version=records.taxonomy.version,
            now=T0 + dt.timedelta(seconds=430),
        )
        closed = s.get_one(Contact, contact.id)
        # 300 s talking and 120 s wrapping up: both are handling time.
        assert outcomes.handling_seconds(closed) == 420
        assert (closed.closed_at - closed.wrap_up_at).total_seconds() == 120  # type: ignore[operator]
