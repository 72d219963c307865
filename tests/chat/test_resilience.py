"""The server process dies mid-chat and another takes its place: both sides resume, and no message
that was acknowledged is lost (nor any written while the server was away)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from chat.models import Message
from console.db import Database
from console.domain.contacts import Contact
from console.settings import Settings
from tests.chat.browser import HostSite, host_site, login
from tests.chat.conftest import chat_config
from tests.support import free_port, live_server, make_operator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def site() -> Iterator[HostSite]:
    with host_site() as partner:
        yield partner


def _server_env(settings: Settings, site: HostSite, tmp_path: Path) -> dict[str, str]:
    return {
        "HELPLINE_DATABASE_URL": settings.database_url,
        # Both processes must share the keys: sessions, and the transcript's encryption.
        "HELPLINE_SECRET_KEY": "resilience-test-secret-key-0123456789",
        "HELPLINE_IDENTITY_KEYS": Fernet.generate_key().decode(),
        "HELPLINE_CONFIG_DIR": str(chat_config(tmp_path / "config")),
        "HELPLINE_INSTANCE_DIR": str(tmp_path / "instance"),
        "HELPLINE_CHAT_ALLOWED_ORIGINS": site.origin,
        "HELPLINE_REDIS_URL": "",
        "HELPLINE_LOG_LEVEL": "warning",
    }


def _texts(locator: Any) -> list[str]:
    return [t.strip() for t in locator.all_inner_texts()]


def test_both_sides_resume_after_the_server_process_is_replaced(
    browser: Browser,
    settings: Settings,
    database: Database,
    site: HostSite,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    make_operator(database, "ana", presence=None)
    env = _server_env(settings, site, tmp_path)
    port = free_port()
    operator = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    visitor = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    panel = operator.locator("#chat-panel")
    acknowledged = ["before 1 (visitor)", "before 2 (operator)", "before 3 (visitor)"]

    with live_server(env, port=port, log_path=tmp_path / "server-a.log") as base:
        login(operator, base, "ana")
        visitor.goto(site.embed(base))
        expect(visitor.locator("#helpline-chat-widget")).to_have_attribute("data-ready", "1")
        visitor.get_by_role("button", name="Chat with us").click()
        visitor.get_by_role("button", name="Start the chat").click()
        expect(operator.locator("#offer")).to_be_visible(timeout=10000)
        operator.locator("#offer-accept").click()
        expect(panel.locator(".chat-view:not([hidden])")).to_have_count(1)
        expect(visitor.get_by_text("You are now talking with a helpline worker.")).to_be_visible()

        box = visitor.get_by_label("Your message")
        box.fill(acknowledged[0])
        box.press("Enter")
        expect(panel.locator(".chat-theirs .chat-text")).to_have_text([acknowledged[0]])
        panel.get_by_label("Reply").fill(acknowledged[1])
        panel.get_by_role("button", name="Send").click()
        expect(visitor.locator(".hc-theirs .hc-text")).to_have_text([acknowledged[1]])
        box.fill(acknowledged[2])
        box.press("Enter")
        expect(panel.locator(".chat-theirs .chat-text")).to_have_text(
            [acknowledged[0], acknowledged[2]]
        )
        # Acknowledged: the visitor's marks say so.
        expect(visitor.locator(".hc-mine .hc-mark")).to_have_text(["Delivered", "Delivered"])
    # The server process is gone (terminated mid-chat, nothing shut down gracefully).

    expect(visitor.get_by_text("Connection lost. Reconnecting…")).to_be_visible(timeout=10000)
    box.fill("during the outage (visitor)")
    box.press("Enter")
    expect(visitor.locator(".hc-mine .hc-mark").last).to_have_text(
        "Not sent yet: waiting for the connection."
    )
    panel.get_by_label("Reply").fill("during the outage (operator)")
    panel.get_by_role("button", name="Send").click()
    expect(panel.locator(".chat-mine .chat-mark").last).to_have_text("sending…")
    visitor.screenshot(path=str(artifacts / "chat-widget-server-down.png"))

    with live_server(env, port=port, log_path=tmp_path / "server-b.log"):
        everything = [
            *acknowledged,
            "during the outage (visitor)",
            "during the outage (operator)",
        ]
        # Both reconnect on their own, resume, and send what was waiting.
        expect(visitor.get_by_text("Connection lost. Reconnecting…")).to_be_hidden(timeout=15000)
        expect(panel.locator(".chat-log .chat-text")).to_have_count(5, timeout=15000)
        expect(visitor.locator(".hc-log .hc-text")).to_have_count(5, timeout=15000)
        visitor_texts = _texts(visitor.locator(".hc-log .hc-text"))
        operator_texts = _texts(panel.locator(".chat-log .chat-text"))
        assert sorted(visitor_texts) == sorted(everything)
        assert sorted(operator_texts) == sorted(everything)
        assert visitor_texts[:3] == acknowledged
        assert operator_texts[:3] == acknowledged

        # A reload resumes the same conversation from the tab's token.
        visitor.reload()
        expect(visitor.locator(".hc-log .hc-text")).to_have_count(5, timeout=10000)
        assert _texts(visitor.locator(".hc-log .hc-text")) == visitor_texts
        box = visitor.get_by_label("Your message")
        box.fill("after the restart")
        box.press("Enter")
        expect(panel.locator(".chat-theirs .chat-text").last).to_have_text("after the restart")
        visitor.screenshot(path=str(artifacts / "chat-widget-resumed.png"))
        operator.screenshot(path=str(artifacts / "chat-panel-resumed.png"), full_page=True)

    with database.transaction(write=False) as s:
        rows = s.scalars(select(Message).order_by(Message.seq)).all()
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]  # each stored once, none lost
        assert s.scalars(select(Contact.state)).all() == ["active"]
