"""Live figures for the shift lead, from the queue's current state (never the whole history)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.db import utcnow
from console.domain.contacts import Contact, State
from console.domain.operators import Operator, Presence


def start_of_day(now: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    local = now.astimezone(tz)
    midnight = dt.datetime.combine(local.date(), dt.time(0), tzinfo=tz)
    return midnight.astimezone(dt.UTC)


def snapshot(session: Session, tz: ZoneInfo, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    waiting, oldest = session.execute(
        select(func.count(), func.min(Contact.enqueued_at)).where(
            Contact.state.in_([State.WAITING, State.OFFERED])
        )
    ).one()
    presence = {p.value: 0 for p in Presence}
    for state, count in session.execute(
        select(Operator.presence, func.count()).where(Operator.active).group_by(Operator.presence)
    ):
        presence[state] = count
    handled = session.scalar(
        select(func.count()).where(
            Contact.state == State.CLOSED,
            Contact.closed_at >= start_of_day(now, tz),
            Contact.accepted_at.is_not(None),
        )
    )
    longest = 0.0
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
        longest = max(0.0, round((now - oldest).total_seconds(), 1))
    return {
        "waiting": int(waiting),
        "longest_wait_seconds": longest,
        "presence": presence,
        "handled_today": int(handled or 0),
        "at": now.isoformat(),
    }
