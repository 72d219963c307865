"""Fixtures for the chat: a config whose line is always open, and visitors and operators on the
test clients (Flask's and Flask-SocketIO's) that hear the app's events."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from console.app import create_app, shutdown
from console.db import Database
from console.domain import events
from console.extensions import socketio
from console.i18n import compile_catalogs
from console.settings import DEFAULT_CONFIG_DIR, Settings
from tests.support import login, make_operator, wait_until

ALWAYS_OPEN = """
[weekdays]
monday = ["00:00-24:00"]
tuesday = ["00:00-24:00"]
wednesday = ["00:00-24:00"]
thursday = ["00:00-24:00"]
friday = ["00:00-24:00"]
saturday = ["00:00-24:00"]
sunday = ["00:00-24:00"]

[alternatives]
en = "In an emergency, call 112."
"""
PARTNER = "http://partner.test"


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogs() -> None:
    compile_catalogs()


def chat_config(
    directory: Path, *, hours: str = ALWAYS_OPEN, edits: dict[str, str] | None = None
) -> Path:
    """A copy of config/ with the given opening hours (tests must not depend on the clock) and
    `edits` (old text → new text) made to chat.toml."""
    directory.mkdir(parents=True, exist_ok=True)
    for item in DEFAULT_CONFIG_DIR.glob("*.toml"):
        shutil.copy(item, directory / item.name)
    (directory / "hours.toml").write_text(hours)
    chat = (directory / "chat.toml").read_text()
    for old, new in (edits or {}).items():
        assert old in chat, old
        chat = chat.replace(old, new)
    (directory / "chat.toml").write_text(chat)
    return directory


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.with_overrides(
        config_dir=chat_config(tmp_path / "config"),
        env={**settings.env, "HELPLINE_CHAT_ALLOWED_ORIGINS": PARTNER},
    )


@pytest.fixture
def app(settings: Settings, database: Database) -> Iterator[Flask]:
    """The chat's app, whose committed events reach the test sockets.

    They are emitted in the committing thread (the spine's fan-out thread stays off), so nothing
    still runs in the background when the next test empties the database.
    """
    application = create_app(settings, database)

    def emit(event: events.Event) -> None:
        socketio.emit(event.type, event.payload, to=event.room, namespace=event.namespace)

    events.add_sender(emit)
    yield application
    events.remove_sender(emit)
    shutdown(application)


class Visitor:
    """A visitor's browser: a Flask test client (whose REMOTE_ADDR the visitor's socket inherits)
    and a Socket.IO test client on the visitors' namespace."""

    def __init__(self, app: Flask, address: str = "198.51.100.23") -> None:
        self.http = app.test_client()
        self.http.environ_base["REMOTE_ADDR"] = address
        self.sio = socketio.test_client(app, namespace="/chat", flask_test_client=self.http)
        self.inbox: list[dict[str, Any]] = []
        self.token: str | None = None

    @property
    def connected(self) -> bool:
        return bool(self.sio.is_connected("/chat"))

    def emit(self, event: str, data: dict[str, Any] | None = None) -> Any:
        return self.sio.emit(event, data or {}, namespace="/chat", callback=True)

    def start(self, language: str = "nl", topic: str | None = "general") -> dict[str, Any]:
        answer = self.emit("start", {"language": language, "topic": topic})
        assert answer["ok"], answer
        self.token = answer["token"]
        return answer

    def say(self, text: str, client_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.emit("message", {"client_id": client_id, "text": text})
        return answer

    def drain(self) -> list[dict[str, Any]]:
        self.inbox.extend(self.sio.get_received("/chat"))
        return self.inbox

    def wait_for(
        self, name: str, where: Callable[[Any], bool] = lambda _: True, timeout: float = 5
    ) -> Any:
        def found() -> Any:
            for item in self.drain():
                if item["name"] == name and where(item["args"][0]):
                    return item["args"][0]
            return None

        return wait_until(found, timeout=timeout, what=f"visitor event {name}")

    def disconnect(self) -> None:
        if self.connected:
            self.sio.disconnect(namespace="/chat")


class Operator:
    """An operator's console: a logged-in Flask test client and a staff socket."""

    def __init__(self, app: Flask, database: Database, username: str, **options: Any) -> None:
        self.id = make_operator(database, username, **options)
        self.http: FlaskClient = app.test_client()
        self.token = login(self.http, username)
        self.sio = socketio.test_client(app, flask_test_client=self.http)
        assert self.sio.is_connected()
        self.inbox: list[dict[str, Any]] = []

    def post(self, url: str, body: dict[str, Any] | None = None) -> Any:
        return self.http.post(url, json=body or {}, headers={"X-CSRFToken": self.token})

    def ok(self, url: str, body: dict[str, Any] | None = None) -> Any:
        response = self.post(url, body)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def get(self, url: str) -> Any:
        response = self.http.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def accept(self, contact_id: int) -> None:
        self.ok(f"/api/contacts/{contact_id}/accept")

    def wrap_up(self, contact_id: int, code: str = "silent") -> Any:
        """Through the console's own wrap-up endpoint, with an outcome that needs no form."""
        return self.ok(f"/api/contacts/{contact_id}/wrap-up", {"code": code})

    def send(self, contact_id: int, text: str, client_id: str) -> Any:
        return self.ok(
            f"/api/chat/contacts/{contact_id}/messages", {"text": text, "client_id": client_id}
        )["message"]

    def drain(self) -> list[dict[str, Any]]:
        self.inbox.extend(self.sio.get_received("/"))
        return self.inbox

    def wait_for(
        self, name: str, where: Callable[[Any], bool] = lambda _: True, timeout: float = 5
    ) -> Any:
        def found() -> Any:
            for item in self.drain():
                if item["name"] == name and where(item["args"][0]):
                    return item["args"][0]
            return None

        return wait_until(found, timeout=timeout, what=f"operator event {name}")


def chat_contact_id(database: Database, token: str) -> int:
    from chat import conversations

    with database.transaction(write=False) as session:
        conversation = conversations.by_token(session, token)
        assert conversation is not None
        contact = conversations.current_contact(session, conversation)
        assert contact is not None
        return contact.id


def settle(seconds: float = 0.05) -> None:
    """Let the fan-out thread hand over what was committed."""
    time.sleep(seconds)
