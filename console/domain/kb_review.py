"""Keeping the knowledge base fresh: the review period setting, and the weekly notice to admins.

The knowledge package decides what is due (`knowledge.freshness.due_for_review`); the console
stores one notice per ISO week and tells the admins' consoles. Notices and events hold counts
only: titles stay in the knowledge base's own pages.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, intpk, timestamp
from console.domain import events
from console.settings import Settings, SettingsError
from knowledge.freshness import due_for_review

ROOM_ADMINS = "admins"
EVENT_TYPE = "kb.review_due"
GRACE_ENV = "HELPLINE_KB_REVIEW_GRACE_DAYS"
# A period past a decade is surely a typo (days for weeks), and would hide every record.
GRACE_MAX_DAYS = 3650

events.register_schema(
    EVENT_TYPE,
    {
        "type": "object",
        "required": ["week", "articles", "services", "at"],
        "properties": {
            "week": {"type": "string", "pattern": "^[0-9]{4}-W[0-9]{2}$"},
            "articles": {"type": "integer", "minimum": 0},
            "services": {"type": "integer", "minimum": 0},
            "at": {"type": "string", "format": "date-time"},
        },
        "additionalProperties": False,
    },
    room=ROOM_ADMINS,
)


@dataclass(frozen=True)
class ReviewSettings:
    # Days after a service's `assured_date` (or an article's `reviewed_at` without `review_due`)
    # until it is due for review again.
    review_grace_days: int = 365


def load_review_settings(settings: Settings) -> ReviewSettings:
    """`config/knowledge.toml` `review_grace_days`, overridden by HELPLINE_KB_REVIEW_GRACE_DAYS."""
    data = _read_toml(settings.config_dir / "knowledge.toml")
    value: Any = data.get("review_grace_days", ReviewSettings.review_grace_days)
    name = "config/knowledge.toml review_grace_days"
    if settings.env.get(GRACE_ENV, "").strip():
        value, name = settings.env[GRACE_ENV].strip(), GRACE_ENV
    return ReviewSettings(review_grace_days=_days(name, value))


def _read_toml(path: Path) -> Mapping[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML ({exc})") from exc


def _days(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise SettingsError(f"{name}: expected a whole number of days, got {value!r}")
    try:
        days = int(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{name}: expected a whole number of days, got {value!r}") from exc
    if not 0 <= days <= GRACE_MAX_DAYS:
        raise SettingsError(f"{name}: must be between 0 and {GRACE_MAX_DAYS} days, got {days}")
    return days


class ReviewNotice(Base):
    """One weekly check of what is due; `week` is the ISO week, so a rerun adds nothing."""

    __tablename__ = "kb_admin_notices"

    id: Mapped[intpk]
    week: Mapped[str] = mapped_column(String(10), unique=True)
    articles: Mapped[int]
    services: Mapped[int]
    created_at: Mapped[timestamp]

    @property
    def total(self) -> int:
        return self.articles + self.services


def iso_week(moment: dt.datetime) -> str:
    year, week, _ = moment.astimezone(dt.UTC).isocalendar()
    return f"{year:04d}-W{week:02d}"


def notify_due(session: Session, now: dt.datetime, grace_days: int) -> ReviewNotice | None:
    """Store this week's notice and tell the admins; None when this week was already told.

    The admins' consoles hear of it only when something is due; the notice is stored either way,
    so the page shows when the directory was last checked.
    """
    week = iso_week(now)
    if session.scalar(select(ReviewNotice.id).where(ReviewNotice.week == week)) is not None:
        return None
    due = due_for_review(session, now, grace_days)
    notice = ReviewNotice(
        week=week,
        articles=sum(1 for item in due if item.kind == "article"),
        services=sum(1 for item in due if item.kind == "service"),
        created_at=now,
    )
    session.add(notice)
    # The unique week makes a concurrent second run fail here rather than notify twice.
    session.flush()
    if notice.total:
        events.publish(
            session,
            EVENT_TYPE,
            {
                "week": week,
                "articles": notice.articles,
                "services": notice.services,
                "at": now.astimezone(dt.UTC).isoformat(),
            },
        )
    return notice


def recent_notices(session: Session, limit: int = 5) -> list[ReviewNotice]:
    return list(
        session.scalars(select(ReviewNotice).order_by(ReviewNotice.created_at.desc()).limit(limit))
    )
