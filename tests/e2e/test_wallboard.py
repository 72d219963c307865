"""The shift lead's wallboard in headless Chromium: it reacts live (no reload, no polling) to a
contact arriving, an operator going on a break, and a threshold turning red; screenshots of the
wallboard (TV mode) and of a report are kept as artifacts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from console.db import Database
from console.domain import operators, queue
from console.settings import Settings
from tests.console.stats_support import full_call, set_presence, taxonomy
from tests.support import PASSWORD, make_operator

pytestmark = pytest.mark.e2e


def _login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _history(database: Database, settings: Settings, operator_id: int) -> dt.date:
    """A fortnight of answered and abandoned calls, so the report has something to draw."""
    tax = taxonomy(settings.config_dir)
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - dt.timedelta(days=14)
    set_presence(database, operator_id, "available", start)
    for day in range(14):
        for i in range(3 + day % 4):
            arrive = start + dt.timedelta(days=day, hours=8 + i)
            full_call(
                database,
                settings.queue,
                tax,
                operator_id,
                arrive,
                5 + 9 * i,
                240,
                60,
                details={"victimisation": ["assault"]},
            )
    set_presence(database, operator_id, "offline", today - dt.timedelta(hours=1))
    return start.date()


def test_the_wallboard_reacts_live_and_a_red_threshold_alerts_the_lead(
    browser: Browser, live_app: Any, database: Database, live_settings: Settings, artifacts: Path
) -> None:
    make_operator(database, "lea", role="shift_lead", presence=None)
    history = make_operator(database, "hana", presence=None)
    first_day = _history(database, live_settings, history)
    make_operator(database, "ana", languages=["nl", "fr"])
    karim = make_operator(database, "karim", languages=["ar", "fr"])

    lead = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    _login(lead, live_app.base, "lea")
    expect(lead).to_have_url(f"{live_app.base}/lead")
    expect(lead.locator("#lead[data-ready='1']")).to_be_attached()
    expect(lead.locator("#connection")).to_have_text("live")
    expect(lead.locator("#stat-waiting")).to_have_text("0")
    expect(lead.locator("#wallboard-alert")).to_be_hidden()

    # A contact arrives: the waiting count and the table change without a reload.
    with database.transaction() as s:
        queue.enqueue(s, channel="voice", language="nl", cfg=live_settings.queue)
    expect(lead.locator("#stat-waiting")).to_have_text("1", timeout=3000)
    expect(lead.locator("#waiting-body tr[data-language='nl']")).to_have_count(1)

    # Karim, the only Arabic speaker, goes on a break.
    with database.transaction() as s:
        operators.choose_presence(s, operators.get_operator(s, karim), "break")
    karim_row = lead.locator(f"#operators-body tr[data-operator-id='{karim}']")
    expect(karim_row).to_have_attribute("data-presence", "break", timeout=3000)
    expect(lead.locator("#stat-presence li[data-presence='break'] .n")).to_have_text("1")

    # A caller waits in Arabic with nobody to answer: the tile turns red and the lead is alerted.
    with database.transaction() as s:
        queue.enqueue(s, channel="voice", language="ar", cfg=live_settings.queue)
    languages_tile = lead.locator("[data-tile='languages']")
    expect(languages_tile).to_have_attribute("data-level", "red", timeout=3000)
    expect(lead.locator("#wallboard-alert")).to_be_visible()
    expect(lead.locator("#wallboard-alert-text")).to_contain_text("Languages covered")
    expect(lead.locator("#wb-level")).to_have_text("Act now")
    expect(lead.locator("#stat-waiting")).to_have_text("2")
    lead.screenshot(path=str(artifacts / "wallboard-red.png"), full_page=True)

    # A lead answering calls in their own console is alerted there too.
    console = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _login(console, live_app.base, "lea")
    console.goto(f"{live_app.base}/console")
    expect(console.locator("#console[data-ready='1']")).to_be_attached()
    expect(console.locator("#shift-lead-alert")).to_be_visible(timeout=8000)
    expect(console.locator("#shift-lead-alert-text")).to_contain_text("Languages covered")

    # The same board on a screen across the room.
    screen = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    _login(screen, live_app.base, "lea")
    screen.goto(f"{live_app.base}/lead/tv")
    expect(screen.locator("#lead[data-ready='1']")).to_be_attached()
    expect(screen.locator("body.tv")).to_be_attached()
    expect(screen.locator(".topbar")).to_be_hidden()
    expect(screen.locator("[data-tile='languages']")).to_have_attribute("data-level", "red")
    expect(screen.locator("#wallboard-alert")).to_be_visible()
    screen.screenshot(path=str(artifacts / "wallboard-tv.png"))

    # Karim is back: the tile clears on both boards, live.
    with database.transaction() as s:
        operators.choose_presence(s, operators.get_operator(s, karim), "available")
    expect(screen.locator("[data-tile='languages']")).not_to_have_attribute(
        "data-level", "red", timeout=5000
    )
    expect(lead.locator("#wallboard-alert")).to_be_hidden()

    # A report of the past fortnight, with a chart and a table under it.
    lead.goto(
        f"{live_app.base}/lead/reports?axis=day&from={first_day.isoformat()}"
        f"&to={(first_day + dt.timedelta(days=13)).isoformat()}"
    )
    expect(lead.locator("#section-offered svg.chart")).to_be_visible()
    expect(lead.locator("#section-offered tbody tr")).to_have_count(14)
    expect(lead.locator("#section-service_level svg.chart circle").first).to_be_attached()
    lead.screenshot(path=str(artifacts / "report-by-day.png"), full_page=True)
