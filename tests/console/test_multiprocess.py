"""Two server processes share Redis: a contact enqueued through process A appears on a console
connected to process B, and the routing tick of either may offer it."""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography.fernet import InvalidToken

from console.db import Database
from console.sealed_queue import SealedJSON
from console.settings import socketio_channel
from tests.support import http_login, live_server, make_operator, socket_client


@pytest.mark.redis
@pytest.mark.slow
def test_contact_enqueued_on_a_appears_on_b(
    database: Database, redis_url: str, tmp_path: Path
) -> None:
    if database.is_sqlite and ":memory:" in database.url:
        pytest.skip("needs a database file shared by processes")
    make_operator(database, "ana", presence=None)
    make_operator(database, "lea", role="shift_lead", presence=None)
    secret = secrets.token_urlsafe(32)
    env = {
        "HELPLINE_DATABASE_URL": database.url,
        "HELPLINE_REDIS_URL": redis_url,
        "HELPLINE_SECRET_KEY": secret,
    }
    with (
        live_server(env, log_path=tmp_path / "a.log") as server_a,
        live_server(env, log_path=tmp_path / "b.log") as server_b,
    ):
        operator_http, _ = http_login(server_b, "ana")
        received: list[dict[str, Any]] = []
        arrived = threading.Event()
        socket = socket_client(server_b, operator_http)

        def on_queued(contact: dict[str, Any]) -> None:
            received.append(contact)
            arrived.set()

        socket.on("contact.queued", on_queued)
        # The processes talk on their Redis database's own channel (console.settings).
        tap = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
        tap.subscribe(socketio_channel(redis_url))
        try:
            lead_http, token = http_login(server_a, "lea")
            response = lead_http.post(
                f"{server_a}/api/intake",
                json={"language": "fr", "topic": "general"},
                headers={"X-CSRFToken": token},
                timeout=5,
            )
            assert response.status_code == 201, response.text
            contact_id = response.json()["contact"]["id"]
            assert arrived.wait(5), "process B's console never saw the contact"
            assert [c["id"] for c in received] == [contact_id]
            ref = response.json()["contact"]["ref"]
            # On Redis the event is sealed: its ref shows only once opened with the line's key.
            sealed = SealedJSON(secret)
            heard: list[bytes] = []
            opened: list[str] = []
            deadline = time.monotonic() + 5
            while not any(ref in text for text in opened) and time.monotonic() < deadline:
                message = tap.get_message(timeout=0.5)
                if message:
                    heard.append(message["data"])
                    # Another app of the test run may publish on this channel under its own key.
                    with contextlib.suppress(InvalidToken):
                        opened.append(json.dumps(sealed.loads(message["data"])))
            assert any(ref in text for text in opened), opened[:3]
            assert not any(ref.encode() in data for data in heard), heard[:3]
            # B's console can act on it: the database is the one truth behind both processes.
            snapshot = operator_http.get(f"{server_b}/api/queue", timeout=5).json()
            assert [c["id"] for c in snapshot["waiting"]] == [contact_id]
            health = operator_http.get(f"{server_b}/healthz", timeout=5).json()
            assert health["redis"] == "ok"
            assert health["mode"] == "multi-process"
        finally:
            socket.disconnect()
            tap.close()
    for name in ("a.log", "b.log"):
        log = (tmp_path / name).read_text()
        assert "Traceback" not in log
        assert "127.0.0.1 -" not in log  # no client addresses in the access log
