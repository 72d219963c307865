"""The live wallboard: from the queue's current state, thresholds turning tiles amber or red, and
pushed to the leads' room as a valid `wallboard.snapshot` after queue and presence events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from console.db import Database
from console.domain import events, live_stats, wallboard
from console.domain.stats_settings import StatsSettings, install, load_stats_settings
from console.settings import QueueSettings, Settings
from tests.console.stats_support import (
    abandon,
    answer,
    enqueue,
    full_call,
    quick_operator,
    set_presence,
    taxonomy,
    utc,
)

T0 = utc("2026-03-10 09:00:00")


@pytest.fixture
def cfg(settings: Settings) -> StatsSettings:
    return install(load_stats_settings(settings))


@pytest.fixture
def qcfg(settings: Settings) -> QueueSettings:
    return settings.queue


def _snap(database: Database, cfg: StatsSettings, now: dt.datetime) -> dict[str, Any]:
    with database.transaction(write=False) as s:
        snap = wallboard.snapshot(s, cfg, now)
    events.validate("wallboard.snapshot", snap)
    return snap


def _tile(snap: dict[str, Any], key: str) -> dict[str, Any]:
    return next(t for t in snap["tiles"] if t["key"] == key)


def _ops(database: Database, *specs: tuple[str, list[str]]) -> list[int]:
    with database.transaction() as s:
        ids = [quick_operator(s, name, languages=langs) for name, langs in specs]
    return ids


def test_waiting_by_channel_and_language_with_the_longest_wait(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings
) -> None:
    enqueue(database, qcfg, T0, language="nl")
    enqueue(database, qcfg, T0 + dt.timedelta(seconds=30), language="nl")
    enqueue(database, qcfg, T0 + dt.timedelta(seconds=50), channel="chat", language="fr")
    snap = _snap(database, cfg, T0 + dt.timedelta(seconds=70))
    rows = {(w["channel"], w["language"]): w for w in snap["waiting"]}
    assert rows[("voice", "nl")]["count"] == 2
    assert rows[("voice", "nl")]["longest_wait_seconds"] == 70
    assert rows[("chat", "fr")]["longest_wait_seconds"] == 20
    assert _tile(snap, "waiting")["value"] == 3
    assert _tile(snap, "longest_wait")["level"] == "amber"  # over 60 s
    assert _tile(snap, "longest_wait")["value"] == 70
    later = _snap(database, cfg, T0 + dt.timedelta(seconds=121))
    assert _tile(later, "longest_wait")["level"] == "red"  # over 2 minutes
    assert later["level"] == "red"


def test_a_language_nobody_taking_contacts_speaks_turns_red(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings
) -> None:
    ana, karim = _ops(database, ("ana", ["nl", "en"]), ("karim", ["ar", "fr"]))
    set_presence(database, ana, "available", T0)
    set_presence(database, karim, "break", T0)
    enqueue(database, qcfg, T0, language="ar")
    snap = _snap(database, cfg, T0 + dt.timedelta(seconds=5))
    (arabic,) = snap["languages"]
    assert (arabic["language"], arabic["taking"], arabic["free"]) == ("ar", 0, 0)
    assert arabic["level"] == "red"
    assert _tile(snap, "languages")["level"] == "red"
    assert "ar" in _tile(snap, "languages")["value"]
    # Karim comes back: someone can answer now.
    set_presence(database, karim, "available", T0 + dt.timedelta(seconds=10))
    snap = _snap(database, cfg, T0 + dt.timedelta(seconds=11))
    assert _tile(snap, "languages")["level"] == "ok"
    # Karim is on another call: they speak it but are not free, which is amber.
    other = enqueue(database, qcfg, T0 + dt.timedelta(seconds=12), language="fr")
    answer(database, other, karim, T0 + dt.timedelta(seconds=13))
    snap = _snap(database, cfg, T0 + dt.timedelta(seconds=14))
    assert _tile(snap, "languages")["level"] == "amber"


def test_operators_by_presence_with_time_in_state(database: Database, cfg: StatsSettings) -> None:
    ana, ben, _cem = _ops(database, ("ana", ["nl"]), ("ben", ["fr"]), ("cem", ["en"]))
    set_presence(database, ana, "available", T0)
    set_presence(database, ben, "break", T0 + dt.timedelta(minutes=5))
    snap = _snap(database, cfg, T0 + dt.timedelta(minutes=10))
    assert snap["presence"]["available"] == 1
    assert snap["presence"]["break"] == 1
    assert snap["presence"]["offline"] == 1
    by_id = {o["id"]: o for o in snap["operators"]}
    assert set(by_id) == {ana, ben}  # on shift only; offline ones are counted
    assert by_id[ben]["presence"] == "break"
    assert by_id[ben]["presence_since"] == (T0 + dt.timedelta(minutes=5)).isoformat()


def test_service_level_and_abandonment_for_the_last_hour_and_today(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings, settings: Settings
) -> None:
    tax = taxonomy(settings.config_dir)
    (ana,) = _ops(database, ("ana", ["nl"]))
    set_presence(database, ana, "available", utc("2026-03-10 06:00:00"))
    # Early today (07:00 local): 4 answered within T, 2 abandoned after 30 s.
    for i in range(4):
        full_call(
            database,
            qcfg,
            tax,
            ana,
            utc("2026-03-10 06:00:00") + i * dt.timedelta(minutes=5),
            10,
            60,
            10,
        )
    for i in range(2):
        cid = enqueue(database, qcfg, utc("2026-03-10 06:30:00") + i * dt.timedelta(minutes=1))
        abandon(database, cid, utc("2026-03-10 06:30:30") + i * dt.timedelta(minutes=1))
    # In the last hour: 5 answered, 4 of them late, and one on the line now (answered in 5 s).
    for i in range(5):
        full_call(
            database, qcfg, tax, ana, T0 + i * dt.timedelta(minutes=5), 5 if i == 0 else 40, 60, 10
        )
    live = enqueue(database, qcfg, T0 + dt.timedelta(minutes=40))
    answer(database, live, ana, T0 + dt.timedelta(minutes=40, seconds=5))
    now = T0 + dt.timedelta(minutes=45)
    snap = _snap(database, cfg, now)
    hour = snap["service"]["last_hour"]["all"]
    assert (hour["offered"], hour["answered"], hour["abandoned"]) == (6, 6, 0)
    assert hour["service_level"] == pytest.approx(2 / 6)
    today = snap["service"]["today"]["all"]
    assert (today["offered"], today["answered"], today["abandoned"]) == (12, 10, 2)
    assert today["service_level"] == pytest.approx(6 / 12)
    assert today["abandonment_rate"] == pytest.approx(2 / 12)
    assert _tile(snap, "sl_last_hour")["level"] == "red"  # 33% < 60%
    assert _tile(snap, "sl_today")["level"] == "red"  # 50% < 60%
    assert _tile(snap, "abandoned_today")["level"] == "red"  # 17% > 10%
    with database.transaction(write=False) as s:
        spine = live_stats.snapshot(s, cfg.tz, now)
    assert snap["handled_today"] == spine["handled_today"] == 9


def test_rates_wait_for_enough_contacts_before_judging(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings
) -> None:
    cid = enqueue(database, qcfg, T0)
    abandon(database, cid, T0 + dt.timedelta(seconds=40))
    snap = _snap(database, cfg, T0 + dt.timedelta(minutes=1))
    assert snap["service"]["last_hour"]["all"]["service_level"] == 0.0
    assert _tile(snap, "sl_last_hour")["level"] == "ok"  # 1 contact is not a trend
    assert _tile(snap, "abandoned_today")["level"] == "ok"


def test_urgent_contacts_and_callbacks_due(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings
) -> None:
    enqueue(database, qcfg, T0, urgent=True)
    for i in range(3):
        enqueue(database, qcfg, T0 + dt.timedelta(minutes=i), channel="callback", source="police")
    snap = _snap(database, cfg, T0 + dt.timedelta(hours=2, minutes=1, seconds=30))
    (urgent,) = snap["urgent"]
    assert urgent["state"] == "waiting"
    assert snap["callbacks"] == {"due": 3, "overdue": 2}
    assert _tile(snap, "callbacks")["level"] == "amber"


def test_the_snapshot_goes_to_the_leads_connected_to_this_process(
    app: Flask,
    database: Database,
    settings: Settings,
    sent_events: list[events.Event],
) -> None:
    from console.extensions import socketio
    from tests.support import login, make_operator

    fanout = app.extensions["helpline.fanout"]
    assert not fanout.leads_watching()
    make_operator(database, "lea", role="shift_lead")
    http = app.test_client()
    login(http, "lea")
    lead = socketio.test_client(app, flask_test_client=http)
    assert fanout.leads_watching()
    enqueue(database, settings.queue, dt.datetime.now(dt.UTC))
    fanout.push_wallboard()
    (pushed,) = [e for e in sent_events if e.type == "wallboard.snapshot"]
    assert (pushed.room, pushed.local) == (events.ROOM_LEADS, True)
    events.validate("wallboard.snapshot", pushed.payload)
    assert pushed.payload["waiting"][0]["count"] == 1
    lead.disconnect()
    assert not fanout.leads_watching()
