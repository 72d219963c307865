"""What a shift lead can do from the wallboard, each action audited.

- change an operator's presence (send someone on a break, or back);
- reassign a waiting or offered contact to a named operator, or back to the whole queue;
- broadcast a short message to every operator's console;
- open the queue for overflow: waiting contacts in one language go to operators of another language
  (or of any), or callers are told of a partner line (the telephony channel asks
  `partner_line_for`).

Each action leaves an event in the records feature's append-only audit trail
(`console.domain.audit`): who did what to which operator or contact, and when; never the
broadcast's text (it could name a caller), and no address.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from typing import Any, cast

from sqlalchemy import ForeignKey, String, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, intpk, str16, timestamp, utcnow
from console.domain import audit as audit_trail
from console.domain import events, operators
from console.domain.audit import AuditEvent
from console.domain.contacts import QUEUED, Contact, State, get_contact, record_transition
from console.domain.errors import ContactUnavailable, DomainError, ValidationFailed
from console.domain.operators import TAKING_CONTACTS, Operator, get_operator
from console.domain.queue import Offer, OfferState, has_room, operator_load, skill_matches
from console.domain.stats_settings import StatsSettings
from console.jobs.periodic import PeriodicJob, register
from console.settings import QueueSettings

BROADCAST_MAX = 280
ANY_LANGUAGE = "any"
PARTNER_PREFIX = "partner:"


class NotAllowed(DomainError):
    status = 403
    code = "not_allowed"


class Overflow(Base):
    """An overflow the shift lead opened: a language's waiting contacts may go elsewhere."""

    __tablename__ = "queue_overflows"

    id: Mapped[intpk]
    language: Mapped[str16] = mapped_column(index=True)
    # "any", a language code, or "partner:<code>" for a partner line.
    target: Mapped[str] = mapped_column(String(48))
    opened_by: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    opened_at: Mapped[timestamp]
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    closed_at: Mapped[dt.datetime | None]

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "language": self.language,
            "target": self.target,
            "opened_at": self.opened_at.isoformat(),
        }


_broadcast = {
    "type": "object",
    "required": ["id", "message", "from", "at"],
    "properties": {
        "id": {"type": "string"},
        "message": {"type": "string", "minLength": 1, "maxLength": BROADCAST_MAX},
        "from": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
    },
    "additionalProperties": False,
}
events.register_schema("lead.broadcast", _broadcast, room=events.ROOM_STAFF)


class LeadAudit(enum.StrEnum):
    """Audit codes of the shift lead's actions, kept in the records feature's audit trail."""

    PRESENCE = "lead.presence"
    REASSIGN = "lead.reassign"
    BROADCAST = "lead.broadcast"
    OVERFLOW_OPEN = "lead.overflow_open"
    OVERFLOW_CLOSE = "lead.overflow_close"


def audit(
    session: Session,
    actor_id: int,
    action: LeadAudit,
    now: dt.datetime,
    *,
    contact_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """One append-only audit event: IDs, codes and counts only (`audit.record` refuses text)."""
    # The trail's `record` names its own actions; ours are codes of the same kind and shape.
    return audit_trail.record(
        session,
        cast(audit_trail.Action, action),
        actor_id=actor_id,
        contact_id=contact_id,
        details=details,
        now=now,
    )


def _lead(session: Session, lead_id: int) -> Operator:
    lead = get_operator(session, lead_id)
    if not lead.is_lead:
        raise NotAllowed("Only a shift lead can do this.")
    return lead


def set_operator_presence(
    session: Session, lead_id: int, operator_id: int, presence: str, now: dt.datetime | None = None
) -> Operator:
    """Put an operator on a break, offline, or back to available (busy follows their contacts)."""
    now = now or utcnow()
    _lead(session, lead_id)
    operator = get_operator(session, operator_id)
    before = operator.presence
    operators.choose_presence(session, operator, presence, now)
    audit(
        session,
        lead_id,
        LeadAudit.PRESENCE,
        now,
        details={"operator_id": operator_id, "from": before, "to": operator.presence},
    )
    return operator


def _end_offers(session: Session, contact_id: int, now: dt.datetime) -> None:
    for offer in session.scalars(
        select(Offer).where(Offer.contact_id == contact_id, Offer.state == OfferState.PENDING)
    ):
        offer.state = OfferState.RESCINDED
        offer.resolved_at = now
        events.publish(
            session,
            "offer.ended",
            {"offer_id": offer.id, "contact_id": contact_id, "state": OfferState.RESCINDED.value},
            room=events.operator_room(offer.operator_id),
        )


def _is_free(session: Session, operator: Operator, channel: str) -> bool:
    if not operator.active or operator.presence not in TAKING_CONTACTS:
        return False
    pending = session.scalar(
        select(func.count()).where(
            Contact.state == State.OFFERED, Contact.offered_to_id == operator.id
        )
    )
    return not pending and has_room(operator, operator_load(session, operator.id), channel)


def offer_to(
    session: Session, contact: Contact, operator: Operator, cfg: QueueSettings, now: dt.datetime
) -> Offer | None:
    """Offer a waiting contact to one operator (as the routing tick does); None if it moved."""
    expires = now + dt.timedelta(seconds=cfg.reservation_timeout)
    result = session.execute(
        update(Contact)
        .where(Contact.id == contact.id, Contact.state == State.WAITING)
        .values(
            state=State.OFFERED,
            offered_to_id=operator.id,
            offered_at=now,
            offer_expires_at=expires,
            version=Contact.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(contact)
    record_transition(session, contact, State.WAITING, State.OFFERED, now, operator_id=operator.id)
    offer = Offer(
        contact_id=contact.id,
        operator_id=operator.id,
        state=OfferState.PENDING,
        created_at=now,
        expires_at=expires,
    )
    session.add(offer)
    session.flush()
    events.publish(session, "contact.updated", contact.to_public())
    events.publish(
        session,
        "offer.created",
        {"offer_id": offer.id, "contact": contact.to_public(), "expires_at": expires.isoformat()},
        room=events.operator_room(operator.id),
    )
    return offer


def reassign(
    session: Session,
    lead_id: int,
    contact_id: int,
    to_operator_id: int | None,
    cfg: QueueSettings,
    now: dt.datetime | None = None,
) -> Contact:
    """Take a waiting or offered contact back and give it to `to_operator_id` (only they may
    take it), or to the whole queue when None. Offered at once if that operator is free."""
    now = now or utcnow()
    _lead(session, lead_id)
    target = get_operator(session, to_operator_id) if to_operator_id is not None else None
    contact = get_contact(session, contact_id)
    if contact.state not in QUEUED:
        raise ContactUnavailable(
            f"This contact is {contact.state.replace('_', ' ')}; only waiting or offered "
            "contacts can be reassigned."
        )
    previous, offered_to = contact.state, contact.offered_to_id
    holder = (
        Contact.offered_to_id.is_(None)
        if offered_to is None
        else Contact.offered_to_id == offered_to
    )
    result = session.execute(
        update(Contact)
        .where(Contact.id == contact_id, Contact.state == previous, holder)
        .values(
            state=State.WAITING,
            offered_to_id=None,
            offer_expires_at=None,
            target_operator_id=to_operator_id,
            version=Contact.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ContactUnavailable("The contact moved meanwhile (accepted or offered); try again.")
    session.refresh(contact)
    if previous == State.OFFERED:
        record_transition(
            session,
            contact,
            State.OFFERED,
            State.WAITING,
            now,
            operator_id=offered_to,
            reason="reassigned",
        )
        _end_offers(session, contact_id, now)
    audit(
        session,
        lead_id,
        LeadAudit.REASSIGN,
        now,
        contact_id=contact_id,
        details={
            "operator_id": to_operator_id,
            "from_state": previous,
            "from_operator_id": offered_to,
        },
    )
    if target is not None and _is_free(session, target, contact.channel):
        offer_to(session, contact, target, cfg, now)
    else:
        events.publish(session, "contact.updated", contact.to_public())
    return contact


def broadcast(
    session: Session, lead_id: int, message: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """A short message to every operator's console. Its text is sent, never stored."""
    now = now or utcnow()
    lead = _lead(session, lead_id)
    text = " ".join((message or "").split())
    if not text:
        raise ValidationFailed("message: write something to send")
    if len(text) > BROADCAST_MAX:
        raise ValidationFailed(f"message: at most {BROADCAST_MAX} characters")
    payload = {
        "id": secrets.token_hex(6),
        "message": text,
        "from": lead.display_name,
        "at": now.isoformat(),
    }
    audit(session, lead_id, LeadAudit.BROADCAST, now, details={"length": len(text)})
    events.publish(session, "lead.broadcast", payload)
    return payload


def _check_target(
    target: str, language: str, languages: tuple[str, ...], cfg: StatsSettings
) -> str:
    if target == ANY_LANGUAGE:
        return target
    if target.startswith(PARTNER_PREFIX):
        code = target.removeprefix(PARTNER_PREFIX)
        if not any(p.code == code for p in cfg.partner_lines):
            known = ", ".join(p.code for p in cfg.partner_lines) or "none configured"
            raise ValidationFailed(f"target: unknown partner line {code!r} ({known})")
        return target
    if target not in languages:
        raise ValidationFailed(
            f"target: 'any', a language ({', '.join(languages)}) or a partner line"
        )
    if target == language:
        raise ValidationFailed("target: choose a language other than the one overflowing")
    return target


def _overflow_details(overflow: Overflow) -> dict[str, Any]:
    if overflow.target.startswith(PARTNER_PREFIX):
        kind, target = "partner", overflow.target.removeprefix(PARTNER_PREFIX)
    else:
        kind, target = "language", overflow.target
    return {
        "overflow_id": overflow.id,
        "language": overflow.language,
        "target_kind": kind,
        "target": target,
    }


def open_overflows(session: Session) -> list[Overflow]:
    return list(
        session.scalars(select(Overflow).where(Overflow.closed_at.is_(None)).order_by(Overflow.id))
    )


def open_overflow(
    session: Session,
    lead_id: int,
    language: str,
    target: str,
    *,
    languages: tuple[str, ...],
    stats: StatsSettings,
    cfg: QueueSettings,
    now: dt.datetime | None = None,
) -> Overflow:
    """Let `language`'s waiting contacts go to `target` now, instead of after the overflow wait."""
    now = now or utcnow()
    _lead(session, lead_id)
    if language not in languages:
        raise ValidationFailed(f"language: one of {', '.join(languages)}")
    target = _check_target(target, language, languages, stats)
    for existing in open_overflows(session):
        if existing.language == language and existing.target == target:
            return existing
    overflow = Overflow(language=language, target=target, opened_by=lead_id, opened_at=now)
    session.add(overflow)
    session.flush()
    audit(session, lead_id, LeadAudit.OVERFLOW_OPEN, now, details=_overflow_details(overflow))
    route_overflow(session, cfg, now)
    return overflow


def close_overflow(
    session: Session, lead_id: int, overflow_id: int, now: dt.datetime | None = None
) -> Overflow:
    now = now or utcnow()
    _lead(session, lead_id)
    overflow = session.get(Overflow, overflow_id)
    if overflow is None:
        from console.domain.errors import NotFound

        raise NotFound(f"no overflow {overflow_id}")
    if overflow.closed_at is None:
        overflow.closed_at = now
        overflow.closed_by = lead_id
        audit(session, lead_id, LeadAudit.OVERFLOW_CLOSE, now, details=_overflow_details(overflow))
    return overflow


def partner_lines_open(session: Session) -> dict[str, str]:
    """Language → the partner line code its callers may be told of now, as the lead opened them
    (the first opened, where a language has several)."""
    lines: dict[str, str] = {}
    for overflow in open_overflows(session):
        if overflow.target.startswith(PARTNER_PREFIX):
            lines.setdefault(overflow.language, overflow.target.removeprefix(PARTNER_PREFIX))
    return lines


def partner_line_for(session: Session, language: str) -> str | None:
    """The partner line code callers in `language` may be offered now, if the lead opened one."""
    return partner_lines_open(session).get(language)


def route_overflow(session: Session, cfg: QueueSettings, now: dt.datetime | None = None) -> int:
    """Offer waiting contacts of overflowed languages to free operators of the target language.

    The routing tick keeps doing everything else; this only widens who may get these contacts.
    """
    now = now or utcnow()
    targets: dict[str, set[str]] = {}
    for overflow in open_overflows(session):
        if not overflow.target.startswith(PARTNER_PREFIX):
            targets.setdefault(overflow.language, set()).add(overflow.target)
    if not targets:
        return 0
    waiting = list(
        session.scalars(
            select(Contact)
            .where(
                Contact.state == State.WAITING,
                Contact.language.in_(list(targets)),
                Contact.target_operator_id.is_(None),
            )
            .order_by(Contact.priority.desc(), Contact.enqueued_at, Contact.id)
            .limit(200)
        )
    )
    if not waiting:
        return 0
    candidates = list(
        session.scalars(
            select(Operator)
            .where(Operator.active, Operator.presence.in_(list(TAKING_CONTACTS)))
            .order_by(Operator.presence_since, Operator.id)
        )
    )
    cooldown = now - dt.timedelta(seconds=cfg.reoffer_cooldown)
    refused = {
        (contact_id, operator_id)
        for contact_id, operator_id in session.execute(
            select(Offer.contact_id, Offer.operator_id).where(
                Offer.contact_id.in_([c.id for c in waiting]),
                Offer.state.in_([OfferState.REJECTED, OfferState.TIMEOUT]),
                Offer.resolved_at >= cooldown,
            )
        )
    }
    count = 0
    taken: set[int] = set()
    for contact in waiting:
        wanted = targets[contact.language]
        for operator in candidates:
            if operator.id in taken or (contact.id, operator.id) in refused:
                continue
            speaks = ANY_LANGUAGE in wanted or bool(wanted & set(operator.languages))
            if not speaks or not skill_matches(operator, contact):
                continue
            if not _is_free(session, operator, contact.channel):
                continue
            if offer_to(session, contact, operator, cfg, now) is not None:
                taken.add(operator.id)
                count += 1
            break
    return count


def route_overflow_job() -> int:
    """Periodic: keep overflowed languages moving between routing ticks."""
    from console.jobs.context import get_context

    ctx = get_context()
    with ctx.database.transaction() as session:
        return route_overflow(session, ctx.settings.queue)


register(PeriodicJob("console.domain.lead_actions.route_overflow_job", every=2))


def recent(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    """The latest shift-lead actions, for the lead's page."""
    rows = session.execute(
        select(AuditEvent, Operator.display_name)
        .join(Operator, Operator.id == AuditEvent.actor_id)
        .where(AuditEvent.action.in_([a.value for a in LeadAudit]))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": entry.id,
            "at": entry.at.isoformat(),
            "by": name,
            "action": entry.action,
            "contact_id": entry.contact_id,
            "details": dict(entry.details or {}),
        }
        for entry, name in rows
    ]
