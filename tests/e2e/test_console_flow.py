"""A newcomer's first minute, in headless Chromium: log in, see a contact arrive live, accept it,
wrap it up, and watch the shift lead's count of contacts handled today change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from console.db import Database
from console.domain import queue
from console.settings import Settings
from tests.support import PASSWORD, make_operator

pytestmark = pytest.mark.e2e


def _login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def fill_wrap_up(card: Locator, code: str) -> None:
    """The required fields of the default taxonomy: who called (the role), about what, what they
    needed, and the triage track."""
    expect(card.locator("form.record-form[data-ready='1']")).to_be_attached(timeout=5000)
    card.locator("select[name='code']").select_option(code)
    card.locator("select[name='caller_role']").select_option("victim")
    card.get_by_label("Assault", exact=True).check()
    card.get_by_label("Emotional support", exact=True).check()
    card.locator("input[name='triage_track'][value='less_serious']").check()


def test_operator_accepts_and_wraps_up_while_the_lead_watches(
    browser: Browser, live_app: Any, database: Database, live_settings: Settings, artifacts: Path
) -> None:
    make_operator(database, "ana", presence=None)
    make_operator(database, "lea", role="shift_lead", presence=None)

    lead = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    _login(lead, live_app.base, "lea")
    expect(lead).to_have_url(f"{live_app.base}/lead")
    expect(lead.locator("#lead[data-ready='1']")).to_be_attached()
    expect(lead.locator("#stat-handled")).to_have_text("0")

    operator = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    _login(operator, live_app.base, "ana")
    expect(operator).to_have_url(f"{live_app.base}/console")
    expect(operator.locator("#console[data-ready='1']")).to_be_attached()
    expect(operator.locator("#connection")).to_have_text("live")
    operator.get_by_role("button", name="Available").click()
    expect(operator.locator("#my-presence")).to_have_text("available")

    with database.transaction() as s:
        queue.enqueue(
            s, channel="voice", language="fr", topic="domestic_violence", cfg=live_settings.queue
        )

    # It arrives live (no reload), and the routing tick offers it to the only free operator.
    expect(operator.locator("#queue-body tr")).to_have_count(1, timeout=3000)
    expect(operator.locator("#offer")).to_be_visible(timeout=3000)
    expect(operator.locator("#offer-text")).to_contain_text("Français")
    expect(lead.locator("#stat-waiting")).to_have_text("1")
    operator.screenshot(path=str(artifacts / "console-offer.png"))

    operator.locator("#offer-accept").click()
    card = operator.locator("#mine-list .contact")
    expect(card).to_have_count(1)
    expect(card.locator(".c-state")).to_have_text("active")
    expect(operator.locator("#queue-body tr")).to_have_count(0)
    expect(lead.locator("#stat-waiting")).to_have_text("0")

    card.get_by_role("button", name="End conversation").click()
    expect(card.locator(".c-state")).to_have_text("wrap up")
    fill_wrap_up(card, "information_given")
    card.get_by_role("button", name="Wrap up and close").click()
    expect(operator.locator("#mine-list .contact")).to_have_count(0)
    expect(operator.locator("#my-presence")).to_have_text("available")

    expect(lead.locator("#stat-handled")).to_have_text("1", timeout=3000)
    operator.screenshot(path=str(artifacts / "console-after-wrap-up.png"))
    lead.screenshot(path=str(artifacts / "lead-after-wrap-up.png"))


def test_the_console_on_a_phone_and_by_keyboard(
    browser: Browser, live_app: Any, database: Database, live_settings: Settings, artifacts: Path
) -> None:
    """One column at a phone's width; a Take button names its contact and keeps focus while the
    queue changes around it; an offer is named in the page title, seen from another tab."""
    make_operator(database, "ana", presence=None)
    page = browser.new_context(viewport={"width": 390, "height": 800}).new_page()
    _login(page, live_app.base, "ana")
    expect(page.locator("#console[data-ready='1']")).to_be_attached()
    with database.transaction() as s:
        queue.enqueue(s, channel="chat", language="nl", topic="general", cfg=live_settings.queue)
    take = page.locator("#queue-body button.take")
    expect(take).to_have_count(1, timeout=3000)
    expect(take).to_have_attribute("aria-label", "Take Chat, Nederlands, Information and support")
    width = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert width <= 390, f"the console is {width} px wide on a 390 px screen"
    box = take.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 390, "the Take button is off screen"
    page.screenshot(path=str(artifacts / "console-phone.png"), full_page=True)

    take.focus()
    with database.transaction() as s:
        queue.enqueue(s, channel="voice", language="fr", topic="general", cfg=live_settings.queue)
    expect(page.locator("#queue-body tr")).to_have_count(2, timeout=3000)
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == (
        "Take Chat, Nederlands, Information and support"
    )

    title = page.title()
    page.get_by_role("button", name="Available").click()
    expect(page.locator("#offer")).to_be_visible(timeout=3000)
    expect(page).to_have_title(f"Offer waiting · {title}")
    page.locator("#offer-reject").click()
    expect(page).to_have_title(title, timeout=3000)
