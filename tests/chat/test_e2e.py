"""The whole chat in headless Chromium, in two browser contexts: a visitor on a partner's website
(another origin) and an operator in the console. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from chat.models import Message
from console.app import create_app, shutdown
from console.db import Database
from console.domain.contacts import Contact
from console.domain.referrals import ContactReferral
from console.settings import Settings
from tests.chat.browser import HostSite, axe_violations, host_site, login, wrap_up_silently
from tests.chat.conftest import chat_config
from tests.support import ThreadedServer, make_operator

pytestmark = pytest.mark.e2e

XSS_PAYLOADS = [
    "<script>window.__xss = 'script'</script>",
    "<img src=x onerror=\"window.__xss = 'img'\">",
    "<svg onload=\"window.__xss = 'svg'\"></svg>",
    "<svg><script>window.__xss = 'svg-script'</script></svg>",
    "javascript:window.__xss = 'url'",
    "<a href=\"javascript:window.__xss = 'link'\">click me</a>",
    "<iframe src=\"javascript:window.__xss = 'iframe'\"></iframe>",
    "\"><img src=x onerror=window.__xss='attr'>",
    "<details open ontoggle=\"window.__xss = 'toggle'\">",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss='math'>",
    "https://evil.example/phish?next=<b>bold</b>",
]


@pytest.fixture
def site() -> Iterator[HostSite]:
    with host_site() as partner:
        yield partner


@contextmanager
def serve_chat(
    settings: Settings,
    database: Database,
    site: HostSite,
    config_dir: Path,
    edits: dict[str, str] | None = None,
) -> Iterator[Any]:
    live = settings.with_overrides(
        background_tasks=True,
        queue=replace(settings.queue, tick_interval=0.1, reservation_timeout=30),
        quick_exit_url=site.exit_url,
        config_dir=chat_config(config_dir, edits=edits),
        env={**settings.env, "HELPLINE_CHAT_ALLOWED_ORIGINS": site.origin},
    )
    app = create_app(live, database)
    try:
        with ThreadedServer(app) as server:
            yield server
    finally:
        shutdown(app)


@pytest.fixture
def chat_server(
    settings: Settings, database: Database, site: HostSite, tmp_path: Path
) -> Iterator[Any]:
    # Forty messages per window: the XSS test sends its payloads in one burst.
    with serve_chat(
        settings, database, site, tmp_path / "live-config", {"messages = 8": "messages = 40"}
    ) as server:
        yield server


def _shadow(page: Page) -> Any:
    return page.locator("#helpline-chat-widget")


def _open_widget(page: Page, url: str) -> None:
    page.goto(url)
    expect(_shadow(page)).to_have_attribute("data-ready", "1")
    page.get_by_role("button", name="Chat with us").click()


def _start_in_dutch(page: Page) -> None:
    page.get_by_label("Language").select_option("nl")
    # The whole widget follows the chosen language.
    expect(page.get_by_role("button", name="Chat starten")).to_be_visible()
    expect(page.get_by_text("Je blijft anoniem.", exact=False)).to_be_visible()
    page.get_by_label("Onderwerp (niet verplicht)").select_option("domestic_violence")
    page.get_by_role("button", name="Chat starten").click()


def test_a_visitor_on_a_partner_site_chats_with_an_operator(
    browser: Browser, chat_server: Any, site: HostSite, database: Database, artifacts: Path
) -> None:
    make_operator(database, "ana", presence=None)
    operator = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    login(operator, chat_server.base, "ana")

    # A phone-sized visitor on the partner's site, another origin entirely.
    visitor = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True).new_page()
    _open_widget(visitor, site.embed(chat_server.base))
    # Nothing asks who the visitor is.
    assert visitor.locator("#helpline-chat-widget input[type='email']").count() == 0
    assert visitor.get_by_label("Name").count() == 0
    # The emergency number is there from the first screen, and while waiting.
    expect(visitor.locator(".hc-emergency-start")).to_be_visible()
    expect(visitor.locator(".hc-emergency-start")).to_have_text("In an emergency, call 112.")
    visitor.screenshot(path=str(artifacts / "chat-widget-start.png"))
    _start_in_dutch(visitor)
    expect(visitor.get_by_text("Je bent nummer 1 in de wachtrij.")).to_be_visible()
    expect(visitor.locator(".hc-emergency-waiting")).to_be_visible()
    expect(visitor.locator(".hc-emergency-waiting")).to_have_text("In nood: bel 112.")
    visitor.screenshot(path=str(artifacts / "chat-widget-waiting.png"))

    # The routing tick offers it to the only free operator, who accepts in the console.
    expect(operator.locator("#offer")).to_be_visible(timeout=5000)
    expect(operator.locator("#offer-text")).to_contain_text("Chat")
    operator.locator("#offer-accept").click()
    panel = operator.locator("#chat-panel")
    expect(panel.locator(".chat-view:not([hidden])")).to_have_count(1)
    expect(panel.locator(".chat-visitor")).to_have_text("Visitor online")
    expect(visitor.get_by_text("Je praat nu met een medewerker van de hulplijn.")).to_be_visible()

    # Typing shows on the other side, both ways; messages go both ways with delivery marks.
    message_box = visitor.get_by_label("Je bericht")
    message_box.press_sequentially("Hallo, ik heb een vraag", delay=20)
    expect(panel.locator(".chat-typing")).to_have_text("Visitor is typing…")
    message_box.press("Enter")
    expect(panel.locator(".chat-log .chat-theirs .chat-text")).to_have_text(
        ["Hallo, ik heb een vraag"]
    )
    expect(visitor.locator(".hc-mine .hc-mark")).to_have_text("Afgeleverd")

    reply = panel.get_by_label("Reply")
    reply.press_sequentially("Dag, ik luister.", delay=20)
    expect(visitor.get_by_text("De medewerker is aan het typen…")).to_be_visible()
    panel.get_by_role("button", name="Send").click()
    expect(visitor.locator(".hc-theirs .hc-text")).to_have_text(["Dag, ik luister."])
    expect(panel.locator(".chat-mine .chat-mark")).to_have_text("delivered")

    # A canned response in the chat's language, and a referral's details from another panel
    # (the knowledge base) go into the reply for the operator to send.
    panel.get_by_label("Canned response").select_option(label="Welcome")
    panel.get_by_role("button", name="Insert").click()
    expect(reply).to_have_value(re.compile(r"^Hallo, bedankt dat je ons schrijft"))
    reply.fill("")
    contact_id = panel.locator(".chat-view").get_attribute("data-contact-id")
    operator.evaluate(
        """([id, text]) => document.dispatchEvent(new CustomEvent("helpline:insert-reply",
            { detail: { contactId: Number(id), text } }))""",
        [contact_id, "Slachtofferhulp Gent: 09 123 45 67 (ma-vr 9-17)"],
    )
    expect(reply).to_have_value("Slachtofferhulp Gent: 09 123 45 67 (ma-vr 9-17)")
    panel.get_by_role("button", name="Send").click()
    expect(visitor.locator(".hc-theirs .hc-text").last).to_have_text(
        "Slachtofferhulp Gent: 09 123 45 67 (ma-vr 9-17)"
    )
    visitor.screenshot(path=str(artifacts / "chat-widget-conversation.png"))
    operator.screenshot(path=str(artifacts / "chat-panel-conversation.png"), full_page=True)

    # Quick exit: Escape three times replaces the page and wipes the widget's storage.
    stored = visitor.evaluate("Object.keys(sessionStorage)")
    assert any(key.startswith("helpline-chat:") for key in stored)
    for _ in range(3):
        visitor.keyboard.press("Escape")
    expect(visitor).to_have_url(site.exit_url)
    assert visitor.evaluate("Object.keys(sessionStorage)") == []
    visitor.go_back()
    assert "partner" not in visitor.url

    # The operator sees that the visitor fled with quick exit, ends the chat and wraps it up.
    expect(panel.locator(".chat-visitor")).to_have_text(
        "The visitor left with quick exit — they may not be safe to contact"
    )
    operator.screenshot(path=str(artifacts / "chat-panel-visitor-left.png"), full_page=True)
    panel.get_by_role("button", name="End chat").click()
    card = operator.locator("#mine-list .contact")
    expect(card.locator(".c-state")).to_have_text("wrap up")
    wrap_up_silently(operator)
    expect(operator.locator("#mine-list .contact")).to_have_count(0)
    expect(panel.locator(".chat-view")).to_have_count(0)
    with database.transaction(write=False) as s:
        assert s.scalars(select(Contact.state)).all() == ["closed"]
        assert s.scalars(select(Message)).all() == []
    # The widget made no request to anyone but the helpline (and the page it sits on).
    assert all(not path.startswith("/chat") for path in site.requests)


def test_xss_payloads_both_ways_stay_text(
    browser: Browser, chat_server: Any, site: HostSite, database: Database, artifacts: Path
) -> None:
    make_operator(database, "ana", presence=None)
    operator = browser.new_context().new_page()
    dialogs: list[str] = []
    operator.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(operator, chat_server.base, "ana")
    visitor = browser.new_context().new_page()
    visitor.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _open_widget(visitor, site.embed(chat_server.base))
    visitor.get_by_role("button", name="Start the chat").click()
    expect(operator.locator("#offer")).to_be_visible(timeout=5000)
    operator.locator("#offer-accept").click()
    panel = operator.locator("#chat-panel")
    expect(panel.locator(".chat-view:not([hidden])")).to_have_count(1)

    box = visitor.get_by_label("Your message")
    for payload in XSS_PAYLOADS:
        box.fill(payload)
        box.press("Enter")
    expect(panel.locator(".chat-theirs .chat-text")).to_have_text(XSS_PAYLOADS, timeout=15000)
    reply = panel.get_by_label("Reply")
    for payload in XSS_PAYLOADS:
        reply.fill(payload)
        panel.get_by_role("button", name="Send").click()
    expect(visitor.locator(".hc-theirs .hc-text")).to_have_text(XSS_PAYLOADS, timeout=15000)
    expect(visitor.locator(".hc-mine .hc-text")).to_have_text(XSS_PAYLOADS)
    expect(panel.locator(".chat-mine .chat-text")).to_have_text(XSS_PAYLOADS)

    for page in (visitor, operator):
        assert page.evaluate("window.__xss === undefined")
    # Nothing became markup: no element of any kind inside a message, and no link anywhere.
    assert visitor.locator(".hc-log .hc-text *").count() == 0
    assert panel.locator(".chat-log .chat-text *").count() == 0
    assert panel.locator(".chat-log a").count() == 0
    assert visitor.locator(".hc-log a").count() == 0
    assert dialogs == []
    operator.screenshot(path=str(artifacts / "chat-panel-xss.png"), full_page=True)
    visitor.screenshot(path=str(artifacts / "chat-widget-xss.png"))


def test_widget_and_panel_have_no_serious_accessibility_violations(
    browser: Browser, chat_server: Any, site: HostSite, database: Database, artifacts: Path
) -> None:
    make_operator(database, "ana", presence=None)
    visitor = browser.new_context().new_page()
    _open_widget(visitor, site.embed(chat_server.base))
    assert axe_violations(visitor) == []
    _start_in_dutch(visitor)
    expect(visitor.get_by_text("Je bent nummer 1 in de wachtrij.")).to_be_visible()
    # axe-core is injected as an inline script, which the console's CSP rightly forbids.
    operator = browser.new_context(
        viewport={"width": 1280, "height": 900}, bypass_csp=True
    ).new_page()
    login(operator, chat_server.base, "ana")
    expect(operator.locator("#offer")).to_be_visible(timeout=5000)
    operator.locator("#offer-accept").click()
    panel = operator.locator("#chat-panel")
    expect(panel.locator(".chat-view:not([hidden])")).to_have_count(1)
    visitor.get_by_label("Je bericht").fill("Hallo")
    visitor.get_by_label("Je bericht").press("Enter")
    expect(panel.locator(".chat-theirs .chat-text")).to_have_text(["Hallo"])
    assert axe_violations(visitor) == []
    assert axe_violations(operator, "#chat-panel") == []

    # Keyboard only: the launcher, then the first field, in a sensible order.
    keyboard = browser.new_context().new_page()
    keyboard.goto(site.embed(chat_server.base, "/keyboard.html"))
    expect(_shadow(keyboard)).to_have_attribute("data-ready", "1")
    keyboard.keyboard.press("Tab")
    keyboard.keyboard.press("Enter")
    focused = keyboard.evaluate(
        "document.querySelector('#helpline-chat-widget').shadowRoot.activeElement.id"
    )
    assert focused == "hc-language"

    # The standalone page, in a right-to-left language.
    page = browser.new_context(bypass_csp=True).new_page()
    page.goto(f"{chat_server.base}/chat?lang=ar")
    expect(page.locator("#helpline-chat-page")).to_have_attribute("data-ready", "1")
    expect(page.get_by_role("button", name="بدء الدردشة")).to_be_visible()
    assert (
        page.locator("#helpline-chat-page").evaluate(
            "host => host.shadowRoot.querySelector('.hc-root').getAttribute('dir')"
        )
        == "rtl"
    )
    assert axe_violations(page) == []
    page.screenshot(path=str(artifacts / "chat-page-arabic.png"))


def test_a_flooding_visitor_is_slowed_and_told_while_another_chat_flows(
    browser: Browser,
    settings: Settings,
    database: Database,
    site: HostSite,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    make_operator(database, "ana", presence=None)
    with serve_chat(settings, database, site, tmp_path / "config") as server:
        operator = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        login(operator, server.base, "ana")
        flooder = browser.new_context().new_page()
        calm = browser.new_context().new_page()
        for visitor in (flooder, calm):
            _open_widget(visitor, site.embed(server.base))
            visitor.get_by_role("button", name="Start the chat").click()
            expect(operator.locator("#offer")).to_be_visible(timeout=5000)
            operator.locator("#offer-accept").click()
            expect(
                visitor.get_by_text("You are now talking with a helpline worker.")
            ).to_be_visible()
        panel = operator.locator("#chat-panel")
        expect(panel.locator(".chat-view")).to_have_count(2)
        flood_view, calm_view = (
            panel.locator(".chat-view").nth(0),
            panel.locator(".chat-view").nth(1),
        )

        box = flooder.get_by_label("Your message")
        flood = [f"flood {i}" for i in range(14)]
        for text in flood:
            box.fill(text)
            box.press("Enter")
        # Slowed, and told so in plain words.
        expect(flooder.get_by_role("alert")).to_have_text(
            "You are sending messages very quickly. "
            "Your next message will be sent in a few seconds."
        )
        flooder.screenshot(path=str(artifacts / "chat-widget-slowed.png"))
        # Meanwhile another visitor's message goes straight through.
        calm.get_by_label("Your message").fill("just one question")
        calm.get_by_label("Your message").press("Enter")
        expect(calm_view.locator(".chat-theirs .chat-text")).to_have_text(
            ["just one question"], timeout=3000
        )
        assert flood_view.locator(".chat-theirs .chat-text").count() < len(flood)
        # The flood is not lost: it arrives at the allowed pace, in order.
        expect(flood_view.locator(".chat-theirs .chat-text")).to_have_text(flood, timeout=25000)
        expect(flooder.get_by_role("alert")).to_be_hidden()


def _chat_waiting(database: Database, settings: Settings, topic: str) -> int:
    """A visitor's chat, started through the chat's domain API (no widget needed here)."""
    from chat import conversations

    with database.transaction() as s:
        _conversation, contact, _token = conversations.start(
            s,
            language="en",
            topic=topic,
            languages=settings.language_codes,
            topics=settings.topic_codes,
            cfg=settings.queue,
            pseudonym=None,
            sid=f"e2e-{topic}",
        )
        return contact.id


def test_two_chats_show_one_at_a_time_and_each_panel_acts_on_the_selected_one(
    browser: Browser, chat_server: Any, database: Database, settings: Settings, artifacts: Path
) -> None:
    from knowledge import demo

    with database.transaction() as s:
        demo.load(s)
    make_operator(database, "ana", presence=None)
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    login(page, chat_server.base, "ana")
    first = _chat_waiting(database, settings, "general")
    expect(page.locator("#offer")).to_be_visible(timeout=5000)
    page.locator("#offer-accept").click()
    panel = page.locator("#chat-panel")
    expect(panel.locator(f"#chat-view-{first}")).to_be_visible()
    second = _chat_waiting(database, settings, "domestic_violence")
    expect(page.locator("#offer")).to_be_visible(timeout=5000)
    page.locator("#offer-accept").click()
    expect(panel.locator(".chat-view")).to_have_count(2)

    # Accepting a second chat leaves the first one in view, and only that one.
    expect(panel.locator(".chat-view:visible")).to_have_count(1)
    expect(panel.locator(".chat-reply:visible")).to_have_count(1)
    expect(panel.locator(f"#chat-view-{first}")).to_be_visible()
    expect(panel.locator(f"#chat-tab-{first}")).to_have_attribute("aria-selected", "true")
    page.screenshot(path=str(artifacts / "chat-panel-two-chats.png"), full_page=True)

    # The knowledge base acts on the chat in view and says so, not on the one accepted last.
    target = page.locator("#kb-target")
    expect(target).to_have_attribute("data-contact-id", str(first))
    page.locator("#kb-q").fill("shelt")
    result = page.locator(".kb-result.kb-service").first
    result.get_by_role("button", name="Insert into reply").click()
    expect(panel.locator(f"#chat-reply-{first}")).to_have_value(re.compile("Shelter"))
    expect(panel.locator(f"#chat-reply-{second}")).to_have_value("")
    result.get_by_role("button", name="Give referral").click()
    expect(result.get_by_role("button", name="Referral logged")).to_be_disabled()

    # Choosing the other chat's tab moves the view, the selected card and the knowledge base.
    panel.locator(f"#chat-tab-{second}").click()
    expect(panel.locator(".chat-view:visible")).to_have_count(1)
    expect(panel.locator(f"#chat-view-{second}")).to_be_visible()
    expect(page.locator(f"#mine-list .contact[data-contact-id='{second}']")).to_have_attribute(
        "aria-current", "true"
    )
    expect(target).to_have_attribute("data-contact-id", str(second))
    expect(result.get_by_role("button", name="Give referral")).to_be_enabled()
    with database.transaction(write=False) as s:
        referred = s.scalars(select(ContactReferral.contact_id)).all()
    assert referred == [first]

    # A one-click outcome cannot end a live chat: it is offered once the chat has ended.
    card = page.locator(f"#mine-list .contact[data-contact-id='{second}']")
    expect(card.locator("form.record-form[data-ready='1']")).to_be_attached(timeout=5000)
    silent = card.get_by_role("button", name="Silent contact")
    expect(silent).to_be_disabled()
    expect(card.locator(".quick-hint")).to_contain_text("End the conversation first")
    silent.click(force=True)
    page.wait_for_timeout(300)
    with database.transaction(write=False) as s:
        assert s.get_one(Contact, second).state == "active"
    panel.get_by_role("button", name="End chat").click()
    expect(card.locator(".c-state")).to_have_text("wrap up")
    expect(silent).to_be_enabled()
    silent.click()
    expect(page.locator(f"#mine-list .contact[data-contact-id='{second}']")).to_have_count(0)
    with database.transaction(write=False) as s:
        assert s.get_one(Contact, second).state == "closed"
        assert s.get_one(Contact, first).state == "active"
    # The chat left in the panel is the one shown and acted on.
    expect(panel.locator(f"#chat-view-{first}")).to_be_visible()
    expect(target).to_have_attribute("data-contact-id", str(first))
