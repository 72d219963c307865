"""The shift lead's live wallboard, from the queue's current state and today's rollups.

Never scans history: the queue and the operators are read as they are now (a handful of rows found
by index), today's figures come from today's hourly rollups plus the contacts still in progress,
and the last hour's from the contacts that arrived in it (found through the transition log's time
index). Thresholds from `config/wallboard.toml` turn each tile amber or red.

The snapshot is pushed to the leads' room as `wallboard.snapshot` after every queue or presence
event (through the realtime fan-out) and every few seconds (a periodic job), so the board also moves
while nothing happens: waits grow, the last hour rolls on.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.db import Database, utcnow
from console.domain import events, metrics, wellbeing
from console.domain.contacts import Contact, ContactTransition, State
from console.domain.lead_actions import ANY_LANGUAGE, PARTNER_PREFIX, open_overflows
from console.domain.metrics import Leg, Queued, Totals, leg_totals
from console.domain.operators import TAKING_CONTACTS, Operator
from console.domain.periods import local_midnight, ms_between
from console.domain.rollups import ALL, Rollup
from console.domain.stats_settings import StatsSettings, current
from console.jobs.periodic import PeriodicJob, register

LIVE = (State.WAITING, State.OFFERED, State.ACTIVE, State.WRAP_UP)
LEVEL_ORDER = {"ok": 0, "amber": 1, "red": 2}

_level = {"enum": ["ok", "amber", "red"]}
_ts = {"type": "string", "format": "date-time"}
_rate = {"type": ["number", "null"]}
_WINDOW = {
    "type": "object",
    "required": ["offered", "answered", "abandoned", "short_abandoned", "service_level"],
    "properties": {
        "offered": {"type": "integer", "minimum": 0},
        "answered": {"type": "integer", "minimum": 0},
        "abandoned": {"type": "integer", "minimum": 0},
        "short_abandoned": {"type": "integer", "minimum": 0},
        "service_level": _rate,
        "abandonment_rate": _rate,
        "asa_seconds": _rate,
    },
    "additionalProperties": False,
}
_WINDOWS = {"type": "object", "additionalProperties": _WINDOW}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "at",
        "level",
        "tiles",
        "waiting",
        "languages",
        "operators",
        "presence",
        "service",
        "callbacks",
        "urgent",
        "overflows",
        "wellbeing",
        "thresholds",
        "handled_today",
    ],
    "properties": {
        "at": _ts,
        "level": _level,
        "handled_today": {"type": "integer", "minimum": 0},
        "tiles": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "label", "level", "value"],
                "properties": {
                    "key": {"type": "string"},
                    "label": {"type": "string"},
                    "level": _level,
                    "value": {"type": ["number", "string", "null"]},
                    "unit": {"enum": ["count", "seconds", "minutes", "rate", "text"]},
                    "detail": {"type": "string"},
                },
                "additionalProperties": False,
            },
        },
        "waiting": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["channel", "language", "count", "oldest_at", "longest_wait_seconds"],
                "properties": {
                    "channel": {"type": "string"},
                    "language": {"type": "string"},
                    "count": {"type": "integer", "minimum": 1},
                    "oldest_at": _ts,
                    "longest_wait_seconds": {"type": "number", "minimum": 0},
                    "level": _level,
                },
                "additionalProperties": False,
            },
        },
        "languages": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["language", "waiting", "taking", "free", "level"],
                "properties": {
                    "language": {"type": "string"},
                    "waiting": {"type": "integer", "minimum": 0},
                    "taking": {"type": "integer", "minimum": 0},
                    "free": {"type": "integer", "minimum": 0},
                    "level": _level,
                },
                "additionalProperties": False,
            },
        },
        "operators": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "display_name", "presence", "presence_since", "languages"],
                "properties": {
                    "id": {"type": "integer"},
                    "display_name": {"type": "string"},
                    "role": {"type": "string"},
                    "presence": {"enum": ["available", "busy", "wrap_up", "break", "offline"]},
                    "presence_since": _ts,
                    "languages": {"type": "array", "items": {"type": "string"}},
                    "holding": {"type": "integer", "minimum": 0},
                },
                "additionalProperties": False,
            },
        },
        "presence": {"type": "object", "additionalProperties": {"type": "integer"}},
        "service": {
            "type": "object",
            "required": ["last_hour", "today"],
            "properties": {"last_hour": _WINDOWS, "today": _WINDOWS},
            "additionalProperties": False,
        },
        "callbacks": {
            "type": "object",
            "required": ["due", "overdue"],
            "properties": {
                "due": {"type": "integer", "minimum": 0},
                "overdue": {"type": "integer", "minimum": 0},
            },
            "additionalProperties": False,
        },
        "urgent": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "ref", "channel", "language", "state", "enqueued_at"],
                "properties": {
                    "id": {"type": "integer"},
                    "ref": {"type": "string"},
                    "channel": {"type": "string"},
                    "language": {"type": "string"},
                    "state": {"type": "string"},
                    "enqueued_at": _ts,
                    "operator": {"type": ["string", "null"]},
                },
                "additionalProperties": False,
            },
        },
        "overflows": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "language", "target", "opened_at"],
                "properties": {
                    "id": {"type": "integer"},
                    "language": {"type": "string"},
                    "target": {"type": "string"},
                    "opened_at": _ts,
                },
                "additionalProperties": False,
            },
        },
        "wellbeing": {"type": "array", "items": wellbeing.FIGURES_SCHEMA},
        "thresholds": {
            "type": "object",
            "required": ["longest_wait"],
            "properties": {
                "longest_wait": {
                    "type": "object",
                    "required": ["amber", "red"],
                    "properties": {"amber": {"type": "number"}, "red": {"type": "number"}},
                    "additionalProperties": False,
                },
                "sl_target": {"type": "number"},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
events.register_schema("wallboard.snapshot", SCHEMA, room=events.ROOM_LEADS)


def _worst(levels: list[str]) -> str:
    return max(levels, key=lambda lv: LEVEL_ORDER[lv], default="ok")


def _in_flight(leg: Leg, cfg: StatsSettings) -> Totals:
    """What a root leg still in progress already says: it was offered and, if taken, answered."""
    if not leg.is_root or leg.accepted_at is None:
        return Totals()
    wait = ms_between(leg.enqueued_at, leg.accepted_at)
    return Totals(
        offered=1,
        answered=1,
        wait_ms=wait,
        answered_in_sl=int(wait <= cfg.answer_within_ms(leg.channel)),
    )


def _window(totals: Totals) -> dict[str, Any]:
    return {
        "offered": totals.offered,
        "answered": totals.answered,
        "abandoned": totals.abandoned,
        "short_abandoned": totals.short_abandoned,
        "service_level": metrics.service_level(totals),
        "abandonment_rate": metrics.abandonment_rate(totals),
        "asa_seconds": metrics.average_speed_of_answer(totals),
    }


def _windows(by_channel: dict[str, Totals]) -> dict[str, Any]:
    result = {channel: _window(t) for channel, t in sorted(by_channel.items())}
    result[ALL] = _window(metrics.total(by_channel.values()))
    return result


_LEG_COLUMNS = (
    Contact.id,
    Contact.ref,
    Contact.parent_id,
    Contact.channel,
    Contact.language,
    Contact.topic,
    Contact.source,
    Contact.state,
    Contact.enqueued_at,
    Contact.accepted_at,
    Contact.wrap_up_at,
    Contact.closed_at,
    Contact.abandoned_at,
    Contact.transferred_at,
    Contact.operator_id,
    Contact.urgent,
    Contact.overflowed_at,
)


def today_totals(
    session: Session, cfg: StatsSettings, now: dt.datetime, live: Sequence[Any]
) -> dict[str, Totals]:
    """Per channel: today's rollups (final contacts) plus the contacts still in progress."""
    midnight = local_midnight(now.astimezone(cfg.tz).date(), cfg.tz)
    by_channel: dict[str, Totals] = defaultdict(Totals)
    rows = session.execute(
        select(
            Rollup.channel,
            func.sum(Rollup.offered),
            func.sum(Rollup.answered),
            func.sum(Rollup.answered_in_sl),
            func.sum(Rollup.abandoned),
            func.sum(Rollup.short_abandoned),
            func.sum(Rollup.wait_ms),
        )
        .where(
            Rollup.grain == "hour",
            Rollup.dimension == ALL,
            Rollup.period_start >= midnight,
            Rollup.period_start <= now,
        )
        .group_by(Rollup.channel)
    ).all()
    for channel, offered, answered, in_sl, abandoned, short, wait in rows:
        by_channel[channel] = Totals(
            offered=int(offered or 0),
            answered=int(answered or 0),
            answered_in_sl=int(in_sl or 0),
            abandoned=int(abandoned or 0),
            short_abandoned=int(short or 0),
            wait_ms=int(wait or 0),
        )
    for row in live:
        if row.enqueued_at >= midnight:
            by_channel[row.channel] = by_channel[row.channel] + _in_flight(Leg.of(row), cfg)
    return dict(by_channel)


def last_hour_totals(session: Session, cfg: StatsSettings, now: dt.datetime) -> dict[str, Totals]:
    """Per channel: the contacts that arrived in the last 60 minutes, as they stand now."""
    since = now - dt.timedelta(hours=1)
    arrived = (
        select(ContactTransition.contact_id)
        .where(
            ContactTransition.at >= since,
            ContactTransition.from_state.is_(None),
            ContactTransition.to_state == State.WAITING,
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(*_LEG_COLUMNS).where(Contact.id.in_(arrived), Contact.parent_id.is_(None))
    ).all()
    by_channel: dict[str, Totals] = defaultdict(Totals)
    for row in rows:
        leg = Leg.of(row)
        if leg.enqueued_at < since:
            continue
        if row.state in (State.CLOSED, State.ABANDONED, State.TRANSFERRED):
            add = leg_totals(leg, cfg)
        else:
            add = _in_flight(leg, cfg)
        by_channel[leg.channel] = by_channel[leg.channel] + add
    return dict(by_channel)


def _rate_level(cfg: StatsSettings, totals: Totals, channel: str | None) -> str:
    if totals.offered - totals.short_abandoned < cfg.min_contacts:
        return "ok"
    return cfg.sl_band(channel).level(metrics.service_level(totals))


def _sl_tile(
    key: str, label: str, cfg: StatsSettings, by_channel: dict[str, Totals]
) -> dict[str, Any]:
    whole = metrics.total(by_channel.values())
    levels = [_rate_level(cfg, t, channel) for channel, t in by_channel.items()]
    parts = []
    for channel, t in sorted(by_channel.items()):
        sl = metrics.service_level(t)
        if sl is not None:
            parts.append(f"{channel} {round(sl * 100)}%")
    return {
        "key": key,
        "label": label,
        "level": _worst(levels),
        "value": metrics.service_level(whole),
        "unit": "rate",
        "detail": " · ".join(parts) or "no contacts yet",
    }


def snapshot(
    session: Session, cfg: StatsSettings | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    cfg = cfg or current()
    now = now or utcnow()
    live = session.execute(select(*_LEG_COLUMNS).where(Contact.state.in_(LIVE))).all()
    queued = [r for r in live if r.state in (State.WAITING, State.OFFERED)]
    operators = session.execute(
        select(
            Operator.id,
            Operator.display_name,
            Operator.role,
            Operator.presence,
            Operator.presence_since,
            Operator.languages,
        ).where(Operator.active)
    ).all()
    holding: dict[int, int] = defaultdict(int)
    for row in live:
        if row.state in (State.ACTIVE, State.WRAP_UP) and row.operator_id is not None:
            holding[row.operator_id] += 1

    presence_counts = {p: 0 for p in ("available", "busy", "wrap_up", "break", "offline")}
    on_shift = []
    for op in operators:
        presence_counts[op.presence] = presence_counts.get(op.presence, 0) + 1
        if op.presence != "offline":
            on_shift.append(
                {
                    "id": op.id,
                    "display_name": op.display_name,
                    "role": op.role,
                    "presence": op.presence,
                    "presence_since": op.presence_since.isoformat(),
                    "languages": list(op.languages or []),
                    "holding": holding.get(op.id, 0),
                }
            )
    on_shift.sort(key=lambda o: (o["presence"], o["presence_since"]))

    # Waiting, by channel and language.
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in queued:
        groups[(row.channel, row.language)].append(row)
    waiting = []
    for (channel, language), rows in sorted(groups.items()):
        oldest = min(r.enqueued_at for r in rows)
        wait = max(0.0, (now - oldest).total_seconds())
        waiting.append(
            {
                "channel": channel,
                "language": language,
                "count": len(rows),
                "oldest_at": oldest.isoformat(),
                "longest_wait_seconds": round(wait, 1),
                "level": cfg.longest_wait.level(wait),
            }
        )

    # Languages with someone waiting: who could answer them now.
    overflows = open_overflows(session)
    widened: dict[str, set[str]] = defaultdict(set)
    for overflow in overflows:
        if not overflow.target.startswith(PARTNER_PREFIX):
            widened[overflow.language].add(overflow.target)
    taking_ops = [op for op in operators if op.presence in TAKING_CONTACTS]
    languages = []
    for language in sorted({r.language for r in queued}):
        rows = [r for r in queued if r.language == language]
        targets = {language} | widened.get(language, set())
        anyone = ANY_LANGUAGE in targets or any(r.overflowed_at is not None for r in rows)

        def speaks(op: Any, targets: set[str] = targets, anyone: bool = anyone) -> bool:
            return anyone or bool(targets & set(op.languages or []))

        taking = [op for op in taking_ops if speaks(op)]
        free = [op for op in taking if op.presence == "available"]
        level = "ok"
        if not taking:
            level = cfg.no_operator_level
        elif not free:
            level = cfg.no_free_operator_level
        languages.append(
            {
                "language": language,
                "waiting": len(rows),
                "taking": len(taking),
                "free": len(free),
                "level": level,
            }
        )

    queued_items = [
        Queued(r.channel, r.language, r.topic, r.enqueued_at, bool(r.urgent)) for r in queued
    ]
    longest = metrics.longest_current_wait(queued_items, now)
    callbacks = metrics.callbacks_due(queued_items, now, cfg)
    today = today_totals(session, cfg, now, live)
    last_hour = last_hour_totals(session, cfg, now)
    names = {op.id: op.display_name for op in operators}
    urgent = [
        {
            "id": r.id,
            "ref": r.ref,
            "channel": r.channel,
            "language": r.language,
            "state": r.state,
            "enqueued_at": r.enqueued_at.isoformat(),
            "operator": names.get(r.operator_id) if r.operator_id else None,
        }
        for r in sorted(live, key=lambda r: r.enqueued_at)
        if r.urgent
    ]
    wellbeing_rows = wellbeing.on_shift(session, cfg, now)
    midnight = local_midnight(now.astimezone(cfg.tz).date(), cfg.tz)
    # As the spine counts "handled today". Only a closed contact has closed_at, so the state is
    # not asked: asked, the planner may walk every closed contact through the queue's index.
    handled_today = session.scalar(
        select(func.count()).where(Contact.closed_at >= midnight, Contact.accepted_at.is_not(None))
    )

    today_whole = metrics.total(today.values())
    abandon_rate = metrics.abandonment_rate(today_whole)
    language_level = _worst([lang["level"] for lang in languages])
    short_of = [lang["language"] for lang in languages if lang["level"] != "ok"]
    tiles: list[dict[str, Any]] = [
        {
            "key": "waiting",
            "label": "Waiting",
            "level": "ok",
            "value": len(queued),
            "unit": "count",
        },
        {
            "key": "longest_wait",
            "label": "Longest wait",
            "level": cfg.longest_wait.level(longest),
            "value": round(longest, 1),
            "unit": "seconds",
        },
        {
            "key": "languages",
            "label": "Languages covered",
            "level": language_level,
            "value": "short: " + ", ".join(short_of) if short_of else "all covered",
            "unit": "text",
            "detail": " · ".join(
                f"{lang['language']}: {lang['waiting']} waiting, {lang['free']} free"
                for lang in languages
            ),
        },
        _sl_tile("sl_last_hour", "Service level, last hour", cfg, last_hour),
        _sl_tile("sl_today", "Service level, today", cfg, today),
        {
            "key": "abandoned_today",
            "label": "Abandoned today",
            "level": "ok"
            if today_whole.offered - today_whole.short_abandoned < cfg.min_contacts
            else cfg.abandonment.level(abandon_rate),
            "value": abandon_rate,
            "unit": "rate",
            "detail": f"{today_whole.abandoned} of {today_whole.offered}"
            f" ({today_whole.short_abandoned} short, not counted)",
        },
        {
            "key": "callbacks",
            "label": "Callbacks due",
            "level": cfg.callbacks_overdue.level(callbacks.overdue) if callbacks.overdue else "ok",
            "value": callbacks.due,
            "unit": "count",
            "detail": f"{callbacks.overdue} overdue",
        },
        {
            "key": "breaks",
            "label": "Longest without a break",
            "level": _worst([w["level"] for w in wellbeing_rows]),
            "value": wellbeing_rows[0]["minutes_without_break"] if wellbeing_rows else None,
            "unit": "minutes",
            "detail": ", ".join(
                f"{w.get('display_name', w['operator_id'])}: break suggested"
                for w in wellbeing_rows
                if w["suggest_break"]
            )
            or "no break suggested",
        },
    ]
    return {
        "at": now.isoformat(),
        "level": _worst([t["level"] for t in tiles]),
        "tiles": tiles,
        "waiting": waiting,
        "languages": languages,
        "operators": on_shift,
        "presence": presence_counts,
        "service": {"last_hour": _windows(last_hour), "today": _windows(today)},
        "callbacks": {"due": callbacks.due, "overdue": callbacks.overdue},
        "urgent": urgent,
        "overflows": [o.to_public() for o in overflows],
        "wellbeing": wellbeing_rows,
        "thresholds": {
            "longest_wait": {"amber": cfg.longest_wait.amber, "red": cfg.longest_wait.red},
            "sl_target": cfg.sl_target,
        },
        "handled_today": int(handled_today or 0),
    }


def push(
    database: Database, cfg: StatsSettings | None = None, *, local: bool = False
) -> dict[str, Any]:
    """Compute the snapshot and send it to the leads' room now; `local`: to the leads connected
    to this process only (each process with a lead computes its own)."""
    with database.transaction(write=False) as session:
        payload = snapshot(session, cfg)
    (events.send_local if local else events.send_now)("wallboard.snapshot", payload)
    return payload


def push_job() -> None:
    """Periodic: waits grow and the last hour rolls on even when no event happens."""
    from console.jobs.context import get_context

    push(get_context().database)


register(PeriodicJob("console.domain.wallboard.push_job", every=5))
