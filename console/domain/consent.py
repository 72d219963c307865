"""Consent records: the only thing that lets a caller's or visitor's identity be kept.

A consent covers a contact or a case, for one scope (a callback, a case follow-up, a referral to a
named organisation, keeping the transcript), given one way (verbally on a call, a checkbox in chat,
a key pressed in the IVR), recorded by an operator (or the system), until it expires. Withdrawing it
or reaching its expiry erases the identity it covered. Every change is audited.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping

from sqlalchemy import ForeignKey, String, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, intpk, str32, timestamp, utcnow
from console.domain import audit
from console.domain.contacts import Channel, get_contact
from console.domain.errors import DomainError, NotFound, ValidationFailed
from console.domain.notes import refuse_contact_data


class Scope(enum.StrEnum):
    CALLBACK = "callback"
    CASE_FOLLOW_UP = "case_follow_up"
    REFERRAL = "referral"
    TRANSCRIPT = "transcript"


class Method(enum.StrEnum):
    VERBAL = "verbal"
    CHAT_CHECKBOX = "chat_checkbox"
    IVR_KEYPRESS = "ivr_keypress"


class ConsentNotFound(NotFound):
    code = "consent_not_found"


class ConsentRefused(DomainError):
    """No valid consent of the right scope: the identity may not be written or read."""

    status = 403
    code = "consent_required"


# The longest each scope may keep identity; `grant` shortens a later expiry to this. The records
# settings replace these defaults with config/retention.toml's `[identity.max_days]`.
DEFAULT_MAX_DAYS: dict[Scope, int] = {
    Scope.CALLBACK: 7,
    Scope.CASE_FOLLOW_UP: 180,
    Scope.REFERRAL: 30,
    Scope.TRANSCRIPT: 90,
}
_max_days: dict[Scope, int] = dict(DEFAULT_MAX_DAYS)


def configure_limits(max_days: Mapping[str, int]) -> None:
    _max_days.clear()
    _max_days.update(DEFAULT_MAX_DAYS)
    for scope, days in max_days.items():
        _max_days[Scope(scope)] = int(days)


def max_days(scope: Scope) -> int:
    return _max_days[scope]


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[intpk]
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    scope: Mapped[str32]
    method: Mapped[str32]
    # The named organisation a referral goes to (a service, never a person).
    organisation: Mapped[str | None] = mapped_column(String(200))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    granted_at: Mapped[timestamp]
    expires_at: Mapped[timestamp] = mapped_column(index=True)
    withdrawn_at: Mapped[dt.datetime | None]
    erased_at: Mapped[dt.datetime | None]

    def is_active(self, now: dt.datetime | None = None) -> bool:
        now = now or utcnow()
        return self.withdrawn_at is None and self.erased_at is None and self.expires_at > now

    def status(self, now: dt.datetime | None = None) -> str:
        if self.withdrawn_at is not None:
            return "withdrawn"
        if self.is_active(now):
            return "active"
        return "expired"

    def to_public(self, now: dt.datetime | None = None) -> dict[str, object]:
        return {
            "id": self.id,
            "contact_id": self.contact_id,
            "case_id": self.case_id,
            "scope": self.scope,
            "method": self.method,
            "organisation": self.organisation,
            "operator_id": self.operator_id,
            "granted_at": self.granted_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "withdrawn_at": self.withdrawn_at.isoformat() if self.withdrawn_at else None,
            "status": self.status(now),
        }


def get_consent(session: Session, consent_id: int) -> Consent:
    consent = session.get(Consent, consent_id)
    if consent is None:
        raise ConsentNotFound(f"no consent {consent_id}")
    return consent


def _check_method(method: Method, channel: str | None) -> None:
    if channel is None:
        return
    if method == Method.CHAT_CHECKBOX and channel != Channel.CHAT:
        raise ValidationFailed("method: a chat checkbox is only given in a chat")
    if method == Method.IVR_KEYPRESS and channel == Channel.CHAT:
        raise ValidationFailed("method: a key press is only given on a call")


def grant(
    session: Session,
    *,
    contact_id: int | None,
    case_id: int | None,
    scope: Scope,
    method: Method,
    operator_id: int | None,
    expires_at: dt.datetime,
    now: dt.datetime | None = None,
    organisation: str | None = None,
) -> Consent:
    """Record a consent. Its expiry is kept within the retention policy's limit for the scope."""
    now = now or utcnow()
    try:
        scope = Scope(scope)
        method = Method(method)
    except ValueError as exc:
        raise ValidationFailed(f"consent: unknown scope or method ({exc})") from exc
    if contact_id is None and case_id is None:
        raise ValidationFailed("consent: name the contact or the case it covers")
    if expires_at.tzinfo is None:
        raise ValidationFailed("expires_at: give a time zone")
    if expires_at <= now:
        raise ValidationFailed("expires_at: must be in the future")
    if organisation is not None:
        organisation = organisation.strip() or None
        if organisation is not None and len(organisation) > 200:
            raise ValidationFailed("organisation: at most 200 characters")
        if organisation is not None:
            # A service's name, kept in clear for as long as the consent: never a way to reach
            # someone.
            refuse_contact_data(organisation, "organisation")
    if scope == Scope.REFERRAL and organisation is None:
        raise ValidationFailed("organisation: a referral consent names the organisation")
    channel = None
    if contact_id is not None:
        channel = get_contact(session, contact_id).channel
    if case_id is not None:
        from console.domain.cases import get_case

        get_case(session, case_id)
    _check_method(method, channel)
    limit = now + dt.timedelta(days=max_days(scope))
    consent = Consent(
        contact_id=contact_id,
        case_id=case_id,
        scope=scope.value,
        method=method.value,
        organisation=organisation,
        operator_id=operator_id,
        granted_at=now,
        expires_at=min(expires_at, limit),
    )
    session.add(consent)
    session.flush()
    audit.record(
        session,
        audit.Action.CONSENT_GRANTED,
        actor_id=operator_id,
        reason=scope.value,
        contact_id=contact_id,
        case_id=case_id,
        consent_id=consent.id,
        details={"scope": scope.value, "method": method.value},
        now=now,
    )
    return consent


def withdraw(
    session: Session,
    consent_id: int,
    *,
    actor_id: int | None,
    reason: str,
    now: dt.datetime | None = None,
) -> None:
    """The person withdrew: the consent ends now and the identity it covered is erased."""
    from console.domain import identity, permissions

    now = now or utcnow()
    consent = get_consent(session, consent_id)
    permissions.require(session, actor_id, permissions.Action.WITHDRAW_CONSENT, consent=consent)
    if consent.withdrawn_at is None:
        consent.withdrawn_at = now
    audit.record(
        session,
        audit.Action.CONSENT_WITHDRAWN,
        actor_id=actor_id,
        reason=reason,
        contact_id=consent.contact_id,
        case_id=consent.case_id,
        consent_id=consent.id,
        now=now,
    )
    identity.erase_identity(session, consent.id, actor_id=actor_id, reason=reason, now=now)


def expire(session: Session, now: dt.datetime) -> int:
    """Erase the identity of every consent that has expired (or ended) and still holds some.

    Idempotent: a consent is handled once, then marked erased. Returns how many were handled.
    """
    from console.domain import identity

    due = list(
        session.scalars(
            select(Consent).where(
                Consent.erased_at.is_(None),
                (Consent.expires_at <= now) | (Consent.withdrawn_at.is_not(None)),
            )
        )
    )
    for consent in due:
        if consent.withdrawn_at is None:
            audit.record(
                session,
                audit.Action.CONSENT_EXPIRED,
                actor_id=None,
                reason="expired",
                contact_id=consent.contact_id,
                case_id=consent.case_id,
                consent_id=consent.id,
                now=now,
            )
        identity.erase_identity(session, consent.id, actor_id=None, reason="expired", now=now)
    return len(due)


def require_active(
    session: Session, consent_id: int, scope: Scope | None = None, now: dt.datetime | None = None
) -> Consent:
    """The consent, if it is in force (and of `scope` when given); otherwise ConsentRefused."""
    now = now or utcnow()
    try:
        consent = get_consent(session, consent_id)
    except ConsentNotFound:
        raise ConsentRefused("No consent allows this.") from None
    if consent.withdrawn_at is not None:
        raise ConsentRefused("The consent was withdrawn.")
    if not consent.is_active(now):
        raise ConsentRefused("The consent has expired.")
    if scope is not None and consent.scope != Scope(scope):
        raise ConsentRefused(
            f"The consent covers {consent.scope.replace('_', ' ')}, not "
            f"{Scope(scope).value.replace('_', ' ')}."
        )
    return consent


def for_contacts(session: Session, contact_ids: list[int]) -> list[Consent]:
    if not contact_ids:
        return []
    return list(
        session.scalars(
            select(Consent).where(Consent.contact_id.in_(contact_ids)).order_by(Consent.id)
        )
    )


def active_contact_ids(session: Session, now: dt.datetime) -> set[int]:
    """Every contact under an active consent: directly, through its case, or its transfer chain."""
    from console.domain.cases import CaseContact, transfer_chain

    active = list(
        session.execute(
            select(Consent.contact_id, Consent.case_id).where(
                Consent.withdrawn_at.is_(None),
                Consent.erased_at.is_(None),
                Consent.expires_at > now,
            )
        ).all()
    )
    direct: set[int] = {c for c, _ in active if c is not None}
    case_ids = {k for _, k in active if k is not None}
    if case_ids:
        direct.update(
            session.scalars(select(CaseContact.contact_id).where(CaseContact.case_id.in_(case_ids)))
        )
    protected: set[int] = set()
    for contact_id in direct:
        if contact_id not in protected:
            protected.update(transfer_chain(session, contact_id))
    return protected


def kept_until(
    session: Session, contact_ids: list[int], scope: Scope, now: dt.datetime
) -> dt.datetime | None:
    """Until when an active consent of `scope` covers any of these contacts, directly or through
    their case; None when none does."""
    from console.domain.cases import CaseContact

    if not contact_ids:
        return None
    cases = select(CaseContact.case_id).where(CaseContact.contact_id.in_(contact_ids))
    return session.scalar(
        select(func.max(Consent.expires_at)).where(
            Consent.scope == scope.value,
            Consent.withdrawn_at.is_(None),
            Consent.erased_at.is_(None),
            Consent.expires_at > now,
            or_(Consent.contact_id.in_(contact_ids), Consent.case_id.in_(cases)),
        )
    )
