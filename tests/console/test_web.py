"""The console's HTTP interface: bad input gets a clear 4xx with a message and changes nothing."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from console.db import Database
from console.domain import queue
from console.domain.contacts import Contact
from console.settings import Settings
from tests.support import PASSWORD, csrf_from, login, make_operator


def _enqueue(database: Database, settings: Settings) -> int:
    with database.transaction() as s:
        return queue.enqueue(s, channel="voice", language="nl", cfg=settings.queue).id


def _post(client: FlaskClient, url: str, token: str, json: object | None = None):  # type: ignore[no-untyped-def]
    return client.post(url, json=json if json is not None else {}, headers={"X-CSRFToken": token})


def _assert_clear_error(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == code
    assert body["message"]
    assert "Traceback" not in body["message"]


def test_accept_then_double_accept_and_other_operator(
    client: FlaskClient, app: Flask, database: Database, settings: Settings
) -> None:
    make_operator(database, "ana")
    make_operator(database, "ben")
    cid = _enqueue(database, settings)
    token = login(client, "ana")
    ok = _post(client, f"/api/contacts/{cid}/accept", token)
    assert ok.status_code == 200
    assert ok.get_json()["contact"]["state"] == "active"
    _assert_clear_error(
        _post(client, f"/api/contacts/{cid}/accept", token), 409, "already_accepted"
    )
    other = app.test_client()
    other_token = login(other, "ben")
    _assert_clear_error(
        _post(other, f"/api/contacts/{cid}/accept", other_token), 409, "contact_unavailable"
    )


def test_unknown_contact_and_illegal_transition(
    client: FlaskClient, database: Database, settings: Settings
) -> None:
    make_operator(database, "ana")
    token = login(client, "ana")
    _assert_clear_error(
        _post(client, "/api/contacts/424242/accept", token), 404, "contact_not_found"
    )
    cid = _enqueue(database, settings)
    _assert_clear_error(_post(client, f"/api/contacts/{cid}/end", token), 403, "not_your_contact")
    _post(client, f"/api/contacts/{cid}/accept", token)
    assert _post(client, f"/api/contacts/{cid}/end", token).status_code == 200
    _assert_clear_error(_post(client, f"/api/contacts/{cid}/end", token), 409, "illegal_transition")
    with database.transaction(write=False) as s:
        assert s.get_one(Contact, cid).state == "wrap_up"


def test_accept_while_on_break_changes_nothing(
    client: FlaskClient, database: Database, settings: Settings
) -> None:
    make_operator(database, "ana", presence="break")
    cid = _enqueue(database, settings)
    token = login(client, "ana")
    _assert_clear_error(
        _post(client, f"/api/contacts/{cid}/accept", token), 409, "operator_unavailable"
    )
    with database.transaction(write=False) as s:
        assert s.get_one(Contact, cid).state == "waiting"


def test_stale_or_missing_csrf_token_is_refused(
    client: FlaskClient, database: Database, settings: Settings
) -> None:
    make_operator(database, "ana")
    cid = _enqueue(database, settings)
    login(client, "ana")
    _assert_clear_error(_post(client, f"/api/contacts/{cid}/accept", "stale-token"), 400, "csrf")
    _assert_clear_error(client.post(f"/api/contacts/{cid}/accept", json={}), 400, "csrf")
    with database.transaction(write=False) as s:
        assert s.get_one(Contact, cid).state == "waiting"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"code": 5}', "must be text"),
        ('{"code": "nonsense"}', "unknown code"),
        ('{"code": "silent", "note": "' + "x" * 600 + '"}', "at most"),
    ],
)
def test_malformed_wrap_up_is_a_422_with_a_message(
    client: FlaskClient, database: Database, settings: Settings, body: str, message: str
) -> None:
    make_operator(database, "ana")
    cid = _enqueue(database, settings)
    token = login(client, "ana")
    _post(client, f"/api/contacts/{cid}/accept", token)
    response = client.post(
        f"/api/contacts/{cid}/wrap-up",
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 422
    assert message in response.get_json()["message"]
    with database.transaction(write=False) as s:
        assert s.get_one(Contact, cid).state == "active"


def test_presence_choice_is_validated(client: FlaskClient, database: Database) -> None:
    make_operator(database, "ana")
    token = login(client, "ana")
    _assert_clear_error(
        _post(client, "/api/presence", token, {"presence": "busy"}), 422, "validation_failed"
    )
    _assert_clear_error(
        _post(client, "/api/presence", token, {"presence": "nap"}), 422, "validation_failed"
    )
    assert (
        _post(client, "/api/presence", token, {"presence": "break"}).get_json()["me"]["presence"]
        == "break"
    )


def test_lockout_after_repeated_failures(
    client: FlaskClient, database: Database, settings: Settings
) -> None:
    make_operator(database, "ana")
    for _ in range(settings.operators.failed_logins_before_lockout):
        page = client.get("/login")
        response = client.post(
            "/login",
            data={
                "username": "ana",
                "password": "wrong",
                "csrf_token": csrf_from(page.get_data(as_text=True)),
            },
        )
        assert response.status_code == 401
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": "ana",
            "password": PASSWORD,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 423
    assert "locked" in response.get_data(as_text=True)


def test_login_refuses_open_redirects(client: FlaskClient, database: Database) -> None:
    make_operator(database, "ana")
    page = client.get("/login")
    response = client.post(
        "/login?next=//evil.example/x",
        data={
            "username": "ana",
            "password": PASSWORD,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/console"


def test_healthz_reports_database_and_redis(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "database": "ok",
        "redis": "not configured",
        "mode": "embedded",
    }


def test_healthz_is_503_when_the_database_is_gone(tmp_path, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    from console.app import create_app, shutdown

    broken = settings.with_overrides(database_url=f"sqlite:///{tmp_path}/missing/dir/x.db")
    app = create_app(broken)
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503
        assert response.get_json()["database"] == "down"
    finally:
        shutdown(app)


def test_pages_carry_a_strict_content_security_policy(client: FlaskClient) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert re.search(r"frame-ancestors 'none'", csp)
