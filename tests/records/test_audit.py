"""The audit trail: append-only (application and database), no identity, readable by admins."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DatabaseError

from console.db import Database, utcnow
from console.domain import audit, consent, identity
from console.domain.audit import AppendOnly, AuditEvent
from console.domain.consent import Method, Scope
from console.settings import Settings
from tests.records.conftest import held_contact
from tests.support import login, make_operator

NAME = "Philibert Onderdonk"
PHONE = "+32 499 87 65 43"


def _one_event(database: Database) -> int:
    with database.transaction() as s:
        return audit.record(s, audit.Action.EXPORT, actor_id=None, reason="funder_report").id


def _change(database: Database, event_id: int) -> None:
    with database.transaction() as s:
        s.get_one(AuditEvent, event_id).reason = "other"


def _remove(database: Database, event_id: int) -> None:
    with database.transaction() as s:
        s.delete(s.get_one(AuditEvent, event_id))


def test_the_application_cannot_change_or_delete_an_event(database: Database) -> None:
    event_id = _one_event(database)
    with pytest.raises(AppendOnly):
        _change(database, event_id)
    with pytest.raises(AppendOnly):
        _remove(database, event_id)
    with database.transaction(write=False) as s:
        assert s.get_one(AuditEvent, event_id).reason == "funder_report"


@pytest.mark.parametrize(
    "statement",
    [
        update(AuditEvent).values(reason="other"),
        delete(AuditEvent),
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_or_delete_an_event(
    database: Database, statement: object
) -> None:
    _one_event(database)
    with pytest.raises(DatabaseError, match="append-only"), database.transaction() as s:
        s.execute(statement)  # type: ignore[call-overload]
    with pytest.raises(DatabaseError, match="append-only"), database.transaction() as s:
        s.execute(text("UPDATE audit_events SET action = 'x'"))
    with database.transaction(write=False) as s:
        assert s.scalars(select(AuditEvent.reason)).all() == ["funder_report"]


def test_reasons_are_codes_and_details_hold_no_text(database: Database) -> None:
    with database.transaction() as s:
        typed = audit.record(s, audit.Action.IDENTITY_READ, actor_id=None, reason=f"call {NAME}")
        known = audit.record(s, audit.Action.IDENTITY_READ, actor_id=None, reason="Safeguarding")
        assert (typed.reason, known.reason) == ("other", "safeguarding")
        with pytest.raises(ValueError, match="number, a flag or a short code"):
            audit.record(s, audit.Action.EXPORT, actor_id=None, details={"who": NAME})


def test_an_identity_life_cycle_leaves_a_trail_without_identity(
    database: Database, settings: Settings
) -> None:
    ana = make_operator(database, "ana")
    contact_id = held_contact(database, settings, ana)
    with database.transaction() as s:
        consent_id = consent.grant(
            s,
            contact_id=contact_id,
            case_id=None,
            scope=Scope.CALLBACK,
            method=Method.VERBAL,
            operator_id=ana,
            expires_at=utcnow() + dt.timedelta(days=2),
        ).id
        identity.store_identity(s, consent_id, "name", NAME, actor_id=ana)
        identity.store_identity(s, consent_id, "phone", PHONE, actor_id=ana)
        identity.read_identity(
            s, consent_id, "phone", actor_id=ana, reason="callback", scope=Scope.CALLBACK
        )
        consent.withdraw(s, consent_id, actor_id=ana, reason="caller_request")
    with database.transaction(write=False) as s:
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert [e.action for e in events] == [
        "consent.granted",
        "identity.written",
        "identity.written",
        "identity.read",
        "consent.withdrawn",
        "identity.erased",
    ]
    assert all(e.actor_id == ana and e.consent_id == consent_id for e in events)
    dump = repr([e.to_public() for e in events])
    # The number's own spellings: a bare "499" turns up in timestamps' microseconds by chance.
    spellings = (PHONE, "+32499876543", "0499876543", "499876543", "499 87 65 43")
    for needle in (NAME, "Philibert", *spellings, "127.0.0.1"):
        assert needle not in dump
    assert not hasattr(AuditEvent, "ip")
    assert "address" not in AuditEvent.__table__.c


def test_admins_see_the_trail_on_a_page(
    app: object, client: FlaskClient, database: Database, settings: Settings
) -> None:
    make_operator(database, "adam", role="admin")
    _one_event(database)
    with database.transaction() as s:
        audit.record(s, audit.Action.IDENTITY_READ, actor_id=None, reason="callback", field="phone")
    login(client, "adam")
    page = client.get("/records/audit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-action="export"' in html
    assert 'data-action="identity.read"' in html
    assert "Report for funders" in html  # the reason's label
    filtered = client.get("/records/audit?action=export").get_data(as_text=True)
    assert 'data-action="identity.read"' not in filtered
    api = client.get("/api/records/audit").get_json()
    assert [e["action"] for e in api["events"]] == ["identity.read", "export"]
