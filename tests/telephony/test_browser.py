"""The console in headless Chromium loads the phone panel (the Twilio Voice SDK bundle) and gets a
token from the server; accepting a call there bridges it to this operator's browser identity.

Audio cannot be tested here: Twilio's signalling servers are out of reach, so the SDK's
registration fails after the token arrives. What is checked is everything up to that point.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from console.db import Database
from telephony.simulator import install
from tests.support import PASSWORD, ThreadedServer, login, make_operator
from tests.telephony.conftest import PUBLIC_BASE

pytestmark = pytest.mark.e2e

BUNDLE = Path(__file__).resolve().parents[2] / "telephony" / "static" / "dist" / "voice-panel.js"


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def test_the_console_loads_the_voice_sdk_and_gets_a_token(
    browser: Browser, voice_app: Flask, database: Database, jobs: Any, artifacts: Path
) -> None:
    assert BUNDLE.exists(), "run `npm run build` (scripts/setup does) to bundle the voice panel"
    ana = make_operator(database, "ana", languages=["en"])
    twilio = install(voice_app)
    call = twilio.call(from_="+32470111222").start()
    call.press("3")
    call.press("0")

    with ThreadedServer(voice_app) as server:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        failures: list[str] = []
        page.on("pageerror", lambda error: failures.append(str(error)))
        page.goto(f"{server.base}/login")
        page.get_by_label("Username").fill("ana")
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_response(lambda r: r.url.endswith("/api/voice/token")) as answer:
            page.get_by_role("button", name="Log in").click()
        response = answer.value
        assert response.status == 200
        data = response.json()
        assert data["mode"] == "browser"
        assert data["identity"] == f"operator_{ana}"
        claims = _claims(data["token"])
        assert claims["grants"]["identity"] == f"operator_{ana}"
        assert claims["grants"]["voice"]["incoming"] == {"allow": True}
        assert claims["sub"] == "AC" + "0" * 32

        panel = page.locator("#voice-panel")
        expect(panel).to_have_attribute("data-identity", f"operator_{ana}")
        # The SDK's Device was built from the bundle with the server's token.
        device = "window.helplineVoice.device"
        assert page.evaluate(f"() => typeof {device}.register === 'function'")
        assert page.evaluate(f"() => {device}.token") == data["token"]
        assert page.evaluate(f"() => {device}.state") in ("unregistered", "registering")
        expect(panel).to_have_attribute("data-state", "error", timeout=20000)
        expect(page.locator("#voice-status")).to_have_text("cannot reach Twilio")
        expect(page.locator("#voice-incoming")).to_be_hidden()
        expect(page.locator("#voice-call")).to_be_hidden()
        page.screenshot(path=str(artifacts / "voice-panel-token.png"))

        # Accepting the queued call in the console bridges it to this browser's identity.
        expect(page.locator("#console[data-ready='1']")).to_be_attached()
        page.get_by_role("button", name="Available").click()
        page.locator("#queue-body button.take").first.click()
        # (Checked by id: the console has been seen to repeat a card under load; see the note.)
        expect(page.locator("#mine-list .contact").first).to_be_visible()
        redirect = twilio.rest_requests("redirect")[-1]
        assert redirect.call_sid == call.sid
        assert redirect.data["Url"].startswith(f"{PUBLIC_BASE}/voice/bridge?c=")
        assert call.wait_in_queue(timeout=5)
        assert call.dialled == f"client:operator_{ana}"
        assert failures == []


def test_the_token_endpoint_is_for_logged_in_staff_only(voice_app: Flask) -> None:
    client = voice_app.test_client()
    response = client.get("/api/voice/token", headers={"Accept": "application/json"})
    assert response.status_code == 401


def test_the_demos_simulated_line_says_so_instead_of_failing_the_token(
    config_dir: Path, database_url: str, database: Database, tmp_path: Path
) -> None:
    """The demo has no Twilio keys: its phone panel tells the newcomer that calls are simulated,
    where a real line without keys gets a 503 naming the missing settings."""
    from console.app import create_app, shutdown
    from console.settings import load_settings
    from tests.telephony.conftest import voice_env

    env = voice_env(database_url)
    for name in ("TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET"):
        env.pop(name)
    settings = load_settings(
        mode="test", env=env, config_dir=config_dir, instance_dir=tmp_path / "instance"
    ).with_overrides(background_tasks=False)
    app = create_app(settings, database)
    try:
        make_operator(database, "ana", languages=["en"])
        client = app.test_client()
        login(client, "ana")
        refused = client.get("/api/voice/token")
        assert refused.status_code == 503
        assert "TWILIO_API_KEY_SID" in refused.get_json()["message"]
        install(app)
        assert client.get("/api/voice/token").get_json()["mode"] == "simulated"
    finally:
        shutdown(app)
