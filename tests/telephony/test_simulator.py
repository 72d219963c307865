"""The simulator as a newcomer meets it: `helpline simulate call`, and the demo's calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from console.cli import main
from console.db import Database
from console.domain import queue
from console.domain.contacts import Contact
from telephony.simulator import start_demo_calls
from tests.support import ThreadedServer, make_operator, wait_until
from tests.telephony.conftest import AUTH_TOKEN, PUBLIC_BASE, voice_env


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, config_dir: Path, tmp_path: Path
) -> None:
    for name, value in voice_env(database_url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HELPLINE_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("HELPLINE_INSTANCE_DIR", str(tmp_path / "instance"))


def _contacts(database: Database) -> list[Contact]:
    with database.transaction(write=False) as session:
        return list(session.scalars(select(Contact).order_by(Contact.id)))


def test_simulate_call_against_a_running_server(
    voice_app: Flask, database: Database, cli_env: None
) -> None:
    with ThreadedServer(voice_app) as server:
        result = CliRunner().invoke(
            main,
            [
                "--mode",
                "test",
                "simulate",
                "call",
                "--url",
                server.base,
                "--public-base-url",
                PUBLIC_BASE,
                "--from",
                "+32470123123",
                "--press",
                "2",
                "--press",
                "1",
                "--hang-up-in-queue",
            ],
        )
    assert result.exit_code == 0, result.output
    assert "heard: Pour le français, appuyez sur 2." in result.output
    assert "heard: Vous êtes numéro 1 dans la file d'attente." in result.output
    assert "ended (completed)" in result.output
    (contact,) = _contacts(database)
    assert (contact.language, contact.topic, contact.state) == (
        "fr",
        "domestic_violence",
        "abandoned",
    )
    assert "+32470123123" not in result.output.replace("--from", "")


def test_simulate_call_refuses_a_wrong_token(
    voice_app: Flask,
    database: Database,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    expect_logs: Any,
) -> None:
    expect_logs("refused")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "not-the-servers-token")
    with ThreadedServer(voice_app) as server:
        result = CliRunner().invoke(
            main,
            [
                "--mode",
                "test",
                "simulate",
                "call",
                "--url",
                server.base,
                "--public-base-url",
                PUBLIC_BASE,
            ],
        )
    assert result.exit_code != 0
    assert "answered 403" in result.output
    assert _contacts(database) == []


def test_simulate_call_in_process_follows_the_call_to_the_end(
    database: Database, cli_env: None
) -> None:
    result = CliRunner().invoke(
        main,
        [
            "--mode",
            "test",
            "simulate",
            "call",
            "--in-process",
            "--press",
            "3",
            "--press",
            "0",
            "--hang-up-in-queue",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "heard: You are number 1 in the queue." in result.output
    (contact,) = _contacts(database)
    assert contact.state == "abandoned"


def test_simulate_call_in_process_with_an_operator_is_answered_end_to_end(
    database: Database, cli_env: None
) -> None:
    ana = make_operator(database, "ana", languages=["en"], presence=None)
    result = CliRunner().invoke(
        main,
        [
            "--mode",
            "test",
            "simulate",
            "call",
            "--in-process",
            "--press",
            "3",
            "--press",
            "0",
            "--operator",
            "ana",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ana accepted the call" in result.output
    assert f"ringing client:operator_{ana}; the simulated operator answers" in result.output
    assert "heard: Thank you for calling. Goodbye." in result.output
    (contact,) = _contacts(database)
    assert (contact.state, contact.operator_id) == ("wrap_up", ana)


def test_the_demo_stream_of_calls_reaches_the_queue_and_can_be_answered(
    voice_app: Flask, database: Database, jobs: Any
) -> None:
    assert AUTH_TOKEN
    ana = make_operator(database, "ana", languages=["nl", "fr", "en", "ar"])
    demo = start_demo_calls(voice_app, interval=0.2)
    try:
        wait_until(lambda: _contacts(database), timeout=10, what="a simulated call in the queue")
        first = wait_until(
            lambda: next((c for c in _contacts(database) if c.state == "waiting"), None),
            timeout=10,
            what="a waiting call",
        )
        with database.transaction() as session:
            queue.claim(session, first.id, ana)
        # The simulated caller is bridged, "answered", and talks: the contact is live.
        wait_until(
            lambda: any(
                r.call_sid == first.channel_ref for r in demo.twilio.rest_requests("redirect")
            ),
            timeout=10,
            what="the bridge",
        )
    finally:
        demo.stop(timeout=15)
    with database.transaction(write=False) as session:
        live = session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.state.in_(["waiting", "offered"]))
        )
    assert live == 0  # stopping the demo hangs every simulated caller up
    assert all(not t.is_alive() for t in demo.calls)


def test_the_demo_takes_its_calls_from_the_simulated_twilio(
    voice_app: Flask, database: Database, jobs: Any
) -> None:
    """`helpline demo` starts the channels' feeds: telephony's rings at once, through signed
    webhooks, chat's visitors write in, and the demo's own stream then brings callback requests
    only."""
    from console import demo as console_demo

    started = console_demo.start_feeds(voice_app)
    started["chat"].stop()
    try:
        assert set(started) == {"voice", "chat"}
        call = wait_until(
            lambda: next((c for c in _contacts(database) if c.channel == "voice"), None),
            timeout=10,
            what="the demo's first call in the queue",
        )
        assert call.channel_ref  # a call behind it, not a bare queue entry
    finally:
        started["voice"].stop(timeout=15)
    stream = console_demo.ContactStream(
        voice_app.config["HELPLINE_SETTINGS"],
        database,
        channels=console_demo.stream_channels(started),
    )
    with database.transaction() as session:
        arrived = [stream._arrive(session) for _ in range(40)]
    assert {c.channel for c in arrived if c is not None} == {"callback"}
    assert None in arrived  # the fed channels' turns pass: callbacks keep their share
