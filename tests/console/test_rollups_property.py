"""The rollups agree exactly with a slow reference computed from the raw records.

Hypothesis draws a night of contacts (calls, chats, callbacks; answered, abandoned short or long,
transferred once or twice, left open) and operators' breaks, over a local midnight and, in two of
three cases, a daylight-saving change in Brussels. The simulation drives the real queue API with
the chosen moments, so the rollups are kept by the production hooks. The reference below shares no
code with the rollups: it buckets by formatted local labels and splits spans at every quarter hour.
Then `rebuild` must reproduce the incremental tables exactly, wellbeing included.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from console.db import Database
from console.domain import operators, outcomes, periods, queue, reports, rollups
from console.domain.contacts import FINAL, Contact
from console.domain.operators import PresenceChange
from console.domain.outcomes import Outcome
from console.domain.rollups import Rollup, Staffing
from console.domain.stats_settings import StatsSettings, install, load_stats_settings
from console.domain.wellbeing import Wellbeing
from console.settings import Settings
from tests.conftest import _clear
from tests.console.stats_support import quick_operator, utc

NIGHTS = (
    utc("2026-03-28 18:00:00"),  # spring forward at 02:00 local
    utc("2026-10-24 18:00:00"),  # fall back at 03:00 local
    utc("2026-03-01 18:00:00"),  # an ordinary Sunday night into Monday
)
HOURS = 12
MS = dt.timedelta(milliseconds=1)
VICTIMISATION = ["sexual_violence", "assault", "fraud_cybercrime", "homicide_bereaved"]
NEEDS = ["emotional_support", "legal", "housing_shelter"]
TRACKS = [None, "less_serious", "serious", "very_serious"]


@dataclass
class Plan:
    arrive: int
    channel: str
    language: str
    topic: str | None
    source: str
    fate: str
    waits: list[int]
    talks: list[int]
    wraps: list[int]
    transfers: int
    last: str
    details: dict[str, Any] | None


@dataclass
class Night:
    base: dt.datetime
    plans: list[Plan]
    presence: list[tuple[int, int, str]] = field(default_factory=list)


def _details() -> st.SearchStrategy[dict[str, Any] | None]:
    return st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {
                "victimisation": st.lists(st.sampled_from(VICTIMISATION), max_size=3),
                "needs": st.lists(st.sampled_from(NEEDS), max_size=2, unique=True),
                "referrals": st.lists(
                    st.sampled_from(["svc-a", "svc-b"]).map(
                        lambda s: {"service_id": s, "name": s, "referred_at": "2026-01-01"}
                    ),
                    max_size=2,
                ),
                "triage_track": st.sampled_from(TRACKS),
            }
        ),
    )


@st.composite
def nights(draw: st.DrawFn) -> Night:
    base = draw(st.sampled_from(NIGHTS))
    plans = []
    for _ in range(draw(st.integers(1, 12))):
        plans.append(
            Plan(
                arrive=draw(st.integers(0, HOURS * 3600 * 1000)),
                channel=draw(st.sampled_from(["voice", "voice", "chat", "callback"])),
                language=draw(st.sampled_from(["nl", "fr"])),
                topic=draw(st.sampled_from([None, "general", "domestic_violence"])),
                source=draw(st.sampled_from(["self", "self", "police", "partner"])),
                fate=draw(st.sampled_from(["answer", "answer", "abandon", "transfer", "open"])),
                waits=draw(st.lists(st.integers(0, 90_000), min_size=3, max_size=3)),
                talks=draw(st.lists(st.integers(1_000, 2_400_000), min_size=3, max_size=3)),
                wraps=draw(st.lists(st.integers(0, 300_000), min_size=3, max_size=3)),
                transfers=draw(st.integers(1, 2)),
                last=draw(st.sampled_from(["answer", "answer", "abandon"])),
                details=draw(_details()),
            )
        )
    presence = draw(
        st.lists(
            st.tuples(
                st.integers(0, HOURS * 3600 * 1000),
                st.integers(0, 2),
                st.sampled_from(["break", "available", "offline"]),
            ),
            max_size=8,
        )
    )
    return Night(base, plans, presence)


class Simulation:
    """Plays a night through the queue API in time order, one transaction per move."""

    def __init__(
        self, database: Database, app_settings: Settings, ops: list[int], night: Night
    ) -> None:
        self.db = database
        self.cfg = app_settings.queue
        self.tax = outcomes.load_outcome_taxonomy(app_settings.config_dir / "outcomes.toml")
        self.ops = ops
        self.night = night
        self.events: list[tuple[dt.datetime, int, str, Any]] = []
        self.seq = 0

    def at(self, offset_ms: int) -> dt.datetime:
        return self.night.base + offset_ms * MS

    def push(self, when: dt.datetime, kind: str, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, kind, payload))

    def run(self) -> None:
        start = self.night.base - dt.timedelta(hours=1)
        for op in self.ops:
            self.push(start, "presence", (op, "available"))
        for offset, index, presence in self.night.presence:
            self.push(self.at(offset), "presence", (self.ops[index], presence))
        for plan in self.night.plans:
            self.push(self.at(plan.arrive), "arrive", plan)
        while self.events:
            when, _, kind, payload = heapq.heappop(self.events)
            with self.db.transaction() as s:
                getattr(self, f"_{kind}")(s, when, payload)

    def _presence(self, s: Any, now: dt.datetime, payload: tuple[int, str]) -> None:
        op_id, presence = payload
        operator = operators.get_operator(s, op_id)
        load = queue.operator_load(s, op_id)
        if load.voice or load.chat or load.wrap_up:
            return  # nobody leaves with a caller on the line
        operators.choose_presence(s, operator, presence, now)

    def _arrive(self, s: Any, now: dt.datetime, plan: Plan) -> None:
        contact = queue.enqueue(
            s,
            channel=plan.channel,
            language=plan.language,
            topic=plan.topic,
            source=plan.source,
            cfg=self.cfg,
            now=now,
        )
        kind = "abandon" if plan.fate == "abandon" else "claim"
        self.push(now + plan.waits[0] * MS, kind, (plan, contact.id, 0))

    def _free_operator(self, s: Any, channel: str) -> int | None:
        for op_id in self.ops:
            operator = operators.get_operator(s, op_id)
            if operator.presence not in operators.TAKING_CONTACTS:
                continue
            if queue.has_room(operator, queue.operator_load(s, op_id), channel):
                return op_id
        return None

    def _abandon(self, s: Any, now: dt.datetime, payload: tuple[Plan, int, int]) -> None:
        queue.abandon(s, payload[1], now=now)

    def _claim(self, s: Any, now: dt.datetime, payload: tuple[Plan, int, int]) -> None:
        plan, cid, leg = payload
        contact = queue.get_contact(s, cid)
        op_id = self._free_operator(s, contact.channel)
        if op_id is None:
            queue.abandon(s, cid, now=now)
            return
        queue.claim(s, cid, op_id, now=now)
        after_talk = now + plan.talks[leg] * MS
        if plan.fate == "open" and leg == 0:
            return
        if plan.fate == "transfer" and leg < plan.transfers:
            self.push(after_talk, "transfer", (plan, cid, leg, op_id))
        else:
            self.push(after_talk, "end", (plan, cid, leg, op_id))

    def _transfer(self, s: Any, now: dt.datetime, payload: tuple[Plan, int, int, int]) -> None:
        plan, cid, leg, op_id = payload
        successor = queue.transfer(s, cid, op_id, self.cfg, now=now)
        last = leg + 1 == plan.transfers
        kind = "abandon" if last and plan.last == "abandon" else "claim"
        self.push(now + plan.waits[leg + 1] * MS, kind, (plan, successor.id, leg + 1))

    def _end(self, s: Any, now: dt.datetime, payload: tuple[Plan, int, int, int]) -> None:
        plan, cid, leg, op_id = payload
        queue.start_wrap_up(s, cid, op_id, now=now)
        self.push(now + plan.wraps[leg] * MS, "close", payload)

    def _close(self, s: Any, now: dt.datetime, payload: tuple[Plan, int, int, int]) -> None:
        plan, cid, _leg, op_id = payload
        code = "information_given" if plan.details is not None else "silent"
        outcomes.wrap_up(s, cid, op_id, code=code, taxonomy=self.tax, details=plan.details, now=now)


# ------------------------------------------------------------------ the slow reference


def _label(moment: dt.datetime, grain: str, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    if grain == "hour":
        return local.strftime("%Y-%m-%d %H:00") + (" (2nd)" if local.fold else "")
    if grain == "day":
        return local.strftime("%Y-%m-%d")
    if grain == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.strftime("%Y-%m")


def _quarters(start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, int]]:
    """[start, end) cut at every UTC quarter hour: no local period starts inside a quarter."""
    pieces = []
    cursor = start
    while cursor < end:
        boundary = cursor.replace(
            minute=cursor.minute - cursor.minute % 15, second=0, microsecond=0
        )
        boundary += dt.timedelta(minutes=15)
        stop = min(end, boundary)
        pieces.append((cursor, (stop - cursor) // MS))
        cursor = stop
    return pieces


def _ms(a: dt.datetime, b: dt.datetime) -> int:
    return max(0, (b - a) // MS)


def reference(s: Any, cfg: StatsSettings) -> tuple[dict[tuple, Counter], dict[tuple, int]]:
    tz = cfg.tz
    grains = ("hour", "day", "week", "month")
    cells: dict[tuple, Counter] = defaultdict(Counter)
    details_of = {o.contact_id: o.details for o in s.scalars(select(Outcome))}
    for c in s.scalars(select(Contact).where(Contact.state.in_(list(FINAL)))):
        add: Counter = Counter()
        if c.parent_id is None:
            add["offered"] += 1
            if c.accepted_at is not None:
                wait = _ms(c.enqueued_at, c.accepted_at)
                add["answered"] += 1
                add["wait_ms"] += wait
                add["answered_in_sl"] += wait <= cfg.answer_within[c.channel] * 1000
            elif c.abandoned_at is not None:
                wait = _ms(c.enqueued_at, c.abandoned_at)
                short = wait < cfg.short_abandon[c.channel] * 1000
                add["short_abandoned" if short else "abandoned"] += 1
            if c.source in ("police", "partner"):
                add["referrals_received"] += 1
                if c.accepted_at is not None:
                    add["outreached"] += 1
                    add["outreach_ms"] += _ms(c.enqueued_at, c.accepted_at)
        if c.accepted_at is not None:
            add["handled"] += 1
            add["talk_ms"] += _ms(c.accepted_at, c.wrap_up_at or c.transferred_at or c.closed_at)
            if c.wrap_up_at and c.closed_at:
                add["wrap_ms"] += _ms(c.wrap_up_at, c.closed_at)
        has_outcome = c.id in details_of
        details = details_of.get(c.id) or {}
        if has_outcome:
            add["records"] += 1
            add["referrals_made"] += len(details.get("referrals") or [])
        queue_name = c.topic or "none"
        for grain in grains:
            key = (grain, _label(c.enqueued_at, grain, tz), c.channel, c.language, queue_name)
            cells[(*key, "all", "")].update(add)
        end = c.closed_at or c.transferred_at
        if c.accepted_at is not None and end is not None:
            for piece_start, piece in _quarters(c.accepted_at, end):
                for grain in grains:
                    key = (grain, _label(piece_start, grain, tz), c.channel, c.language, queue_name)
                    cells[(*key, "all", "")]["busy_ms"] += piece
        if has_outcome:
            values = {
                "victimisation": sorted(set(details.get("victimisation") or [])) or ["none"],
                "needs": sorted(set(details.get("needs") or [])) or ["none"],
                "referral": sorted({r["service_id"] for r in details.get("referrals") or []})
                or ["none"],
                "triage": [details.get("triage_track") or "none"],
            }
            for grain in ("day", "week", "month"):
                label = _label(c.enqueued_at, grain, tz)
                for dimension, codes in values.items():
                    for code in codes:
                        cells[(grain, label, c.channel, c.language, "*", dimension, code)][
                            "records"
                        ] += 1
    staffing: dict[tuple, int] = defaultdict(int)
    changes = s.scalars(
        select(PresenceChange).order_by(
            PresenceChange.operator_id, PresenceChange.at, PresenceChange.id
        )
    ).all()
    # A stint runs from the first staffed change after a break or log-off to the next one.
    stints = []
    began: dict[int, dt.datetime] = {}
    for change in changes:
        if change.presence in ("available", "busy", "wrap_up"):
            began.setdefault(change.operator_id, change.at)
        elif change.operator_id in began:
            stints.append((began.pop(change.operator_id), change.at))
    for start, end in stints:
        for piece_start, piece in _quarters(start, end):
            for grain in grains:
                staffing[(grain, _label(piece_start, grain, tz))] += piece
    return (
        {k: +v for k, v in cells.items() if +v},
        {k: v for k, v in staffing.items() if v},
    )


def actual(s: Any, cfg: StatsSettings) -> tuple[dict[tuple, Counter], dict[tuple, int]]:
    tz = cfg.tz
    cells: dict[tuple, Counter] = {}
    for row in s.scalars(select(Rollup)):
        counts = Counter(
            {name: getattr(row, name) for name in rollups.CONTACT_COUNTERS if getattr(row, name)}
        )
        key = (
            row.grain,
            periods.label(row.period_start, row.grain, tz),  # type: ignore[arg-type]
            row.channel,
            row.language,
            row.queue,
            row.dimension,
            row.value,
        )
        assert key not in cells, f"two rows for one cell {key}"
        if counts:
            cells[key] = counts
    staffing: dict[tuple, int] = defaultdict(int)
    for row in s.scalars(select(Staffing)):
        label = periods.label(row.period_start, row.grain, tz)  # type: ignore[arg-type]
        staffing[(row.grain, label)] += row.staffed_ms
    return cells, {k: v for k, v in staffing.items() if v}


def _wellbeing(s: Any) -> list[tuple[Any, ...]]:
    return [
        (
            w.operator_id,
            w.presence,
            w.shift_started_at,
            w.last_break_ended_at,
            w.contacts,
            w.heavy_contacts,
            w.consecutive_heavy,
            w.very_serious_ms,
            w.heavy_ms_since_break,
        )
        for w in s.scalars(select(Wellbeing).order_by(Wellbeing.operator_id))
    ]


@pytest.fixture
def stats_cfg(settings: Settings) -> StatsSettings:
    return install(load_stats_settings(settings))


@pytest.mark.slow
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(night=nights())
def test_rollups_agree_exactly_with_the_raw_records(
    database: Database, settings: Settings, stats_cfg: StatsSettings, night: Night
) -> None:
    _clear(database)
    with database.transaction() as s:
        ops = [quick_operator(s, f"op{i}", max_chats=2) for i in range(3)]
    Simulation(database, settings, ops, night).run()

    with database.transaction(write=False) as s:
        expected_cells, expected_staffing = reference(s, stats_cfg)
        cells, staffing = actual(s, stats_cfg)
        well_before = _wellbeing(s)
    assert cells == expected_cells
    assert staffing == expected_staffing

    # The reports read the same numbers, whatever the axis and the split.
    first = night.base.astimezone(stats_cfg.tz).date()
    with database.transaction(write=False) as s:
        for axis in reports.AXES:
            for by in (None, "channel", "language", "queue", "victimisation", "triage"):
                if axis == "hour_of_day" and by in ("victimisation", "triage"):
                    continue
                report = reports.build(
                    s,
                    stats_cfg,
                    reports.ReportQuery(
                        axis=axis, start=first, end=first + dt.timedelta(days=1), by=by
                    ),
                )
                _check_report(report, expected_cells, expected_staffing, stats_cfg, axis, by)

    # A rebuild from the raw records gives back exactly the tables the hooks kept.
    with database.transaction() as s:
        rollups.rebuild(s, stats_cfg, now=night.base + dt.timedelta(hours=HOURS + 6))
    with database.transaction(write=False) as s:
        assert actual(s, stats_cfg) == (cells, staffing)
        assert _wellbeing(s) == well_before


def _check_report(
    report: reports.Report,
    cells: dict[tuple, Counter],
    staffing: dict[tuple, int],
    cfg: StatsSettings,
    axis: str,
    by: str | None,
) -> None:
    grain = "hour" if axis == "hour_of_day" else axis
    dimension = by if by in ("victimisation", "triage") else "all"
    position = {"channel": 2, "language": 3, "queue": 4}.get(by or "")
    wanted: dict[tuple[str, str], Counter] = defaultdict(Counter)
    shown = set(report.periods)
    for key, counts in cells.items():
        if key[0] != grain or key[5] != dimension:
            continue
        period = key[1][11:16] if axis == "hour_of_day" else key[1]
        if period not in shown:
            continue
        group = key[6] if dimension != "all" else (key[position] if position else "")
        wanted[(period, group)].update(counts)
    got = {k: Counter({n: v for n, v in t.as_dict().items() if v}) for k, t in report.cells.items()}
    got = {k: v for k, v in got.items() if v}
    assert got == {k: v for k, v in wanted.items() if v}
    if dimension == "all":
        staffed: dict[str, int] = defaultdict(int)
        for (g, label), ms in staffing.items():
            period = label[11:16] if axis == "hour_of_day" else label
            if g == grain and period in shown:
                staffed[period] += ms
        assert {k: v for k, v in report.staffed.items() if v} == dict(staffed)
