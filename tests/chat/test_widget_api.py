"""The widget's HTTP side: page, script, settings and texts in every language, CORS; canned
responses for operators and admins; every chat event type exercised against its schema."""

from __future__ import annotations

from flask import Flask

from chat.events import SCHEMAS
from chat.strings import STRINGS, TOPIC_LABELS
from console.db import Database
from console.domain.events import Event
from console.settings import Settings
from tests.chat.conftest import PARTNER, Operator, Visitor, chat_contact_id


def test_the_widget_settings_are_translated_into_every_configured_language(
    app: Flask, settings: Settings
) -> None:
    client = app.test_client()
    english = client.get("/chat/api/config?lang=en").get_json()
    assert english["open"] is True
    assert english["helpline"]["emergency_number"] == "112"
    assert english["helpline"]["quick_exit_url"] == settings.quick_exit_url
    assert {lang["code"] for lang in english["languages"]} == set(settings.language_codes)
    assert english["strings"]["privacy"].startswith("You stay anonymous")
    assert english["survey"][0]["question"] == "Did you get what you needed?"
    for code in settings.language_codes:
        config = client.get(f"/chat/api/config?lang={code}").get_json()
        assert config["language"] == code
        assert config["dir"] == ("rtl" if code == "ar" else "ltr")
        if code == "en":
            continue
        for key in ("start", "quick_exit", "privacy", "position", "typing", "end"):
            assert config["strings"][key] != english["strings"][key], (code, key)
        assert config["topics"][1]["label"] != english["topics"][1]["label"]
        assert config["survey"][0]["question"] != english["survey"][0]["question"]
    # A regional variant or the browser's preference picks the configured language.
    assert client.get("/chat/api/config?lang=fr-BE").get_json()["language"] == "fr"
    assert (
        client.get("/chat/api/config", headers={"Accept-Language": "ar"}).get_json()["language"]
        == "ar"
    )
    assert set(english["strings"]) == set(STRINGS) - {"privacy_retention"}


def test_every_catalog_translates_every_chat_message(settings: Settings) -> None:
    from babel.messages.pofile import read_po

    from console.i18n import TRANSLATIONS

    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        extracted = {m.id for m in read_po(fh) if m.id}
    wanted = set(STRINGS.values()) | set(TOPIC_LABELS)
    assert wanted <= extracted, "run pybabel extract (see console/i18n.py)"
    for code in settings.language_codes:
        if code == "en":
            continue
        with (TRANSLATIONS / code / "LC_MESSAGES" / "messages.po").open("rb") as fh:
            catalog = {m.id: m.string for m in read_po(fh, locale=code) if m.id}
        missing = sorted(m for m in wanted if not catalog.get(m))
        assert missing == [], f"{code} lacks {missing}"


def test_the_widget_asks_for_no_identity_and_sets_no_cookie(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/chat?lang=nl")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'lang="nl"' in html
    # The title stays in the browser's history after a quick exit: it names nothing of the line.
    assert "<title>Notities</title>" in html
    # No icon to name the line in a tab, and no request for /favicon.ico.
    assert '<link rel="icon" href="data:,">' in html
    assert "Chat" not in html.split("<title>")[1].split("</title>")[0]
    assert "/chat/widget.js" in html
    for response in (page, client.get("/chat/api/config"), client.get("/chat/widget.js")):
        assert "Set-Cookie" not in response.headers
        assert response.headers["Cache-Control"] == "no-store"
    config = client.get("/chat/api/config?lang=en").get_json()
    text = str(config).lower()
    assert "e-mail address" not in text
    assert "your name?" not in text
    script = client.get("/chat/widget.js")
    assert script.status_code == 200
    assert script.mimetype == "text/javascript"


def test_cors_is_granted_to_the_allowed_origins_only(app: Flask) -> None:
    client = app.test_client()
    allowed = client.get("/chat/api/config", headers={"Origin": PARTNER})
    assert allowed.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    other = client.get("/chat/api/config", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    # Staff APIs never answer cross-origin.
    staff = client.get("/api/chat/conversations", headers={"Origin": PARTNER})
    assert staff.status_code == 401
    assert "Access-Control-Allow-Origin" not in staff.headers


def test_canned_responses_per_language_edited_by_admins_only(
    app: Flask, database: Database
) -> None:
    ana = Operator(app, database, "ana")
    boss = Operator(app, database, "boss", role="admin")
    dutch = ana.get("/api/chat/canned?language=nl")["responses"]
    assert [r["key"] for r in dutch][:2] == ["welcome", "take_your_time"]
    assert dutch[0]["text"].startswith("Hallo")
    assert ana.http.get("/api/chat/canned?language=xx").status_code == 422

    form = {"key": "welcome", "language": "nl", "title": "Welkom", "text": "Dag! Ik luister."}
    refused = ana.http.post("/chat/admin/canned", data={**form, "csrf_token": ana.token})
    assert refused.status_code == 403
    assert boss.http.get("/chat/admin/canned").status_code == 200
    saved = boss.http.post("/chat/admin/canned", data={**form, "csrf_token": boss.token})
    assert saved.status_code == 302
    assert ana.get("/api/chat/canned?language=nl")["responses"][0]["text"] == "Dag! Ik luister."
    assert ana.get("/api/chat/canned?language=fr")["responses"][0]["text"].startswith("Bonjour")
    boss.http.post(
        "/chat/admin/canned",
        data={"key": "goodbye", "language": "nl", "action": "hide", "csrf_token": boss.token},
    )
    assert "goodbye" not in [r["key"] for r in ana.get("/api/chat/canned?language=nl")["responses"]]
    boss.http.post(
        "/chat/admin/canned",
        data={"key": "welcome", "language": "nl", "action": "reset", "csrf_token": boss.token},
    )
    assert ana.get("/api/chat/canned?language=nl")["responses"][0]["text"].startswith("Hallo")
    bad = boss.http.post(
        "/chat/admin/canned",
        data={
            "key": "Bad Key!",
            "language": "nl",
            "title": "x",
            "text": "y",
            "csrf_token": boss.token,
        },
    )
    assert bad.status_code == 302  # back to the page, with the reason flashed
    assert "Bad Key!" not in str(ana.get("/api/chat/canned?language=nl"))


def test_every_chat_event_type_is_published_and_valid(
    app: Flask, database: Database, sent_events: list[Event]
) -> None:
    """Events are validated against their schemas as they are published (tests switch that on)."""
    visitor = Visitor(app)
    token = visitor.start()["token"]
    contact_id = chat_contact_id(database, token)
    second = Visitor(app, address="198.51.100.99")
    assert second.start()["queue"]["position"] == 2
    ana = Operator(app, database, "ana")
    ana.accept(contact_id)
    # The one behind moves up: its place is pushed live.
    assert app.extensions["chat.positions"].push() == 1
    assert second.wait_for("chat.widget.queue")["position"] == 1
    visitor.say("hi", "v1")
    ana.send(contact_id, "hello", "o1")
    visitor.emit("typing", {"typing": True})
    ana.ok(f"/api/chat/contacts/{contact_id}/typing", {"typing": True})
    visitor.emit("delivered", {"seqs": [2]})
    ana.ok(f"/api/chat/contacts/{contact_id}/delivered", {"seqs": [1]})
    visitor.disconnect()
    ana.ok(f"/api/contacts/{contact_id}/end")
    ana.wrap_up(contact_id)
    published = {event.type for event in sent_events}
    assert set(SCHEMAS) <= published, set(SCHEMAS) - published
    staff_rooms = {"staff", "leads"}
    for event in sent_events:
        if event.type.startswith("chat.widget."):
            assert event.room.startswith("chat:")
            assert event.namespace == "/chat"
        elif event.type.startswith("chat."):
            assert event.room == f"operator:{ana.id}"
            assert event.namespace == "/"
        assert not (event.room in staff_rooms and "hello" in str(event.payload))
