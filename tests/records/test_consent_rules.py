"""One test per rule of consent and identity, on the domain API (SQLite or PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select

from console.db import Database, utcnow
from console.domain import audit, consent, crypto, drafts, identity, notes, rotation
from console.domain.consent import Method, Scope
from console.domain.errors import ValidationFailed
from console.domain.identity import IdentityValue
from console.settings import Settings
from tests.records.conftest import held_contact
from tests.support import login, sqlite_files

NAME = "Hortensia Vandermeersch"
PHONE = "+32 470 11 22 33"


def _grant(
    database: Database,
    contact_id: int,
    operator_id: int | None,
    scope: Scope = Scope.CALLBACK,
    *,
    days: float = 3,
    now: dt.datetime | None = None,
    method: Method = Method.VERBAL,
    organisation: str | None = None,
) -> int:
    now = now or utcnow()
    with database.transaction() as s:
        return consent.grant(
            s,
            contact_id=contact_id,
            case_id=None,
            scope=scope,
            method=method,
            operator_id=operator_id,
            expires_at=now + dt.timedelta(days=days),
            now=now,
            organisation=organisation,
        ).id


def _store(database: Database, consent_id: int, field: str, value: str, actor: int | None) -> None:
    with database.transaction() as s:
        identity.store_identity(s, consent_id, field, value, actor_id=actor)


def _read(database: Database, consent_id: int, field: str, actor: int | None, scope: Scope) -> str:
    with database.transaction() as s:
        return identity.read_identity(
            s, consent_id, field, actor_id=actor, reason="callback", scope=scope
        )


def _values(database: Database, consent_id: int) -> list[IdentityValue]:
    with database.transaction(write=False) as s:
        return list(s.scalars(select(IdentityValue).where(IdentityValue.consent_id == consent_id)))


def test_identity_write_without_consent_is_refused(
    database: Database, settings: Settings, ana: int
) -> None:
    held_contact(database, settings, ana)
    with database.transaction() as s, pytest.raises(consent.ConsentRefused):
        identity.store_identity(s, 999_999, "phone", PHONE, actor_id=ana)
    with database.transaction(write=False) as s:
        assert s.scalar(select(IdentityValue.id)) is None


def test_identity_write_outside_the_scope_is_refused(
    database: Database, settings: Settings, ana: int
) -> None:
    contact_id = held_contact(database, settings, ana, channel="chat")
    transcript = _grant(database, contact_id, None, Scope.TRANSCRIPT, method=Method.CHAT_CHECKBOX)
    with database.transaction() as s, pytest.raises(consent.ConsentRefused, match="does not cover"):
        identity.store_identity(s, transcript, "phone", PHONE, actor_id=ana)
    assert _values(database, transcript) == []


def test_identity_write_under_a_withdrawn_or_expired_consent_is_refused(
    database: Database, settings: Settings, ana: int
) -> None:
    contact_id = held_contact(database, settings, ana)
    withdrawn = _grant(database, contact_id, ana)
    with database.transaction() as s:
        consent.withdraw(s, withdrawn, actor_id=ana, reason="caller_request")
    with database.transaction() as s, pytest.raises(consent.ConsentRefused, match="withdrawn"):
        identity.store_identity(s, withdrawn, "phone", PHONE, actor_id=ana)
    old = utcnow() - dt.timedelta(days=10)
    expired = _grant(database, contact_id, ana, days=1, now=old)
    with database.transaction() as s, pytest.raises(consent.ConsentRefused, match="expired"):
        identity.store_identity(s, expired, "phone", PHONE, actor_id=ana)


def test_identity_is_encrypted_at_rest_and_read_back(
    database: Database, settings: Settings, ana: int
) -> None:
    contact_id = held_contact(database, settings, ana)
    consent_id = _grant(database, contact_id, ana)
    _store(database, consent_id, "phone", PHONE, ana)
    _store(database, consent_id, "name", NAME, ana)
    stored = {v.field: v.ciphertext for v in _values(database, consent_id)}
    assert set(stored) == {"phone", "name"}
    # Not "470" alone: three characters turn up in base64 by chance.
    assert all(PHONE not in token and "4700000" not in token for token in stored.values())
    assert crypto.decrypt(stored["name"]) == NAME
    assert _read(database, consent_id, "phone", ana, Scope.CALLBACK) == PHONE


def test_read_with_the_wrong_scope_is_refused(
    database: Database, settings: Settings, ana: int
) -> None:
    contact_id = held_contact(database, settings, ana)
    consent_id = _grant(database, contact_id, ana, Scope.CALLBACK)
    _store(database, consent_id, "phone", PHONE, ana)
    with database.transaction() as s, pytest.raises(consent.ConsentRefused, match="not case"):
        identity.read_identity(
            s,
            consent_id,
            "phone",
            actor_id=ana,
            reason="case_follow_up",
            scope=Scope.CASE_FOLLOW_UP,
        )
    with database.transaction(write=False) as s:
        reads = s.scalars(
            select(audit.AuditEvent).where(audit.AuditEvent.action == "identity.read")
        ).all()
    assert reads == []


def test_read_needs_a_reason_and_is_audited(
    database: Database, settings: Settings, ana: int
) -> None:
    contact_id = held_contact(database, settings, ana)
    consent_id = _grant(database, contact_id, ana)
    _store(database, consent_id, "phone", PHONE, ana)
    with database.transaction() as s, pytest.raises(ValidationFailed, match="reason"):
        identity.read_identity(
            s, consent_id, "phone", actor_id=ana, reason=" ", scope=Scope.CALLBACK
        )
    assert _read(database, consent_id, "phone", ana, Scope.CALLBACK) == PHONE
    with database.transaction(write=False) as s:
        event = s.scalars(
            select(audit.AuditEvent).where(audit.AuditEvent.action == "identity.read")
        ).one()
    assert (event.actor_id, event.actor_role, event.reason, event.field) == (
        ana,
        "operator",
        "callback",
        "phone",
    )
    assert event.consent_id == consent_id
    assert event.contact_id == contact_id


def test_expiry_erases_identity(database: Database, settings: Settings, ana: int) -> None:
    contact_id = held_contact(database, settings, ana)
    now = utcnow()
    consent_id = _grant(database, contact_id, ana, days=1, now=now)
    _store(database, consent_id, "phone", PHONE, ana)
    with database.transaction() as s:
        assert consent.expire(s, now + dt.timedelta(hours=1)) == 0
    assert len(_values(database, consent_id)) == 1
    with database.transaction() as s:
        assert consent.expire(s, now + dt.timedelta(days=2)) == 1
    assert _values(database, consent_id) == []
    with database.transaction() as s:
        assert consent.expire(s, now + dt.timedelta(days=3)) == 0  # idempotent
        assert consent.get_consent(s, consent_id).erased_at is not None
    with database.transaction() as s, pytest.raises(consent.ConsentRefused, match="expired"):
        identity.read_identity(
            s,
            consent_id,
            "phone",
            actor_id=ana,
            reason="callback",
            scope=Scope.CALLBACK,
            now=now + dt.timedelta(days=2),
        )


def test_withdrawal_erases_identity_and_is_audited(
    database: Database, settings: Settings, ana: int
) -> None:
    contact_id = held_contact(database, settings, ana)
    consent_id = _grant(database, contact_id, ana)
    _store(database, consent_id, "phone", PHONE, ana)
    _store(database, consent_id, "name", NAME, ana)
    with database.transaction() as s:
        consent.withdraw(s, consent_id, actor_id=ana, reason="Caller request")
    assert _values(database, consent_id) == []
    with database.transaction() as s, pytest.raises(consent.ConsentRefused, match="withdrawn"):
        identity.read_identity(
            s, consent_id, "phone", actor_id=ana, reason="x", scope=Scope.CALLBACK
        )
    with database.transaction(write=False) as s:
        actions = [
            (e.action, e.reason, e.details)
            for e in s.scalars(select(audit.AuditEvent).order_by(audit.AuditEvent.id))
        ]
    assert ("consent.withdrawn", "caller_request", {}) in actions
    assert ("identity.erased", "caller_request", {"erased": 2}) in actions


def test_a_withdrawal_in_the_console_leaves_no_ciphertext_in_the_sqlite_files(
    app: Flask, database: Database, settings: Settings, ana: int
) -> None:
    """Erased is erased on disk too: after the request, the ciphertext is in neither the database
    file nor its write-ahead log, where old frames would otherwise keep it."""
    if not database.is_sqlite:
        pytest.skip("PostgreSQL keeps no write-ahead log beside the project's files")
    contact_id = held_contact(database, settings, ana)
    consent_id = _grant(database, contact_id, ana)
    _store(database, consent_id, "phone", PHONE, ana)
    (value,) = _values(database, consent_id)
    planted = value.ciphertext.encode()
    assert any(planted in stored for stored in sqlite_files(database))

    http = app.test_client()
    token = login(http, "ana")
    response = http.post(
        f"/api/consents/{consent_id}/withdraw",
        json={"reason": "caller_request"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert _values(database, consent_id) == []
    assert not any(planted in stored for stored in sqlite_files(database))


def test_rotation_keeps_every_value_readable(
    database: Database, settings: Settings, ana: int
) -> None:
    old_key, new_key = crypto.generate_key(), crypto.generate_key()
    crypto.configure([old_key])
    contact_ids = [held_contact(database, settings, ana, channel="chat") for _ in range(3)]
    consent_ids = [_grant(database, c, ana, Scope.CASE_FOLLOW_UP) for c in contact_ids]
    expected: dict[tuple[int, str], str] = {}
    for i, consent_id in enumerate(consent_ids):
        for field in ("name", "phone", "email", "address", "notes"):
            value = f"{field} of person {i}: {NAME[: 5 + i]}"
            _store(database, consent_id, field, value, ana)
            expected[(consent_id, field)] = value
    with database.transaction() as s:
        notes.keep(s, contact_ids[0], "felt safer after the call", operator_id=ana)
        drafts.save(s, contact_ids[1], ana, {"code": "referred", "note": "draft words"})

    crypto.configure([new_key, old_key])
    assert rotation.pending(database) == len(expected) + 2
    done = rotation.rotate_all(database, batch=4)
    mine = ("identity_values", "contact_notes", "wrapup_drafts")  # channels may add columns
    assert {k: done[k] for k in mine} == {
        "identity_values": 15,
        "contact_notes": 1,
        "wrapup_drafts": 1,
    }
    assert rotation.pending(database) == 0
    assert rotation.rotate_all(database)["identity_values"] == 0  # nothing left to do

    crypto.configure([new_key])  # the old key is gone: everything must still read
    for (consent_id, field), value in expected.items():
        scope = Scope.CASE_FOLLOW_UP
        with database.transaction() as s:
            assert (
                identity.read_identity(
                    s, consent_id, field, actor_id=ana, reason="case_follow_up", scope=scope
                )
                == value
            )
    with database.transaction() as s:
        assert notes.note_text(s, contact_ids[0]) == "felt safer after the call"
        assert drafts.load(s, contact_ids[1], ana) == {"code": "referred", "note": "draft words"}


def test_grant_keeps_expiry_within_policy_and_checks_method_and_organisation(
    database: Database, settings: Settings, ana: int
) -> None:
    call = held_contact(database, settings, ana)
    now = utcnow()
    with database.transaction() as s:
        long = consent.grant(
            s,
            contact_id=call,
            case_id=None,
            scope=Scope.CALLBACK,
            method=Method.IVR_KEYPRESS,
            operator_id=None,
            expires_at=now + dt.timedelta(days=365),
            now=now,
        )
        assert long.expires_at == now + dt.timedelta(days=consent.max_days(Scope.CALLBACK))
    with database.transaction() as s, pytest.raises(ValidationFailed, match="chat"):
        consent.grant(
            s,
            contact_id=call,
            case_id=None,
            scope=Scope.TRANSCRIPT,
            method=Method.CHAT_CHECKBOX,
            operator_id=ana,
            expires_at=now + dt.timedelta(days=1),
        )
    with database.transaction() as s, pytest.raises(ValidationFailed, match="organisation"):
        consent.grant(
            s,
            contact_id=call,
            case_id=None,
            scope=Scope.REFERRAL,
            method=Method.VERBAL,
            operator_id=ana,
            expires_at=now + dt.timedelta(days=1),
        )
    with database.transaction() as s, pytest.raises(ValidationFailed, match="future"):
        consent.grant(
            s,
            contact_id=call,
            case_id=None,
            scope=Scope.CALLBACK,
            method=Method.VERBAL,
            operator_id=ana,
            expires_at=now - dt.timedelta(seconds=1),
        )


@pytest.mark.parametrize(
    ("organisation", "named"),
    [("Dr Quix, 0491 55 66 77", "phone number"), ("quix@example.org", "e-mail address")],
)
def test_a_referral_consent_names_a_service_not_a_way_to_reach_someone(
    database: Database, settings: Settings, ana: int, organisation: str, named: str
) -> None:
    call = held_contact(database, settings, ana)
    with pytest.raises(ValidationFailed, match=f"organisation: .*{named}"):
        _grant(database, call, ana, Scope.REFERRAL, organisation=organisation)
    assert _grant(database, call, ana, Scope.REFERRAL, organisation="CAW Oost-Brabant") > 0
