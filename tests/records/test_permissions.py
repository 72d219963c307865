"""The role × action matrix: who reaches identity, the audit and the export, in the domain and
over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient

from console.db import Database, utcnow
from console.domain import cases, consent, identity, permissions
from console.domain.consent import Method, Scope
from console.domain.permissions import AccessDenied, Action
from console.settings import Settings
from tests.records.conftest import held_contact
from tests.support import login, make_operator

# (who, action) -> allowed, for a consent on a contact `handler` took and a case `assignee` holds.
EXPECTED: dict[tuple[str, Action], bool] = {}
for action in (
    Action.GRANT_CONSENT,
    Action.STORE_IDENTITY,
    Action.READ_IDENTITY,
    Action.WITHDRAW_CONSENT,
):
    EXPECTED |= {
        ("handler", action): True,
        ("successor", action): True,
        ("assignee", action): True,
        ("other_operator", action): False,
        ("lead", action): True,
        ("admin", action): True,
        ("system", action): True,
    }
for action, allowed_roles in (
    (Action.ERASE_CASE, {"admin", "system"}),
    (Action.VIEW_AUDIT, {"admin"}),
    (Action.EXPORT, {"lead", "admin", "system"}),
):
    for who in ("handler", "successor", "assignee", "other_operator", "lead", "admin", "system"):
        EXPECTED[(who, action)] = who in allowed_roles


@pytest.fixture
def world(database: Database, settings: Settings) -> dict[str, object]:
    ids: dict[str, int | None] = {
        "handler": make_operator(database, "hanna"),
        "successor": make_operator(database, "simon"),
        "assignee": make_operator(database, "asha"),
        "other_operator": make_operator(database, "otto"),
        "lead": make_operator(database, "lea", role="shift_lead"),
        "admin": make_operator(database, "adam", role="admin"),
        "system": None,
    }
    handler, successor, assignee = ids["handler"], ids["successor"], ids["assignee"]
    assert handler
    assert successor
    assert assignee
    contact_id = held_contact(database, settings, handler)
    from console.domain import queue

    with database.transaction() as s:
        leg = queue.transfer(s, contact_id, handler, settings.queue, to_operator_id=successor)
        queue.claim(s, leg.id, successor)
        case = cases.open_case(s, contact_id, operator_id=handler)
        cases.assign(s, case.id, assignee)
        consent_id = consent.grant(
            s,
            contact_id=contact_id,
            case_id=case.id,
            scope=Scope.CASE_FOLLOW_UP,
            method=Method.VERBAL,
            operator_id=handler,
            expires_at=utcnow() + dt.timedelta(days=30),
        ).id
        identity.store_identity(s, consent_id, "phone", "+32 470 00 00 01", actor_id=handler)
    return {"ids": ids, "contact_id": contact_id, "consent_id": consent_id}


def test_matrix(database: Database, world: dict[str, object]) -> None:
    ids = world["ids"]
    assert isinstance(ids, dict)
    contact_id = world["contact_id"]
    assert isinstance(contact_id, int)
    got = {}
    with database.transaction(write=False) as s:
        for who, action in EXPECTED:
            got[(who, action)] = permissions.allowed(s, ids[who], action, contact_id=contact_id)
    assert got == EXPECTED


def test_identity_read_follows_the_matrix_in_the_domain(
    database: Database, world: dict[str, object]
) -> None:
    ids = world["ids"]
    assert isinstance(ids, dict)
    consent_id = world["consent_id"]
    assert isinstance(consent_id, int)
    for who in ("handler", "successor", "assignee", "lead", "admin", "system"):
        with database.transaction() as s:
            value = identity.read_identity(
                s,
                consent_id,
                "phone",
                actor_id=ids[who],
                reason="case_follow_up",
                scope=Scope.CASE_FOLLOW_UP,
            )
        assert value == "+32 470 00 00 01", who
    with database.transaction() as s, pytest.raises(AccessDenied):
        identity.read_identity(
            s,
            consent_id,
            "phone",
            actor_id=ids["other_operator"],
            reason="case_follow_up",
            scope=Scope.CASE_FOLLOW_UP,
        )
    with database.transaction() as s, pytest.raises(AccessDenied):
        identity.store_identity(s, consent_id, "name", "Somebody", actor_id=ids["other_operator"])
    with database.transaction() as s, pytest.raises(AccessDenied):
        consent.withdraw(s, consent_id, actor_id=ids["other_operator"], reason="other")


def _post(client: FlaskClient, url: str, token: str, body: dict[str, object]):  # type: ignore[no-untyped-def]
    return client.post(url, json=body, headers={"X-CSRFToken": token})


def _shows_the_number(body: str) -> bool:
    """The planted number in any spelling; a bare "470" also turns up in timestamps."""
    return any(spelling in body for spelling in ("470 00 00 01", "470000001", "470 000 001"))


@pytest.mark.parametrize(
    ("username", "read_status", "audit_status", "export_status"),
    [
        ("hanna", 200, 403, 403),
        ("otto", 403, 403, 403),
        ("lea", 200, 403, 200),
        ("adam", 200, 200, 200),
    ],
)
def test_matrix_over_http(
    app: object,
    client: FlaskClient,
    world: dict[str, object],
    username: str,
    read_status: int,
    audit_status: int,
    export_status: int,
) -> None:
    token = login(client, username)
    consent_id = world["consent_id"]
    read = _post(
        client,
        f"/api/consents/{consent_id}/read",
        token,
        {"field": "phone", "reason": "case_follow_up", "scope": "case_follow_up"},
    )
    assert read.status_code == read_status, read.get_data(as_text=True)
    if read_status == 200:
        assert read.get_json() == {"value": "+32 470 00 00 01"}
    else:
        assert read.get_json()["message"]
        assert not _shows_the_number(read.get_data(as_text=True))
    listed = client.get(f"/api/contacts/{world['contact_id']}/consents")
    assert listed.status_code == read_status
    # The list names fields, never values.
    assert not _shows_the_number(listed.get_data(as_text=True))
    assert client.get("/records/audit").status_code == audit_status
    assert client.get("/api/records/audit").status_code == audit_status
    export = client.post(
        "/records/export.csv",
        data={"from": "2026-01-01", "to": "2026-12-31", "csrf_token": token},
    )
    assert export.status_code == export_status


def test_reading_over_http_needs_a_listed_reason(
    app: object, client: FlaskClient, world: dict[str, object]
) -> None:
    token = login(client, "lea")
    response = _post(
        client,
        f"/api/consents/{world['consent_id']}/read",
        token,
        {"field": "phone", "reason": "because I am curious", "scope": "case_follow_up"},
    )
    assert response.status_code == 422
    assert "reason" in response.get_json()["message"]
