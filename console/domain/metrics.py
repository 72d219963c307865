"""The line's contact-centre metrics: one definition each (the README lists their formulas).

Two kinds of input:
- `Totals`, additive counters of closed contacts, which the rollups store per period and per
  channel, language and queue, and which a report sums for any split;
- the queue's current state (`Queued`), for the live figures: longest wait and callbacks due.

How a closed contact counts (`leg_totals`) is decided here and nowhere else. A transfer ends one
leg and queues a linked one (`parent_id`); only the first leg of a chain (the root) counts as
offered, answered or abandoned, with its own wait, so the line's service level counts a
transferred caller once. Every leg an operator took counts as handled, with its own talk and
wrap-up. A queue is the contact's topic (the skill it was routed on), "none" when it has none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from console.domain.periods import ms_between
from console.domain.stats_settings import StatsSettings

NO_QUEUE = "none"
REFERRAL_SOURCES = frozenset({"police", "partner"})


@dataclass(frozen=True)
class Totals:
    """Counters that add up across periods and splits. Durations are whole milliseconds."""

    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    handled: int = 0
    records: int = 0
    referrals_made: int = 0
    referrals_received: int = 0
    outreached: int = 0
    wait_ms: int = 0
    talk_ms: int = 0
    wrap_ms: int = 0
    busy_ms: int = 0
    outreach_ms: int = 0
    staffed_ms: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(**{f: getattr(self, f) + getattr(other, f) for f in COUNTERS})

    def as_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in COUNTERS}

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Totals:
        return cls(**{f: int(values.get(f) or 0) for f in COUNTERS})

    def is_zero(self) -> bool:
        return not any(getattr(self, f) for f in COUNTERS)


COUNTERS: tuple[str, ...] = tuple(f.name for f in fields(Totals))
# Counters kept per contact split; staffed time belongs to the team and is kept apart.
CONTACT_COUNTERS: tuple[str, ...] = tuple(c for c in COUNTERS if c != "staffed_ms")


def total(items: Iterable[Totals]) -> Totals:
    result = Totals()
    for item in items:
        result = result + item
    return result


@dataclass(frozen=True)
class Leg:
    """The facts of one contact row that the metrics read (an ORM row or a raw one)."""

    id: int
    parent_id: int | None
    channel: str
    language: str
    topic: str | None
    source: str
    state: str
    enqueued_at: dt.datetime
    accepted_at: dt.datetime | None
    wrap_up_at: dt.datetime | None
    closed_at: dt.datetime | None
    abandoned_at: dt.datetime | None
    transferred_at: dt.datetime | None
    operator_id: int | None = None
    urgent: bool = False

    @property
    def queue(self) -> str:
        return self.topic or NO_QUEUE

    @property
    def is_root(self) -> bool:
        return self.parent_id is None

    @property
    def ended_at(self) -> dt.datetime | None:
        """When the operator stopped working on this leg (after wrap-up, or at the transfer)."""
        return self.closed_at or self.transferred_at

    @property
    def talk_end(self) -> dt.datetime | None:
        return self.wrap_up_at or self.transferred_at or self.closed_at

    @classmethod
    def of(cls, row: Any) -> Leg:
        return cls(
            id=row.id,
            parent_id=row.parent_id,
            channel=row.channel,
            language=row.language,
            topic=row.topic,
            source=getattr(row, "source", None) or "self",
            state=row.state,
            enqueued_at=row.enqueued_at,
            accepted_at=row.accepted_at,
            wrap_up_at=row.wrap_up_at,
            closed_at=row.closed_at,
            abandoned_at=row.abandoned_at,
            transferred_at=row.transferred_at,
            operator_id=row.operator_id,
            urgent=bool(getattr(row, "urgent", False)),
        )


def leg_totals(leg: Leg, cfg: StatsSettings) -> Totals:
    """What one final leg adds to the period and split it arrived in (busy time aside)."""
    return Totals.of(leg_counts(leg, cfg))


def leg_counts(leg: Leg, cfg: StatsSettings) -> dict[str, int]:
    """`leg_totals` as a dict of the counters that are not zero (what the rollups add up)."""
    counts: dict[str, int] = {}
    if leg.is_root:
        counts["offered"] = 1
        if leg.accepted_at is not None:
            wait = ms_between(leg.enqueued_at, leg.accepted_at)
            counts["answered"] = 1
            counts["wait_ms"] = wait
            counts["answered_in_sl"] = int(wait <= cfg.answer_within_ms(leg.channel))
        elif leg.abandoned_at is not None:
            wait = ms_between(leg.enqueued_at, leg.abandoned_at)
            if wait < cfg.short_abandon_ms(leg.channel):
                counts["short_abandoned"] = 1
            else:
                counts["abandoned"] = 1
        if leg.source in REFERRAL_SOURCES:
            counts["referrals_received"] = 1
            if leg.accepted_at is not None:
                counts["outreached"] = 1
                counts["outreach_ms"] = ms_between(leg.enqueued_at, leg.accepted_at)
    if leg.accepted_at is not None:
        counts["handled"] = 1
        talk_end = leg.talk_end
        if talk_end is not None:
            counts["talk_ms"] = ms_between(leg.accepted_at, talk_end)
        if leg.wrap_up_at is not None and leg.closed_at is not None:
            counts["wrap_ms"] = ms_between(leg.wrap_up_at, leg.closed_at)
    return {name: value for name, value in counts.items() if value}


def busy_span(leg: Leg) -> tuple[dt.datetime, dt.datetime] | None:
    """The time an operator spent on the leg (talk and wrap-up), for occupancy."""
    if leg.accepted_at is None or leg.ended_at is None:
        return None
    return leg.accepted_at, leg.ended_at


def record_totals(details: Mapping[str, Any] | None) -> Totals:
    """What a recorded outcome adds: one record, and the referrals it made."""
    referrals = (details or {}).get("referrals") or []
    return Totals(records=1, referrals_made=len(referrals) if isinstance(referrals, list) else 0)


# ------------------------------------------------------------------ the metrics, one each


def offered(t: Totals) -> int:
    """Contacts that reached the queue (the first leg of a transfer chain only)."""
    return t.offered


def answered(t: Totals) -> int:
    """Offered contacts an operator accepted."""
    return t.answered


def abandoned(t: Totals) -> int:
    """Offered contacts that left unanswered after waiting at least the short-abandon threshold."""
    return t.abandoned


def short_abandoned(t: Totals) -> int:
    """Offered contacts that left unanswered sooner than the short-abandon threshold."""
    return t.short_abandoned


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def service_level(t: Totals) -> float | None:
    """Share answered within T (per channel): answered_in_sl ÷ (offered − short abandons)."""
    return _ratio(t.answered_in_sl, t.offered - t.short_abandoned)


def abandonment_rate(t: Totals) -> float | None:
    """abandoned ÷ (offered − short abandons)."""
    return _ratio(t.abandoned, t.offered - t.short_abandoned)


def average_speed_of_answer(t: Totals) -> float | None:
    """Seconds: total wait of the answered ÷ answered."""
    return _ratio(t.wait_ms / 1000, t.answered)


def average_handle_time(t: Totals) -> float | None:
    """Seconds: (talk + wrap-up) ÷ handled legs."""
    return _ratio((t.talk_ms + t.wrap_ms) / 1000, t.handled)


def occupancy(t: Totals) -> float | None:
    """Time on contacts (talk + wrap-up, by when it happened) ÷ staffed time.

    Staffed time is the team's time in available, busy or wrap-up. Concurrent chats each count
    their full time, so a chat-heavy period can pass 100%.
    """
    return _ratio(t.busy_ms, t.staffed_ms)


def contacts_per_operator_hour(t: Totals) -> float | None:
    """Handled legs ÷ staffed hours."""
    return _ratio(t.handled, t.staffed_ms / 3_600_000)


def referral_to_first_outreach(t: Totals) -> float | None:
    """Seconds from a police or partner referral reaching the line to the first call-back
    attempt (an operator taking the callback), averaged over the referrals reached."""
    return _ratio(t.outreach_ms / 1000, t.outreached)


@dataclass(frozen=True)
class Queued:
    """A contact waiting now (waiting or offered), for the live figures."""

    channel: str
    language: str
    topic: str | None
    enqueued_at: dt.datetime
    urgent: bool = False

    @property
    def queue(self) -> str:
        return self.topic or NO_QUEUE


def _matches(item: Queued, channel: str | None, language: str | None, queue: str | None) -> bool:
    return (
        (channel is None or item.channel == channel)
        and (language is None or item.language == language)
        and (queue is None or item.queue == queue)
    )


def longest_current_wait(
    queued: Iterable[Queued],
    now: dt.datetime,
    *,
    channel: str | None = None,
    language: str | None = None,
    queue: str | None = None,
) -> float:
    """Seconds the longest-waiting contact in the split has waited so far (0 if none)."""
    waits = [
        (now - q.enqueued_at).total_seconds()
        for q in queued
        if _matches(q, channel, language, queue)
    ]
    return max(0.0, max(waits, default=0.0))


@dataclass(frozen=True)
class Callbacks:
    due: int
    overdue: int


def callbacks_due(
    queued: Iterable[Queued],
    now: dt.datetime,
    cfg: StatsSettings,
    *,
    language: str | None = None,
    queue: str | None = None,
) -> Callbacks:
    """Callbacks waiting to be made (due), and those waiting longer than the configured
    deadline (overdue; a shorter one for urgent callbacks)."""
    due = overdue = 0
    for q in queued:
        if not _matches(q, "callback", language, queue):
            continue
        due += 1
        limit = cfg.callback_urgent_overdue_after if q.urgent else cfg.callback_overdue_after
        if (now - q.enqueued_at).total_seconds() > limit:
            overdue += 1
    return Callbacks(due, overdue)


def summary(t: Totals) -> dict[str, float | int | None]:
    """Every metric of a set of totals, for tables, exports and the wallboard."""
    return {
        "offered": offered(t),
        "answered": answered(t),
        "abandoned": abandoned(t),
        "short_abandoned": short_abandoned(t),
        "service_level": service_level(t),
        "abandonment_rate": abandonment_rate(t),
        "asa_seconds": average_speed_of_answer(t),
        "aht_seconds": average_handle_time(t),
        "occupancy": occupancy(t),
        "contacts_per_operator_hour": contacts_per_operator_hour(t),
        "handled": t.handled,
        "records": t.records,
        "referrals_made": t.referrals_made,
        "referrals_received": t.referrals_received,
        "outreached": t.outreached,
        "referral_to_outreach_seconds": referral_to_first_outreach(t),
    }
