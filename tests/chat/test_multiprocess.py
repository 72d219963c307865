"""A visitor on process A and their operator on process B, sharing Redis and the database: messages
cross both ways, and the visitor can resume on the other process."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import socketio
from cryptography.fernet import Fernet

from console.db import Database
from tests.chat.conftest import chat_config, chat_contact_id
from tests.support import http_login, live_server, make_operator, socket_client, wait_until


class Inbox:
    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def on(self, name: str) -> Any:
        def record(payload: dict[str, Any]) -> None:
            with self.lock:
                self.items.append((name, payload))

        return record

    def find(self, name: str, **match: Any) -> dict[str, Any] | None:
        with self.lock:
            for event, payload in self.items:
                if event == name and all(payload.get(k) == v for k, v in match.items()):
                    return payload
        return None


def visitor_client(base: str, inbox: Inbox) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    for name in ("chat.widget.message", "chat.widget.status"):
        client.on(name, inbox.on(name), namespace="/chat")
    client.connect(base, namespaces=["/chat"], transports=["websocket"], wait_timeout=10)
    return client


@pytest.mark.redis
@pytest.mark.slow
def test_a_chat_spans_two_processes_through_redis(
    database: Database, redis_url: str, tmp_path: Path
) -> None:
    make_operator(database, "ana")
    env = {
        "HELPLINE_DATABASE_URL": database.url,
        "HELPLINE_REDIS_URL": redis_url,
        "HELPLINE_SECRET_KEY": "two-processes-secret-0123456789",
        "HELPLINE_IDENTITY_KEYS": Fernet.generate_key().decode(),
        "HELPLINE_CONFIG_DIR": str(chat_config(tmp_path / "config")),
        "HELPLINE_INSTANCE_DIR": str(tmp_path / "instance"),
    }
    with (
        live_server(env, log_path=tmp_path / "a.log") as server_a,
        live_server(env, log_path=tmp_path / "b.log") as server_b,
    ):
        http, token = http_login(server_b, "ana")
        operator = socket_client(server_b, http)
        staff = Inbox()
        for name in ("offer.created", "chat.message", "chat.visitor"):
            operator.on(name, staff.on(name))
        widget = Inbox()
        visitor = visitor_client(server_a, widget)
        try:
            started = visitor.call("start", {"language": "en"}, namespace="/chat", timeout=10)
            assert started["ok"], started
            # Redis pub/sub ignores database numbers: other runs' events may pass by; match ours.
            contact_id = chat_contact_id(database, started["token"])
            wait_until(
                lambda: any(
                    name == "offer.created" and payload["contact"]["id"] == contact_id
                    for name, payload in list(staff.items)
                ),
                timeout=10,
                what="the offer of this chat",
            )
            accepted = http.post(
                f"{server_b}/api/contacts/{contact_id}/accept",
                json={},
                headers={"X-CSRFToken": token},
                timeout=5,
            )
            assert accepted.status_code == 200, accepted.text
            wait_until(lambda: widget.find("chat.widget.status", status="active"), timeout=5)

            sent = visitor.call(
                "message", {"client_id": "a1", "text": "from A"}, namespace="/chat", timeout=10
            )
            assert sent["ok"], sent
            got = wait_until(
                lambda: staff.find("chat.message", seq=1, contact_id=contact_id), timeout=5
            )
            assert got == {
                "contact_id": contact_id,
                "seq": 1,
                "sender": "visitor",
                "text": "from A",
                "at": got["at"],
                "client_id": "a1",
            }
            reply = http.post(
                f"{server_b}/api/chat/contacts/{contact_id}/messages",
                json={"client_id": "b1", "text": "from B"},
                headers={"X-CSRFToken": token},
                timeout=5,
            )
            assert reply.status_code == 200, reply.text
            heard = wait_until(lambda: widget.find("chat.widget.message", seq=2), timeout=5)
            assert heard["text"] == "from B"

            # The visitor's connection moves to process B and resumes the same conversation.
            visitor.disconnect()
            wait_until(
                lambda: staff.find("chat.visitor", status="away", contact_id=contact_id), timeout=5
            )
            moved = visitor_client(server_b, Inbox())
            resumed = moved.call(
                "resume", {"token": started["token"]}, namespace="/chat", timeout=10
            )
            assert [m["text"] for m in resumed["messages"]] == ["from A", "from B"]
            moved.disconnect()
        finally:
            operator.disconnect()
            if visitor.connected:
                visitor.disconnect()
    for name in ("a.log", "b.log"):
        log = (tmp_path / name).read_text()
        assert "Traceback" not in log
        assert "from A" not in log
        assert "from B" not in log
        assert "127.0.0.1" not in log.replace("http://127.0.0.1", "")
