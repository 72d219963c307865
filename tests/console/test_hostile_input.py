"""Input that JSON or a URL admits but no column can hold gets a 4xx with a message, not a 500."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from console.db import Database
from console.domain import queue
from console.domain.contacts import Contact
from console.settings import Settings
from tests.support import login, make_operator


def _refused(response, status: int = 422) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["message"]
    assert "Traceback" not in body["message"]
    return str(body["message"])


@pytest.mark.parametrize("contact_id", [2**31, 2**63, 10**30])
def test_an_id_past_any_column_is_no_route(
    client: FlaskClient, database: Database, contact_id: int
) -> None:
    make_operator(database, "ana")
    token = login(client, "ana")
    response = client.post(
        f"/api/contacts/{contact_id}/accept", json={}, headers={"X-CSRFToken": token}
    )
    _refused(response, 404)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ('{"to_operator_id": 1e400}', "finite"),
        ('{"to_operator_id": 1.5}', "whole number"),
        ('{"to_operator_id": "\u00b2"}', "whole number"),
        ('{"to_operator_id": 99999999999}', "between"),
        ('{"to_operator_id": "\\ud800"}', "Unicode"),
    ],
)
def test_numbers_and_text_nothing_can_store_are_refused(
    client: FlaskClient, database: Database, settings: Settings, raw: str, says: str
) -> None:
    make_operator(database, "ana")
    with database.transaction() as s:
        cid = queue.enqueue(s, channel="voice", language="nl", cfg=settings.queue).id
    token = login(client, "ana")
    assert (
        client.post(
            f"/api/contacts/{cid}/accept", json={}, headers={"X-CSRFToken": token}
        ).status_code
        == 200
    )
    response = client.post(
        f"/api/contacts/{cid}/transfer",
        data=raw.encode("utf-8"),
        headers={"X-CSRFToken": token, "Content-Type": "application/json"},
    )
    assert says in _refused(response)
    with database.transaction(write=False) as s:
        assert s.get_one(Contact, cid).state == "active"  # nothing changed


def test_query_numbers_and_report_dates_out_of_range_are_refused(
    client: FlaskClient, database: Database
) -> None:
    make_operator(database, "ada", role="admin")
    login(client, "ada")
    assert "between" in _refused(client.get(f"/api/records/audit?before={10**30}"))
    assert "whole number" in _refused(client.get("/api/records/audit?before=%C2%B2"))
    assert client.get("/api/records/audit?before=5").status_code == 200
    page = client.get("/lead/reports?from=9999-12-01&to=9999-12-31")
    assert page.status_code == 422
    assert "2199-12-31" in page.get_data(as_text=True)
    csv = client.get("/lead/reports.csv?from=0001-01-01&to=0001-01-31")
    assert csv.status_code == 422


def test_a_consent_longer_than_its_scope_allows_is_refused(
    client: FlaskClient, database: Database, settings: Settings
) -> None:
    make_operator(database, "ana")
    with database.transaction() as s:
        cid = queue.enqueue(s, channel="voice", language="nl", cfg=settings.queue).id
    token = login(client, "ana")
    client.post(f"/api/contacts/{cid}/accept", json={}, headers={"X-CSRFToken": token})
    response = client.post(
        f"/api/contacts/{cid}/consents",
        json={"scope": "transcript", "method": "chat_checkbox", "days": 10**9},
        headers={"X-CSRFToken": token},
    )
    assert "between 1 and" in _refused(response)
