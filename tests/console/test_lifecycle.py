"""Two operators and 50 contacts through the whole lifecycle over real HTTP and Socket.IO.

Contacts enter through the intake API, the server's routing tick offers them, and each operator's
console (a Socket.IO client) passes on some offers, lets others time out, and accepts, ends and
wraps up the rest, exactly as the browser console does.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any

import pytest
import requests
from sqlalchemy import select

from console.db import Database
from console.domain.contacts import Contact, ContactTransition
from console.domain.queue import Offer
from tests.support import http_login, make_operator, socket_client, wait_until

CONTACTS = 50
# The full record a data outcome needs (config/taxonomy.toml): the role, not the person.
WRAP_UP: dict[str, Any] = {
    "code": "information_given",
    "details": {
        "caller_role": "victim",
        "victimisation": ["assault"],
        "needs": ["emotional_support"],
        "triage_track": "less_serious",
    },
}


class Console:
    """What one operator's browser does, driven by the events the server pushes."""

    def __init__(self, base: str, username: str, policy: Any) -> None:
        self.base = base
        self.http, self.token = http_login(base, username)
        self.policy = policy
        self.seen_queued: set[int] = set()
        self.offers: list[int] = []
        self.closed: list[int] = []
        self.errors: list[str] = []
        self.lost_races: list[int] = []
        self.lock = threading.Lock()
        self.socket = socket_client(base, self.http)
        self.socket.on("contact.queued", self._queued)
        self.socket.on("offer.created", self._offered)

    def post(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return self.http.post(
            f"{self.base}{path}", json=body or {}, headers={"X-CSRFToken": self.token}, timeout=10
        )

    def _queued(self, contact: dict[str, Any]) -> None:
        with self.lock:
            self.seen_queued.add(contact["id"])

    def _offered(self, offer: dict[str, Any]) -> None:
        contact_id = offer["contact"]["id"]
        with self.lock:
            self.offers.append(contact_id)
            times_offered = self.offers.count(contact_id)
        action = self.policy(contact_id, times_offered)
        if action == "ignore":
            return  # the reservation times out on the server
        if action == "reject":
            rejected = self.post(f"/api/contacts/{contact_id}/reject")
            if rejected.status_code == 409 and rejected.json()["error"] == "contact_unavailable":
                return  # the offer lapsed before the pass landed: nothing left to pass on
            self._expect(rejected, 200)
            return
        accepted = self.post(f"/api/contacts/{contact_id}/accept")
        if accepted.status_code == 409 and accepted.json()["error"] == "contact_unavailable":
            # On a loaded machine the click can land after the reservation lapsed and a colleague
            # was offered the contact: the server rightly refuses, as it would in a browser.
            with self.lock:
                self.lost_races.append(contact_id)
            return
        self._expect(accepted, 200)
        self._expect(self.post(f"/api/contacts/{contact_id}/end"), 200)
        self._expect(self.post(f"/api/contacts/{contact_id}/wrap-up", WRAP_UP), 200)
        with self.lock:
            self.closed.append(contact_id)

    def _expect(self, response: requests.Response, status: int) -> None:
        if response.status_code != status:
            with self.lock:
                self.errors.append(f"{response.status_code}: {response.text[:200]}")


def first_offer_policy(contact_id: int, times_offered: int) -> str:
    """Every fifth contact is passed on at first, every seventh left to time out."""
    if times_offered == 1 and contact_id % 5 == 0:
        return "reject"
    if times_offered == 1 and contact_id % 7 == 0:
        return "ignore"
    return "accept"


@pytest.mark.slow
def test_two_operators_take_fifty_contacts_through_the_lifecycle(
    live_app: Any, database: Database
) -> None:
    make_operator(database, "ana", presence=None)
    make_operator(database, "ben", presence=None)
    make_operator(database, "lea", role="shift_lead", presence=None)
    WRAP_UP["taxonomy_version"] = live_app.app.config["HELPLINE_OUTCOMES"].version
    consoles = [Console(live_app.base, name, first_offer_policy) for name in ("ana", "ben")]
    intake, token = http_login(live_app.base, "lea")
    try:
        for console in consoles:
            console._expect(console.post("/api/presence", {"presence": "available"}), 200)
        for i in range(CONTACTS):
            response = intake.post(
                f"{live_app.base}/api/intake",
                json={
                    "language": "nl",
                    "topic": "general",
                    "source": "police" if i % 3 else "self",
                },
                headers={"X-CSRFToken": token},
                timeout=10,
            )
            assert response.status_code == 201, response.text
        wait_until(
            lambda: sum(len(c.closed) for c in consoles) == CONTACTS,
            timeout=240,  # generous: a loaded 2-core CI machine, not a speed target
            what="every contact closed",
        )
    finally:
        for console in consoles:
            console.socket.disconnect()

    for console in consoles:
        assert console.errors == []
        assert len(console.seen_queued) == CONTACTS  # every console saw every arrival live
    closed_by = Counter(cid for c in consoles for cid in c.closed)
    assert len(closed_by) == CONTACTS
    assert set(closed_by.values()) == {1}  # each contact closed exactly once
    assert all(len(c.closed) > 0 for c in consoles)  # the work was shared

    with database.transaction(write=False) as s:
        contacts = s.scalars(select(Contact)).all()
        assert {c.state for c in contacts} == {"closed"}
        assert all(c.operator_id is not None and c.closed_at is not None for c in contacts)
        offers_by_state = Counter(o.state for o in s.scalars(select(Offer)))
        paths: dict[int, list[str]] = defaultdict(list)
        for t in s.scalars(select(ContactTransition).order_by(ContactTransition.id)):
            paths[t.contact_id].append(t.to_state)
    assert offers_by_state["rejected"] >= CONTACTS // 5 - 1
    assert offers_by_state["timeout"] >= 1
    # Most accepts answer an offer; one landing after its offer lapsed picks the waiting contact.
    assert CONTACTS // 2 < offers_by_state["accepted"] <= CONTACTS
    for contact in contacts:
        path = paths[contact.id]
        assert path[0] == "waiting"
        assert path[-3:] == ["active", "wrap_up", "closed"]
        if contact.id % 5 == 0:
            # passed on, back to waiting, offered again
            assert path[:4] == ["waiting", "offered", "waiting", "offered"]
