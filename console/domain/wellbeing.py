"""Operator wellbeing: exposure to heavy contacts per shift, and when to suggest a break.

Vicarious trauma is a known risk for helpline staff. Per operator and shift this keeps the time
spent on very-serious contacts, the run of heavy contacts in a row, and the heavy time since the
last break; past a configured exposure it suggests a break. A shift starts when the operator comes
online and ends when they go offline; a break resets the run and the exposure since the break.

These figures are for the operator themself and the shift leads only: they go to the operator's
own room and the leads' room, and never into a report or an export.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, str16, timestamp, utcnow
from console.domain import events
from console.domain.contacts import FINAL, Contact
from console.domain.metrics import Leg
from console.domain.operators import Operator, PresenceChange
from console.domain.outcomes import Outcome
from console.domain.periods import ms_between
from console.domain.stats_settings import StatsSettings

OFFLINE = "offline"
BREAK = "break"


class Wellbeing(Base):
    """One row per operator: their current shift's figures."""

    __tablename__ = "stats_wellbeing"

    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), primary_key=True)
    # The last change that mattered here: to or from a break or offline (not busy and back).
    presence: Mapped[str16] = mapped_column(default=OFFLINE)
    presence_since: Mapped[dt.datetime | None]
    shift_started_at: Mapped[dt.datetime | None]
    last_break_ended_at: Mapped[dt.datetime | None]
    contacts: Mapped[int] = mapped_column(Integer, default=0)
    heavy_contacts: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_heavy: Mapped[int] = mapped_column(Integer, default=0)
    very_serious_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    heavy_ms_since_break: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[timestamp] = mapped_column(default=utcnow)


_figures = {
    "type": "object",
    "required": [
        "operator_id",
        "on_shift",
        "on_break",
        "minutes_without_break",
        "contacts",
        "heavy_contacts",
        "consecutive_heavy",
        "very_serious_minutes",
        "heavy_minutes_since_break",
        "suggest_break",
        "level",
    ],
    "properties": {
        "operator_id": {"type": "integer"},
        "display_name": {"type": "string"},
        "on_shift": {"type": "boolean"},
        "on_break": {"type": "boolean"},
        "minutes_without_break": {"type": ["number", "null"], "minimum": 0},
        "contacts": {"type": "integer", "minimum": 0},
        "heavy_contacts": {"type": "integer", "minimum": 0},
        "consecutive_heavy": {"type": "integer", "minimum": 0},
        "very_serious_minutes": {"type": "number", "minimum": 0},
        "heavy_minutes_since_break": {"type": "number", "minimum": 0},
        "suggest_break": {"type": "boolean"},
        "level": {"enum": ["ok", "amber", "red"]},
    },
    "additionalProperties": False,
}
FIGURES_SCHEMA: dict[str, Any] = _figures
# The shift-lead feature's wellbeing figures, sent only to the operator's own room (the publisher
# names it); leads see everyone's in the wallboard.
events.register_schema("lead.wellbeing", _figures)


def is_heavy(details: Mapping[str, Any] | None, cfg: StatsSettings) -> bool:
    details = details or {}
    if details.get("triage_track") in cfg.wellbeing.heavy_tracks:
        return True
    victimisation = details.get("victimisation") or []
    return isinstance(victimisation, list) and any(
        v in cfg.wellbeing.heavy_victimisation for v in victimisation
    )


def _row(session: Session, operator_id: int) -> Wellbeing:
    row = session.get(Wellbeing, operator_id)
    if row is None:
        row = Wellbeing(
            operator_id=operator_id,
            presence=OFFLINE,
            contacts=0,
            heavy_contacts=0,
            consecutive_heavy=0,
            very_serious_ms=0,
            heavy_ms_since_break=0,
            updated_at=utcnow(),
        )
        session.add(row)
    return row


def _reset_shift(row: Wellbeing, started: dt.datetime | None) -> None:
    row.shift_started_at = started
    row.last_break_ended_at = None
    row.contacts = row.heavy_contacts = row.consecutive_heavy = 0
    row.very_serious_ms = row.heavy_ms_since_break = 0


STAFFED = frozenset({"available", "busy", "wrap_up"})


def _presence(row: Wellbeing, presence: str, at: dt.datetime) -> bool:
    """Follow a presence change; False when it changes nothing here (between available, busy and
    wrap-up, as every accepted and closed contact does), so those cost no write."""
    before = row.presence or OFFLINE
    if before in STAFFED and presence in STAFFED:
        return False
    if presence == OFFLINE:
        _reset_shift(row, None)
    elif before == OFFLINE:
        _reset_shift(row, at)
    if presence == BREAK and before != BREAK:
        row.consecutive_heavy = 0
        row.heavy_ms_since_break = 0
    if before == BREAK and presence not in (BREAK, OFFLINE):
        row.last_break_ended_at = at
    row.presence = presence
    row.presence_since = at
    row.updated_at = at
    return True


def _leg(row: Wellbeing, leg: Leg, details: Mapping[str, Any] | None, cfg: StatsSettings) -> bool:
    """Count a finished leg in its operator's shift; False if it belongs to no current shift."""
    if leg.accepted_at is None or leg.ended_at is None:
        return False
    if row.shift_started_at is None or leg.accepted_at < row.shift_started_at:
        return False
    handle = ms_between(leg.accepted_at, leg.ended_at)
    row.contacts += 1
    if details is not None:
        if is_heavy(details, cfg):
            row.heavy_contacts += 1
            row.consecutive_heavy += 1
            row.heavy_ms_since_break += handle
        else:
            row.consecutive_heavy = 0
        if details.get("triage_track") == "very_serious":
            row.very_serious_ms += handle
    row.updated_at = leg.ended_at
    return True


def apply(
    session: Session,
    legs: Iterable[tuple[Leg, dict[str, Any] | None]],
    changes: Iterable[PresenceChange],
    cfg: StatsSettings,
    *,
    publish: bool = True,
) -> None:
    """Replay this transaction's finished legs and presence changes, in time order."""
    steps: list[tuple[dt.datetime, int, Any]] = []
    for leg, details in legs:
        if leg.operator_id is not None and leg.ended_at is not None:
            steps.append((leg.ended_at, 0, (leg, details)))
    for change in changes:
        steps.append((change.at, 1, change))
    touched: dict[int, Wellbeing] = {}
    for _at, kind, item in sorted(steps, key=lambda s: (s[0], s[1])):
        if kind == 0:
            leg, details = item
            assert leg.operator_id is not None
            row = _row(session, leg.operator_id)
            if _leg(row, leg, details, cfg):
                touched[row.operator_id] = row
        else:
            row = _row(session, item.operator_id)
            if _presence(row, item.presence, item.at):
                touched[row.operator_id] = row
    if publish:
        now = utcnow()
        for operator_id, row in touched.items():
            events.publish(
                session,
                "lead.wellbeing",
                figures(row, cfg, now),
                room=events.operator_room(operator_id),
            )


def figures(
    row: Wellbeing, cfg: StatsSettings, now: dt.datetime, display_name: str | None = None
) -> dict[str, Any]:
    on_shift = row.shift_started_at is not None
    on_break = row.presence == BREAK
    without: float | None = None
    if on_shift and not on_break:
        since = max(x for x in (row.last_break_ended_at, row.shift_started_at) if x is not None)
        without = round(max(0.0, (now - since).total_seconds()) / 60, 1)
    elif on_break:
        without = 0.0
    heavy_minutes = row.heavy_ms_since_break / 60_000
    suggest = (
        on_shift
        and not on_break
        and (
            heavy_minutes >= cfg.wellbeing.break_after_heavy_minutes
            or row.consecutive_heavy >= cfg.wellbeing.break_after_consecutive_heavy
        )
    )
    level = cfg.wellbeing.no_break.level(without) if on_shift else "ok"
    if suggest and level == "ok":
        level = "amber"
    result: dict[str, Any] = {
        "operator_id": row.operator_id,
        "on_shift": on_shift,
        "on_break": on_break,
        "minutes_without_break": without,
        "contacts": row.contacts,
        "heavy_contacts": row.heavy_contacts,
        "consecutive_heavy": row.consecutive_heavy,
        "very_serious_minutes": round(row.very_serious_ms / 60_000, 1),
        "heavy_minutes_since_break": round(heavy_minutes, 1),
        "suggest_break": bool(suggest),
        "level": level,
    }
    if display_name is not None:
        result["display_name"] = display_name
    return result


def for_operator(
    session: Session, operator_id: int, cfg: StatsSettings, now: dt.datetime | None = None
) -> dict[str, Any]:
    row = session.get(Wellbeing, operator_id) or Wellbeing(
        operator_id=operator_id,
        presence=OFFLINE,
        contacts=0,
        heavy_contacts=0,
        consecutive_heavy=0,
        very_serious_ms=0,
        heavy_ms_since_break=0,
    )
    return figures(row, cfg, now or utcnow())


def on_shift(
    session: Session, cfg: StatsSettings, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Everyone on shift, longest without a break first (for shift leads only)."""
    now = now or utcnow()
    rows = session.execute(
        select(Wellbeing, Operator.display_name)
        .join(Operator, Operator.id == Wellbeing.operator_id)
        .where(Wellbeing.shift_started_at.is_not(None), Operator.active)
    ).all()
    result = [figures(row, cfg, now, name) for row, name in rows]
    result.sort(key=lambda f: (-(f["minutes_without_break"] or 0), f["operator_id"]))
    return result


def rebuild(session: Session, cfg: StatsSettings, now: dt.datetime) -> int:
    """Recompute every operator's current shift from the presence log and their contacts."""
    session.query(Wellbeing).delete()
    count = 0
    for (operator_id,) in session.execute(select(Operator.id).order_by(Operator.id)):
        last_offline = session.scalar(
            select(PresenceChange.at)
            .where(PresenceChange.operator_id == operator_id, PresenceChange.presence == OFFLINE)
            .order_by(PresenceChange.at.desc(), PresenceChange.id.desc())
            .limit(1)
        )
        query = select(PresenceChange).where(PresenceChange.operator_id == operator_id)
        if last_offline is not None:
            query = query.where(PresenceChange.at >= last_offline)
        changes = list(session.scalars(query.order_by(PresenceChange.at, PresenceChange.id)))
        if not changes:
            continue
        first_online = next((c.at for c in changes if c.presence != OFFLINE), None)
        legs: list[tuple[Leg, dict[str, Any] | None]] = []
        if first_online is not None:
            rows = session.execute(
                select(Contact, Outcome.details)
                .outerjoin(Outcome, Outcome.contact_id == Contact.id)
                .where(
                    Contact.operator_id == operator_id,
                    Contact.state.in_(list(FINAL)),
                    Contact.accepted_at >= first_online,
                )
            ).all()
            legs = [(Leg.of(contact), details) for contact, details in rows]
        apply(session, legs, changes, cfg, publish=False)
        count += 1
    session.flush()
    return count
