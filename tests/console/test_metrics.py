"""Every metric on hand-computed cases, through the real queue API, the rollups and the reports.

The line's zone is Europe/Brussels (CET, UTC+1 in winter; CEST, UTC+2 in summer). Service level
T is 20 s for calls and 60 s for chats; short abandons are under 5 s (calls) and 10 s (chats).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from console.db import Database
from console.domain import metrics, periods, queue, reports
from console.domain.metrics import Queued, Totals
from console.domain.rollups import Rollup
from console.domain.stats_settings import StatsSettings, install, load_stats_settings
from console.settings import QueueSettings, Settings
from tests.console.stats_support import (
    abandon,
    answer,
    close,
    end,
    enqueue,
    full_call,
    quick_operator,
    set_presence,
    taxonomy,
    transfer,
    utc,
)

D = dt.date


@pytest.fixture
def cfg(settings: Settings) -> StatsSettings:
    return install(load_stats_settings(settings))


@pytest.fixture
def qcfg(settings: Settings) -> QueueSettings:
    return settings.queue


def _ops(database: Database, *names: str, at: dt.datetime) -> list[int]:
    with database.transaction() as s:
        ids = [quick_operator(s, n) for n in names]
    for op in ids:
        set_presence(database, op, "available", at)
    return ids


def _day(database: Database, cfg: StatsSettings, day: dt.date, **kw: object) -> reports.Report:
    with database.transaction(write=False) as s:
        return reports.build(s, cfg, reports.ReportQuery(axis="day", start=day, end=day, **kw))  # type: ignore[arg-type]


# ------------------------------------------------------------------ the formulas alone


def test_each_formula_on_hand_picked_totals() -> None:
    t = Totals(
        offered=10,
        answered=7,
        answered_in_sl=6,
        abandoned=1,
        short_abandoned=2,
        handled=8,
        wait_ms=70_000,
        talk_ms=2_400_000,
        wrap_ms=480_000,
        busy_ms=2_880_000,
        staffed_ms=7_200_000,
        referrals_received=4,
        outreached=2,
        outreach_ms=5_400_000,
    )
    assert metrics.offered(t) == 10
    assert metrics.answered(t) == 7
    assert metrics.abandoned(t) == 1
    assert metrics.short_abandoned(t) == 2
    assert metrics.service_level(t) == pytest.approx(6 / 8)  # short abandons left out
    assert metrics.abandonment_rate(t) == pytest.approx(1 / 8)
    assert metrics.average_speed_of_answer(t) == pytest.approx(10.0)
    assert metrics.average_handle_time(t) == pytest.approx(360.0)  # (2400 + 480) / 8
    assert metrics.occupancy(t) == pytest.approx(0.4)
    assert metrics.contacts_per_operator_hour(t) == pytest.approx(4.0)
    assert metrics.referral_to_first_outreach(t) == pytest.approx(2700.0)
    empty = Totals()
    assert metrics.service_level(empty) is None
    assert metrics.average_handle_time(empty) is None
    assert metrics.occupancy(empty) is None


# ------------------------------------------------------------------ a morning, through the domain


def test_a_morning_gives_the_hand_computed_figures(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings, settings: Settings
) -> None:
    tax = taxonomy(settings.config_dir)
    op1, op2 = _ops(database, "ana", "ben", at=utc("2026-03-02 09:00:00"))
    # A: answered after 10 s (in SL), talk 300 s, wrap 60 s.
    full_call(database, qcfg, tax, op1, utc("2026-03-02 09:00:00"), 10, 300, 60)
    # B: answered after 30 s (not in SL), talk 120 s, wrap 30 s.
    full_call(database, qcfg, tax, op2, utc("2026-03-02 09:01:00"), 30, 120, 30)
    # C: hangs up after 3 s (short abandon); D: after 60 s (abandoned).
    c = enqueue(database, qcfg, utc("2026-03-02 09:02:00"))
    abandon(database, c, utc("2026-03-02 09:02:03"))
    d = enqueue(database, qcfg, utc("2026-03-02 09:02:00"))
    abandon(database, d, utc("2026-03-02 09:03:00"))
    # E: answered after 15 s, transferred after 120 s; its second leg is taken after a further
    # 45 s by ben (talk 120 s, wrap 60 s). The line answered E once, within T.
    e = enqueue(database, qcfg, utc("2026-03-02 09:10:00"))
    answer(database, e, op1, utc("2026-03-02 09:10:15"))
    e2 = transfer(database, qcfg, e, op1, utc("2026-03-02 09:12:15"))
    answer(database, e2, op2, utc("2026-03-02 09:13:00"))
    end(database, e2, op2, utc("2026-03-02 09:15:00"))
    close(database, tax, e2, op2, utc("2026-03-02 09:16:00"))
    # F: a chat in French with no topic, answered after 50 s (within a chat's 60 s).
    full_call(
        database,
        qcfg,
        tax,
        op1,
        utc("2026-03-02 09:20:00"),
        50,
        600,
        60,
        channel="chat",
        language="fr",
        topic=None,
    )
    for op in (op1, op2):
        set_presence(database, op, "offline", utc("2026-03-02 10:00:00"))

    report = _day(database, cfg, D(2026, 3, 2))
    t = report.with_staffed("2026-03-02")
    assert (t.offered, t.answered, t.abandoned, t.short_abandoned) == (6, 4, 1, 1)
    assert t.answered_in_sl == 3  # A, E (first leg: 15 s) and F
    assert metrics.service_level(t) == pytest.approx(3 / 5)
    assert metrics.abandonment_rate(t) == pytest.approx(1 / 5)
    assert metrics.average_speed_of_answer(t) == pytest.approx((10 + 30 + 15 + 50) / 4)
    assert t.handled == 5  # A, B, both legs of E, F
    assert t.talk_ms == (300 + 120 + 120 + 120 + 600) * 1000
    assert t.wrap_ms == (60 + 30 + 0 + 60 + 60) * 1000
    assert metrics.average_handle_time(t) == pytest.approx(1470 / 5)
    assert t.staffed_ms == 2 * 3600 * 1000
    assert t.busy_ms == (360 + 150 + 120 + 180 + 660) * 1000
    assert metrics.occupancy(t) == pytest.approx(1470 / 7200)
    assert metrics.contacts_per_operator_hour(t) == pytest.approx(5 / 2)

    by_channel = _day(database, cfg, D(2026, 3, 2), by="channel")
    voice, chat = by_channel.cell("2026-03-02", "voice"), by_channel.cell("2026-03-02", "chat")
    assert (voice.offered, voice.answered, voice.answered_in_sl) == (5, 3, 2)
    assert metrics.service_level(voice) == pytest.approx(2 / 4)
    assert metrics.service_level(chat) == pytest.approx(1.0)
    assert metrics.average_handle_time(chat) == pytest.approx(660.0)
    by_language = _day(database, cfg, D(2026, 3, 2), by="language")
    assert by_language.cell("2026-03-02", "nl").offered == 5
    assert by_language.cell("2026-03-02", "fr").offered == 1
    by_queue = _day(database, cfg, D(2026, 3, 2), by="queue")
    assert by_queue.cell("2026-03-02", "general").handled == 4
    assert by_queue.cell("2026-03-02", "none").handled == 1
    only_chat = _day(database, cfg, D(2026, 3, 2), channel="chat")
    assert only_chat.cell("2026-03-02").offered == 1


def test_short_abandons_end_exactly_at_the_threshold(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings
) -> None:
    t0 = utc("2026-03-03 10:00:00")
    cases = [("voice", 4.999, "short"), ("voice", 5.0, "long"), ("chat", 9.5, "short")]
    for channel, wait, _ in cases:
        cid = enqueue(database, qcfg, t0, channel=channel)
        abandon(database, cid, t0 + dt.timedelta(seconds=wait))
    report = _day(database, cfg, D(2026, 3, 3), by="channel")
    voice, chat = report.cell("2026-03-03", "voice"), report.cell("2026-03-03", "chat")
    assert (voice.short_abandoned, voice.abandoned) == (1, 1)
    assert (chat.short_abandoned, chat.abandoned) == (1, 0)
    # Left out of the service level: 0 answered of the 1 that counts.
    assert metrics.service_level(voice) == 0.0
    assert metrics.service_level(chat) is None


def test_a_transfer_counts_once_with_the_first_legs_wait(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings
) -> None:
    op1, op2 = _ops(database, "ana", "ben", at=utc("2026-03-04 08:00:00"))
    # Waited 25 s (outside T); the second leg is answered at once: still outside T, counted once.
    first = enqueue(database, qcfg, utc("2026-03-04 09:00:00"))
    answer(database, first, op1, utc("2026-03-04 09:00:25"))
    second = transfer(database, qcfg, first, op1, utc("2026-03-04 09:02:25"))
    answer(database, second, op2, utc("2026-03-04 09:02:26"))
    # Transferred again, back to ana; the third leg's caller hangs up before anyone answers.
    third = transfer(database, qcfg, second, op2, utc("2026-03-04 09:03:26"))
    abandon(database, third, utc("2026-03-04 09:04:00"))
    t = _day(database, cfg, D(2026, 3, 4)).cell("2026-03-04")
    assert (t.offered, t.answered, t.answered_in_sl, t.abandoned, t.short_abandoned) == (
        1,
        1,
        0,
        0,
        0,
    )
    assert t.wait_ms == 25_000
    assert t.handled == 2
    assert t.talk_ms == (120 + 60) * 1000
    assert metrics.service_level(t) == 0.0
    # Both later legs carry the first leg's arrival, so they fall in the same period.
    with database.transaction(write=False) as s:
        legs = [queue.get_contact(s, cid) for cid in (first, second, third)]
        assert len({c.enqueued_at for c in legs}) == 1


def test_a_contact_spanning_midnight(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings, settings: Settings
) -> None:
    tax = taxonomy(settings.config_dir)
    (op,) = _ops(database, "ana", at=utc("2026-03-02 22:00:00"))  # 23:00 in Brussels
    # Arrives 23:50 local, answered 23:55 (300 s: outside T), ends 00:03, closes 00:05.
    full_call(database, qcfg, tax, op, utc("2026-03-02 22:50:00"), 300, 480, 120)
    set_presence(database, op, "offline", utc("2026-03-03 00:00:00"))  # 01:00 local
    with database.transaction(write=False) as s:
        report = reports.build(
            s, cfg, reports.ReportQuery(axis="day", start=D(2026, 3, 2), end=D(2026, 3, 3))
        )
    assert report.periods == ["2026-03-02", "2026-03-03"]
    before, after = report.with_staffed("2026-03-02"), report.with_staffed("2026-03-03")
    # Counted once, on the day it arrived, with all of its handling time.
    assert (before.offered, before.answered, before.handled) == (1, 1, 1)
    assert (after.offered, after.answered, after.handled) == (0, 0, 0)
    assert metrics.average_handle_time(before) == pytest.approx(600.0)
    assert metrics.service_level(before) == 0.0
    # The time spent on it, and the time staffed, fall on each side of midnight.
    assert (before.busy_ms, after.busy_ms) == (300_000, 300_000)
    assert (before.staffed_ms, after.staffed_ms) == (3_600_000, 3_600_000)
    assert metrics.occupancy(before) == pytest.approx(300 / 3600)
    assert metrics.occupancy(after) == pytest.approx(300 / 3600)
    assert metrics.contacts_per_operator_hour(before) == pytest.approx(1.0)
    assert metrics.contacts_per_operator_hour(after) == 0.0


def test_the_spring_dst_day_has_23_hours(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings, settings: Settings
) -> None:
    tz = cfg.tz
    day = periods.start_of(utc("2026-03-29 12:00:00"), "day", tz)
    assert day == utc("2026-03-28 23:00:00")
    assert periods.next_start(day, "day", tz) == utc("2026-03-29 22:00:00")
    (op,) = _ops(database, "ana", at=utc("2026-03-28 23:00:00"))  # local midnight
    # 01:59:59 CET abandons after 60 s (so at 03:00:59 CEST); 03:00:00 CEST is answered.
    early = enqueue(database, qcfg, utc("2026-03-29 00:59:59"))
    abandon(database, early, utc("2026-03-29 01:00:59"))
    full_call(
        database, qcfg, taxonomy(settings.config_dir), op, utc("2026-03-29 01:00:00"), 5, 60, 0
    )
    set_presence(database, op, "offline", utc("2026-03-29 22:00:00"))  # next local midnight
    t = _day(database, cfg, D(2026, 3, 29)).with_staffed("2026-03-29")
    assert t.staffed_ms == 23 * 3600 * 1000
    assert (t.offered, t.answered, t.abandoned) == (2, 1, 1)
    with database.transaction(write=False) as s:
        hours = reports.build(
            s,
            cfg,
            reports.ReportQuery(axis="hour_of_day", start=D(2026, 3, 29), end=D(2026, 3, 29)),
        )
    assert hours.cell("01:00").offered == 1
    assert hours.cell("02:00").offered == 0
    assert hours.cell("03:00").offered == 1
    assert hours.staffed.get("02:00", 0) == 0  # that hour never happened
    assert sum(hours.staffed.values()) == 23 * 3600 * 1000
    with database.transaction(write=False) as s:
        hour_rows = s.scalars(
            select(Rollup.period_start).where(Rollup.grain == "hour", Rollup.offered > 0)
        ).all()
    assert sorted(periods.label(h, "hour", tz) for h in hour_rows) == [
        "2026-03-29 01:00",
        "2026-03-29 03:00",
    ]


def test_the_autumn_dst_day_has_25_hours(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings
) -> None:
    tz = cfg.tz
    (op,) = _ops(database, "ana", at=utc("2026-10-24 22:00:00"))  # local midnight (CEST)
    # 02:30 CEST and, an hour later, 02:30 CET: the same local hour happens twice.
    for moment in ("2026-10-25 00:30:00", "2026-10-25 01:30:00"):
        cid = enqueue(database, qcfg, utc(moment))
        abandon(database, cid, utc(moment) + dt.timedelta(seconds=30))
    set_presence(database, op, "offline", utc("2026-10-25 23:00:00"))  # next local midnight (CET)
    t = _day(database, cfg, D(2026, 10, 25)).with_staffed("2026-10-25")
    assert t.staffed_ms == 25 * 3600 * 1000
    assert t.abandoned == 2
    with database.transaction(write=False) as s:
        hours = reports.build(
            s,
            cfg,
            reports.ReportQuery(axis="hour_of_day", start=D(2026, 10, 25), end=D(2026, 10, 25)),
        )
        weeks = reports.build(
            s, cfg, reports.ReportQuery(axis="week", start=D(2026, 10, 25), end=D(2026, 10, 25))
        )
    assert hours.cell("02:00").offered == 2
    assert hours.staffed["02:00"] == 2 * 3600 * 1000
    assert weeks.periods == ["2026-W43"]
    assert weeks.with_staffed("2026-W43").staffed_ms == 25 * 3600 * 1000
    labels = [
        periods.label(p, "hour", tz)
        for p in periods.periods(utc("2026-10-25 00:00:00"), utc("2026-10-25 02:00:00"), "hour", tz)
    ]
    assert labels == ["2026-10-25 02:00", "2026-10-25 02:00 (2nd)"]


def test_longest_current_wait_from_the_queue_now(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings
) -> None:
    t0 = utc("2026-03-05 09:00:00")
    enqueue(database, qcfg, t0)
    enqueue(
        database,
        qcfg,
        t0 + dt.timedelta(seconds=60),
        channel="chat",
        language="fr",
        topic="domestic_violence",
    )
    enqueue(database, qcfg, t0 + dt.timedelta(seconds=120))
    now = t0 + dt.timedelta(seconds=300)
    with database.transaction(write=False) as s:
        items = [
            Queued(c.channel, c.language, c.topic, c.enqueued_at) for c in queue.queue_snapshot(s)
        ]
    assert metrics.longest_current_wait(items, now) == 300
    assert metrics.longest_current_wait(items, now, channel="chat") == 240
    assert metrics.longest_current_wait(items, now, language="fr") == 240
    assert metrics.longest_current_wait(items, now, queue="domestic_violence") == 240
    assert metrics.longest_current_wait(items, now, channel="callback") == 0


def test_callbacks_due_and_overdue(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings
) -> None:
    t0 = utc("2026-03-05 09:00:00")
    enqueue(database, qcfg, t0, channel="callback", source="police")
    enqueue(database, qcfg, t0, channel="callback", urgent=True, language="fr")
    enqueue(database, qcfg, t0, channel="voice")
    with database.transaction(write=False) as s:
        items = [
            Queued(c.channel, c.language, c.topic, c.enqueued_at, c.urgent)
            for c in queue.queue_snapshot(s)
        ]
    soon = metrics.callbacks_due(items, t0 + dt.timedelta(minutes=45), cfg)
    assert (soon.due, soon.overdue) == (2, 1)  # urgent ones are overdue after 30 minutes
    later = metrics.callbacks_due(items, t0 + dt.timedelta(hours=2, minutes=1), cfg)
    assert (later.due, later.overdue) == (2, 2)
    french = metrics.callbacks_due(items, t0 + dt.timedelta(minutes=45), cfg, language="fr")
    assert (french.due, french.overdue) == (1, 1)


def test_time_from_referral_to_first_outreach(
    database: Database, cfg: StatsSettings, qcfg: QueueSettings, settings: Settings
) -> None:
    tax = taxonomy(settings.config_dir)
    (op,) = _ops(database, "ana", at=utc("2026-03-06 08:00:00"))
    # A police referral, called back after 45 minutes.
    full_call(
        database,
        qcfg,
        tax,
        op,
        utc("2026-03-06 09:00:00"),
        2700,
        300,
        0,
        channel="callback",
        source="police",
    )
    # A partner referral the line never reached (closed from the queue at noon).
    missed = enqueue(
        database, qcfg, utc("2026-03-06 10:00:00"), channel="callback", source="partner"
    )
    with database.transaction() as s:
        queue.close(s, queue.get_contact(s, missed), None, utc("2026-03-06 12:00:00"))
    # A callback the caller asked for themself is not a referral.
    full_call(database, qcfg, tax, op, utc("2026-03-06 10:05:00"), 60, 60, 0, channel="callback")
    t = _day(database, cfg, D(2026, 3, 6)).cell("2026-03-06")
    assert (t.referrals_received, t.outreached) == (2, 1)
    assert metrics.referral_to_first_outreach(t) == pytest.approx(2700.0)
    assert t.offered == 3
