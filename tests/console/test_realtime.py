"""The per-process background work: the routing tick, which writes only when it has something to
write, and the fan-out's statistics: lead.stats after this process's changes, and the wallboard
only in a process a lead's console is connected to, at most once a second."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from console import realtime
from console.db import Database
from console.domain import events, queue, wallboard
from console.extensions import socketio
from console.settings import Settings
from tests.support import login, make_operator


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _enqueue(database: Database, settings: Settings) -> None:
    with database.transaction() as s:
        queue.enqueue(s, channel="chat", language="nl", cfg=settings.queue)


def _of(sent: list[events.Event], event_type: str) -> list[events.Event]:
    return [e for e in sent if e.type == event_type]


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    """When each wallboard snapshot was computed."""
    times: list[dt.datetime] = []
    real = wallboard.snapshot

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        times.append(dt.datetime.now(dt.UTC))
        return real(*args, **kwargs)

    monkeypatch.setattr(wallboard, "snapshot", counted)
    return times


def _lead_watches(app: Flask, database: Database) -> Any:
    make_operator(database, "lea", role="shift_lead")
    http = app.test_client()
    login(http, "lea")
    return socketio.test_client(app, flask_test_client=http)


def test_no_wallboard_is_computed_while_no_lead_watches(
    app: Flask,
    database: Database,
    settings: Settings,
    sent_events: list[events.Event],
    computed: list[dt.datetime],
) -> None:
    app.extensions["helpline.fanout"].start()
    _enqueue(database, settings)
    assert _wait_for(lambda: bool(_of(sent_events, "lead.stats"))), "no lead.stats after a change"
    time.sleep(0.3)
    assert computed == []
    lead = _lead_watches(app, database)
    _enqueue(database, settings)
    received: list[str] = []

    def lead_has_it() -> bool:
        received.extend(m["name"] for m in lead.get_received())
        return "wallboard.snapshot" in received

    assert _wait_for(lead_has_it), f"the lead's console got {received}"
    assert len(computed) == 1


def test_a_burst_of_changes_recomputes_the_wallboard_at_most_once_a_second(
    app: Flask,
    database: Database,
    settings: Settings,
    sent_events: list[events.Event],
    computed: list[dt.datetime],
) -> None:
    _lead_watches(app, database)
    app.extensions["helpline.fanout"].start()
    for _ in range(6):
        _enqueue(database, settings)
        time.sleep(0.15)
    # The last change is shown once the second is over, whatever came in between.
    assert _wait_for(
        lambda: any(e.payload["waiting"][0]["count"] == 6 for e in sent_events[-3:] if e.local)
    )
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(computed)]
    assert len(computed) >= 2
    assert min(gaps) >= realtime.WALLBOARD_EVERY * 0.95


def test_another_processes_change_refreshes_only_this_processes_wallboard(
    app: Flask,
    database: Database,
    sent_events: list[events.Event],
    computed: list[dt.datetime],
) -> None:
    _lead_watches(app, database)
    fanout = app.extensions["helpline.fanout"]
    fanout.start()
    assert _wait_for(lambda: bool(computed)), "the lead's own log-in changed nothing"
    time.sleep(realtime.WALLBOARD_EVERY)
    computed.clear()
    sent_events.clear()
    fanout.heard("chat.message")  # not a change the lead's figures show
    time.sleep(0.3)
    assert computed == []
    fanout.heard("contact.queued")
    assert _wait_for(lambda: bool(_of(sent_events, "wallboard.snapshot")))
    # lead.stats come from the process that made the change, through Redis.
    assert _of(sent_events, "lead.stats") == []


def test_a_tick_with_nothing_to_do_takes_no_write_lock(
    app: Flask, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import event

    routed: list[object] = []
    real_route = queue.route

    def route(*args: Any, **kwargs: Any) -> Any:
        routed.append(args)
        return real_route(*args, **kwargs)

    monkeypatch.setattr(queue, "route", route)
    begun: list[object] = []

    def count(connection: object) -> None:
        begun.append(connection)

    ticker = app.extensions["helpline.ticker"]
    _enqueue(database, settings)  # waits, and nobody takes contacts
    event.listen(database.write_engine, "begin", count)
    try:
        ticker.tick()
    finally:
        event.remove(database.write_engine, "begin", count)
    assert routed == []
    if database.is_sqlite:  # its own engine for writers: a BEGIN there is the file's write lock
        assert begun == []
    make_operator(database, "ana")
    ticker.tick()
    assert routed, "the tick had an offer to make"


def test_every_tick_checkpoints_the_write_ahead_log(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints: list[float] = []
    monkeypatch.setattr(database, "checkpoint_wal", lambda: checkpoints.append(time.monotonic()))
    fast = dataclasses.replace(
        settings, queue=dataclasses.replace(settings.queue, tick_interval=0.05)
    )
    ticker = realtime.Ticker(fast, database)
    ticker.start()
    try:
        assert _wait_for(lambda: len(checkpoints) >= 3)
    finally:
        ticker.stop()
