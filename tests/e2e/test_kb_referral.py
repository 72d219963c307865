"""In Chromium: during a call the operator searches the knowledge base, gives a referral with one
click, wraps up, and sees the referral on the wrapped-up record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from console.db import Database
from console.domain import queue
from console.settings import Settings
from knowledge import demo
from tests.e2e.test_console_flow import _login, fill_wrap_up
from tests.support import make_operator

pytestmark = pytest.mark.e2e


def test_search_refer_and_see_it_on_the_record(
    browser: Browser, live_app: Any, database: Database, live_settings: Settings, artifacts: Path
) -> None:
    with database.transaction() as s:
        demo.load(s)
    make_operator(database, "ana", presence=None)
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    _login(page, live_app.base, "ana")
    expect(page.locator("#console[data-ready='1']")).to_be_attached()
    page.get_by_role("button", name="Available").click()
    with database.transaction() as s:
        queue.enqueue(s, channel="voice", language="en", cfg=live_settings.queue)
    expect(page.locator("#offer")).to_be_visible(timeout=5000)
    page.locator("#offer-accept").click()
    card = page.locator("#mine-list .contact")
    expect(card.locator(".c-state")).to_have_text("active")

    page.keyboard.press("/")
    expect(page.locator("#kb-q")).to_be_focused()
    page.keyboard.type("shelt")  # a prefix, as the operator types
    result = page.locator(".kb-result.kb-service").first
    expect(result).to_contain_text("Emergency Shelter for Women and Children")
    expect(result.locator(".kb-details")).to_contain_text("Phone")
    result.get_by_role("button", name="Give referral").click()
    expect(result.get_by_role("button", name="Referral logged")).to_be_disabled()
    page.screenshot(path=str(artifacts / "kb-referral.png"))

    card.get_by_role("button", name="End conversation").click()
    fill_wrap_up(card, "referred")
    card.get_by_role("button", name="Wrap up and close").click()
    expect(page.locator("#mine-list .contact")).to_have_count(0)
    expect(page.locator("#kb-recent li").first).to_contain_text(
        "referred to Emergency Shelter for Women and Children"
    )
