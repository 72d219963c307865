"""The knowledge panel's API: search mid-contact, give a referral once, see it on the record."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from console.db import Database
from console.domain import queue
from console.settings import Settings
from knowledge import demo
from tests.support import login, make_operator

SHELTER = "Emergency Shelter for Women and Children"


@pytest.fixture
def on_a_call(client: FlaskClient, database: Database, settings: Settings) -> tuple[str, int]:
    with database.transaction() as s:
        demo.load(s)
    make_operator(database, "ana")
    with database.transaction() as s:
        contact_id = queue.enqueue(s, channel="voice", language="en", cfg=settings.queue).id
    token = login(client, "ana")
    assert (
        client.post(
            f"/api/contacts/{contact_id}/accept", headers={"X-CSRFToken": token}
        ).status_code
        == 200
    )
    return token, contact_id


def _shelter_id(client: FlaskClient) -> str:
    results = client.get("/api/kb/search?q=shelt&lang=en").get_json()["results"]
    assert results[0]["title"] == SHELTER
    assert results[0]["kind"] == "service"
    assert results[0]["phone"]
    return str(results[0]["id"])


def test_search_gives_what_the_operator_reads_out(
    client: FlaskClient, on_a_call: tuple[str, int]
) -> None:
    service_id = _shelter_id(client)
    service = client.get(f"/api/kb/services/{service_id}").get_json()["service"]
    assert service["name"] == SHELTER
    assert SHELTER in service["text"]


def test_a_referral_is_logged_once_and_reaches_the_outcome(
    client: FlaskClient, on_a_call: tuple[str, int]
) -> None:
    token, contact_id = on_a_call
    service_id = _shelter_id(client)
    url = f"/api/contacts/{contact_id}/referrals"
    first = client.post(url, json={"service_id": service_id}, headers={"X-CSRFToken": token})
    assert first.status_code == 201
    again = client.post(url, json={"service_id": service_id}, headers={"X-CSRFToken": token})
    assert again.status_code == 409
    assert again.get_json()["error"] == "duplicate_referral"
    assert [r["name"] for r in client.get(url).get_json()["referrals"]] == [SHELTER]
    done = client.post(
        f"/api/contacts/{contact_id}/wrap-up",
        json={"code": "silent"},
        headers={"X-CSRFToken": token},
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    (record,) = client.get("/api/me/recent").get_json()["records"]
    assert record["contact"]["id"] == contact_id
    assert [r["service_id"] for r in record["referrals"]] == [service_id]


def test_referral_refusals_are_clear(
    client: FlaskClient, on_a_call: tuple[str, int], database: Database
) -> None:
    token, contact_id = on_a_call
    unknown = client.post(
        f"/api/contacts/{contact_id}/referrals",
        json={"service_id": "no-such-service"},
        headers={"X-CSRFToken": token},
    )
    assert unknown.status_code == 404
    make_operator(database, "ben")
    other = client.application.test_client()
    other_token = login(other, "ben")
    service_id = _shelter_id(client)
    theirs = other.post(
        f"/api/contacts/{contact_id}/referrals",
        json={"service_id": service_id},
        headers={"X-CSRFToken": other_token},
    )
    assert theirs.status_code == 403


@pytest.mark.parametrize(
    "query",
    ['"', "'; DROP TABLE contacts; --", "NEAR(a b)", "a* OR -b", "x" * 200, "(((", "é'\"^"],
)
def test_hostile_queries_return_results_or_nothing(
    client: FlaskClient, on_a_call: tuple[str, int], query: str
) -> None:
    response = client.get("/api/kb/search", query_string={"q": query})
    assert response.status_code == 200
    assert isinstance(response.get_json()["results"], list)


def test_overlong_query_and_unknown_language_are_4xx(
    client: FlaskClient, on_a_call: tuple[str, int]
) -> None:
    assert client.get("/api/kb/search", query_string={"q": "x" * 201}).status_code == 422
    assert (
        client.get("/api/kb/search", query_string={"q": "shelter", "lang": "xx"}).status_code == 422
    )
