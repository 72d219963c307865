"""Browser-test helpers for the chat: a partner site on another origin, logging in, axe-core."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support import PASSWORD, ROOT, free_port

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


class HostSite:
    """A partner's website on its own origin (localhost, another port: another site entirely)
    that embeds the widget with one script tag, and the neutral page quick exit goes to."""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        self.pages: dict[str, str] = {
            "/neutral.html": (
                "<!doctype html><html lang='en'><head><title>Weather</title></head>"
                "<body><main><h1>Weather today</h1><p>Sunny spells.</p></main></body></html>"
            )
        }
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append(self.path)
                body = site.pages.get(self.path.split("?", 1)[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def exit_url(self) -> str:
        return f"{self.origin}/neutral.html"

    def embed(self, app_base: str, path: str = "/partner.html") -> str:
        self.pages[path] = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<title>Partner organisation</title></head><body><main><h1>Partner organisation</h1>"
            "<p>Information for victims of crime.</p></main>"
            f"<script src='{app_base}/chat/widget.js' async></script></body></html>"
        )
        return f"{self.origin}{path}"

    def start(self) -> HostSite:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def host_site() -> Iterator[HostSite]:
    site = HostSite().start()
    try:
        yield site
    finally:
        site.stop()


def login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#console[data-ready='1']")).to_be_attached()
    page.get_by_role("button", name="Available").click()
    expect(page.locator("#my-presence")).to_have_text("available")


def axe_violations(page: Page, include: str | None = None) -> list[dict[str, Any]]:
    """Serious and critical WCAG 2.1 A/AA violations found by axe-core (open shadow roots too)."""
    page.add_script_tag(path=str(AXE))
    context = {"include": [[include]]} if include else None
    results = page.evaluate(
        """async (context) => {
            const tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
            const options = { runOnly: { type: "tag", values: tags } };
            const r = context ? await axe.run(context, options) : await axe.run(document, options);
            return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.map((n) => n.target.join(" ")) }));
        }""",
        context,
    )
    return [v for v in results if v["impact"] in ("serious", "critical")]


def wrap_up_silently(page: Page) -> None:
    """Close the operator's one contact with the non-data outcome "silent", through whichever
    wrap-up form the console shows (the records feature's one-click buttons, or the plain one)."""
    card = page.locator("#mine-list .contact")
    quick = card.get_by_role("button", name="Silent contact")
    try:
        quick.wait_for(state="visible", timeout=3000)
    except PlaywrightTimeout:
        card.locator("select[name='code']").select_option("silent")
        card.get_by_role("button", name="Wrap up and close").click()
    else:
        quick.click()
