"""The audit trail: who looked at or changed identity, exported or erased, when, and why.

Events are append-only. The application has no path that updates or deletes one (the mapper
refuses it) and the database refuses it too (triggers created by the records migration). An event
holds IDs, codes and counts: never a value it is about, never free text, never an address. A reason
is one of the codes below, so nobody can write a name into the trail; an unknown reason is kept as
"other" rather than stored as typed.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import re
from typing import Any

from sqlalchemy import JSON, String, event, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, intpk, str32, timestamp, utcnow

log = logging.getLogger(__name__)


class Action(enum.StrEnum):
    CONSENT_GRANTED = "consent.granted"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    CONSENT_EXPIRED = "consent.expired"
    IDENTITY_WRITTEN = "identity.written"
    IDENTITY_READ = "identity.read"
    IDENTITY_ERASED = "identity.erased"
    CASE_ERASED = "case.erased"
    EXPORT = "export"
    RETENTION = "retention"
    KEYS_ROTATED = "keys.rotated"
    AUDIT_VIEWED = "audit.viewed"


# Why someone acted. Labels are shown on the forms that ask for a reason.
REASONS: dict[str, str] = {
    "callback": "Calling the person back",
    "case_follow_up": "Following up the case",
    "referral": "Passing the referral on",
    "transcript": "Keeping the transcript",
    "safeguarding": "Safeguarding concern",
    "supervision": "Supervision or quality review",
    "caller_request": "The caller asked",
    "visitor_request": "The visitor asked",
    "data_subject_request": "Data-subject request",
    "legal_obligation": "Legal obligation",
    "expired": "Consent expired",
    "retention": "Retention policy",
    "funder_report": "Report for funders",
    "other": "Other",
}
_SLUG = re.compile(r"[^a-z0-9]+")


def reason_code(reason: str | None) -> str | None:
    """The stored form of a reason: a known code, or "other". Free text is never kept."""
    if reason is None:
        return None
    slug = _SLUG.sub("_", reason.strip().lower()).strip("_")
    if slug in REASONS:
        return slug
    if slug:
        log.info("an unlisted audit reason was recorded as 'other'")
    return "other"


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[intpk]
    at: Mapped[timestamp] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(index=True)  # None: the system (a job, the IVR)
    actor_role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str32] = mapped_column(index=True)
    reason: Mapped[str | None] = mapped_column(String(32))
    contact_id: Mapped[int | None] = mapped_column(index=True)
    case_id: Mapped[int | None] = mapped_column(index=True)
    consent_id: Mapped[int | None] = mapped_column(index=True)
    field: Mapped[str | None] = mapped_column(String(16))
    # Counts and codes only (e.g. {"erased": 3}, {"rows": 12, "period": "month"}).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "action": self.action,
            "reason": self.reason,
            "contact_id": self.contact_id,
            "case_id": self.case_id,
            "consent_id": self.consent_id,
            "field": self.field,
            "details": dict(self.details or {}),
        }


class AppendOnly(RuntimeError):
    """Something tried to change or remove an audit event."""


@event.listens_for(AuditEvent, "before_update")
def _no_update(*_args: Any) -> None:
    raise AppendOnly("audit events are append-only")


@event.listens_for(AuditEvent, "before_delete")
def _no_delete(*_args: Any) -> None:
    raise AppendOnly("audit events are append-only")


_SAFE_DETAIL = (int, float, bool, type(None))


def _check_details(details: dict[str, Any]) -> dict[str, Any]:
    """Only counts, flags and short codes may go in; a value that could be text is refused."""
    for key, value in details.items():
        if isinstance(value, _SAFE_DETAIL):
            continue
        if (
            isinstance(value, str)
            and _SLUG.sub("_", value.lower()) == value.lower()
            and (len(value) <= 32)
        ):
            continue
        raise ValueError(f"audit detail {key!r} must be a number, a flag or a short code")
    return details


def record(
    session: Session,
    action: Action,
    *,
    actor_id: int | None,
    actor_role: str | None = None,
    reason: str | None = None,
    contact_id: int | None = None,
    case_id: int | None = None,
    consent_id: int | None = None,
    field: str | None = None,
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> AuditEvent:
    if actor_role is None and actor_id is not None:
        from console.domain.operators import Operator

        actor_role = session.scalar(select(Operator.role).where(Operator.id == actor_id))
    item = AuditEvent(
        at=now or utcnow(),
        actor_id=actor_id,
        actor_role=actor_role,
        action=action.value,
        reason=reason_code(reason),
        contact_id=contact_id,
        case_id=case_id,
        consent_id=consent_id,
        field=field,
        details=_check_details(dict(details or {})),
    )
    session.add(item)
    session.flush()
    return item


def recent(
    session: Session,
    *,
    limit: int = 200,
    before_id: int | None = None,
    action: str | None = None,
) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(max(1, min(limit, 1000)))
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(session.scalars(query))


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
