"""In headless Chromium: an operator wraps up a call and a chat with the full form and triage; the
very serious track reaches the shift lead's page live; the draft survives a reload.

The chat contact is created through the domain API (`queue.enqueue(channel="chat")`), not through
a visitor's widget: this test is about the wrap-up, and the chat channel has its own browser tests.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from console.db import Database
from console.domain import queue
from console.domain.contacts import Contact
from console.domain.outcomes import Outcome
from console.settings import Settings
from tests.support import PASSWORD, make_operator

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    """Human speed: an offer waits as long as in production."""
    return settings.with_overrides(
        background_tasks=True,
        queue=replace(settings.queue, tick_interval=0.1, reservation_timeout=30),
    )


def _login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _arrives_and_is_accepted(
    page: Page, database: Database, settings: Settings, channel: str
) -> tuple[int, Locator]:
    with database.transaction() as s:
        contact_id = queue.enqueue(s, channel=channel, language="en", cfg=settings.queue).id
    expect(page.locator("#offer")).to_be_visible(timeout=5000)
    page.locator("#offer-accept").click()
    card = page.locator(f"#mine-list .contact[data-contact-id='{contact_id}']")
    expect(card.locator("form.record-form[data-ready='1']")).to_be_attached(timeout=5000)
    return contact_id, card


def _fill(card: Locator, *, victimisation: str, need: str, triage_item: str) -> None:
    card.locator("select[name='code']").select_option("information_given")
    card.locator("select[name='caller_role']").select_option("victim")
    card.get_by_label(victimisation, exact=True).check()
    card.get_by_label(need, exact=True).check()
    card.locator("select[name='heard_from']").select_option("police")
    card.get_by_label(triage_item).check()
    expect(card.locator(".suggestion")).to_have_text("Suggested track: very serious")
    expect(card.locator("input[name='triage_track'][value='very_serious']")).to_be_checked()
    card.locator("textarea[name='note']").fill("felt heard")


def _outcome(database: Database, contact_id: int) -> Outcome:
    with database.transaction(write=False) as s:
        return s.scalars(select(Outcome).where(Outcome.contact_id == contact_id)).one()


def test_wrap_up_a_call_and_a_chat_with_triage_and_the_lead_sees_the_alert(
    browser: Browser, live_app: Any, database: Database, live_settings: Settings, artifacts: Path
) -> None:
    make_operator(database, "ana", presence=None, languages=["en"])
    make_operator(database, "lea", role="shift_lead", presence=None)
    base = live_app.base

    lead = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _login(lead, base, "lea")
    expect(lead.locator("#lead-alerts[data-ready='1']")).to_be_attached()
    expect(lead.locator("#connection")).to_have_text("live")
    expect(lead.locator("#alert-empty")).to_be_visible()

    page = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
    _login(page, base, "ana")
    expect(page.locator("#console[data-records-ready='1']")).to_be_attached()
    expect(page.locator("#connection")).to_have_text("live")
    page.get_by_role("button", name="Available").click()
    expect(page.locator("#my-presence")).to_have_text("available")

    # A call: the full form, and a very serious triage confirmed during the call.
    call_id, card = _arrives_and_is_accepted(page, database, live_settings, "voice")
    expect(card.locator(".reminder")).to_contain_text("Do not write names, phone numbers")
    _fill(card, victimisation="Assault", need="Emotional support", triage_item="In danger now")
    card.get_by_role("button", name="Confirm track").click()
    expect(card.locator(".triage-result")).to_contain_text("the shift lead has been alerted")
    alert = lead.locator(f"#alert-list li[data-contact-id='{call_id}']")
    expect(alert).to_be_visible(timeout=3000)
    expect(alert).to_contain_text("Very serious · Call · en")
    expect(lead.locator("#alert-empty")).to_be_hidden()
    lead.screenshot(path=str(artifacts / "records-lead-alert.png"))

    # The draft is on the server: a reload brings the form back as it was.
    expect(card.locator("form.record-form[data-draft-saved]")).to_be_attached(timeout=5000)
    page.reload()
    expect(page.locator("#console[data-records-ready='1']")).to_be_attached()
    card = page.locator(f"#mine-list .contact[data-contact-id='{call_id}']")
    expect(card.locator("form.record-form[data-ready='1']")).to_be_attached(timeout=5000)
    expect(card.get_by_label("Assault", exact=True)).to_be_checked()
    expect(card.locator("select[name='caller_role']")).to_have_value("victim")
    expect(card.locator("input[name='triage_track'][value='very_serious']")).to_be_checked()

    # With the caller's consent, a number is kept (encrypted) and shown again only with a reason.
    card.locator("summary", has_text="Consent and identity").click()
    card.locator("select[name='consent_scope']").select_option("callback")
    card.locator("select[name='consent_method']").select_option("verbal")
    card.get_by_role("button", name="Record consent").click()
    kept = card.locator(".consent[data-status='active']")
    expect(kept).to_have_count(1)
    kept.locator("select[name='identity_field']").select_option("phone")
    kept.locator("input[name='identity_value']").fill("+32 470 12 34 56")
    kept.get_by_role("button", name="Keep").click()
    expect(kept).to_contain_text("kept: phone")
    kept = card.locator(".consent[data-status='active']")
    kept.locator("select[name='read_field']").select_option("phone")
    kept.get_by_role("button", name="Show").click()
    expect(card.locator(".consent-error")).to_contain_text("reason")
    kept.locator("select[name='read_reason']").select_option("callback")
    kept.get_by_role("button", name="Show").click()
    expect(kept.locator(".revealed")).to_have_text("+32 470 12 34 56")

    # A missing required field is refused with a clear message, and nothing is lost.
    card.get_by_label("Emotional support", exact=True).uncheck()
    card.get_by_role("button", name="Wrap up and close").click()
    expect(card.locator(".wrapup-error")).to_have_text("Still to fill in: Needs.")
    card.get_by_label("Emotional support", exact=True).check()
    page.screenshot(path=str(artifacts / "records-call-form.png"), full_page=True)
    card.get_by_role("button", name="Wrap up and close").click()
    expect(page.locator(f"#mine-list .contact[data-contact-id='{call_id}']")).to_have_count(0)
    outcome = _outcome(database, call_id)
    assert outcome.details["victimisation"] == ["assault"]
    assert outcome.details["triage_track"] == "very_serious"

    # A chat: the operator decides the track against the checklist's suggestion... then agrees.
    chat_id, card = _arrives_and_is_accepted(page, database, live_settings, "chat")
    _fill(
        card,
        victimisation="Harassment and stalking",
        need="Legal",
        triage_item="A child is at risk",
    )
    card.get_by_label("Serious", exact=True).check()
    card.get_by_label("Very serious", exact=True).check()
    card.get_by_role("button", name="Confirm track").click()
    expect(lead.locator(f"#alert-list li[data-contact-id='{chat_id}']")).to_contain_text(
        "Very serious · Chat"
    )
    expect(lead.locator("#alert-list li")).to_have_count(2)
    card.get_by_role("button", name="Wrap up and close").click()
    expect(page.locator("#mine-list .contact")).to_have_count(0)
    chat_outcome = _outcome(database, chat_id)
    assert (chat_outcome.channel, chat_outcome.details["needs"]) == ("chat", ["legal"])
    with database.transaction(write=False) as s:
        assert s.get_one(Contact, chat_id).urgent is True
    lead.screenshot(path=str(artifacts / "records-lead-two-alerts.png"))
