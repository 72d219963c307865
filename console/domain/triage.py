"""Triage: a short risk checklist that suggests a track; the operator decides.

Three tracks, as in victim-support practice: less serious, serious, very serious. Deciding very
serious alerts the shift leads live (`triage.alert` to the leads' room) and marks the contact — and
its case, for any follow-up — urgent. The alert fires once per conversation, however many times the
form is saved.
"""

from __future__ import annotations

import datetime as dt
import enum
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, intpk, timestamp, utcnow
from console.domain import events
from console.domain.contacts import HELD, Contact, get_contact
from console.domain.errors import NotYourContact, ValidationFailed
from console.settings import SettingsError


class Track(enum.StrEnum):
    LESS_SERIOUS = "less_serious"
    SERIOUS = "serious"
    VERY_SERIOUS = "very_serious"


RANK = {Track.LESS_SERIOUS: 0, Track.SERIOUS: 1, Track.VERY_SERIOUS: 2}
LABELS = {
    Track.LESS_SERIOUS: "Less serious",
    Track.SERIOUS: "Serious",
    Track.VERY_SERIOUS: "Very serious",
}


@dataclass(frozen=True)
class Item:
    code: str
    label: str
    track: Track


@dataclass(frozen=True)
class Checklist:
    version: int
    items: tuple[Item, ...]
    serious_items_for_very_serious: int = 3

    def item(self, code: str) -> Item | None:
        return next((i for i in self.items if i.code == code), None)

    def check_answers(self, answers: object) -> list[str]:
        if answers is None:
            return []
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise ValidationFailed("triage answers: a list of checklist codes")
        for code in answers:
            if self.item(code) is None:
                raise ValidationFailed(f"triage answers: unknown item {code!r}")
        return sorted(set(answers))

    def suggest(self, answers: list[str]) -> Track:
        ticked = [i for code in answers if (i := self.item(code)) is not None]
        if not ticked:
            return Track.LESS_SERIOUS
        highest = max((i.track for i in ticked), key=RANK.__getitem__)
        serious = sum(1 for i in ticked if i.track == Track.SERIOUS)
        if serious >= self.serious_items_for_very_serious:
            return Track.VERY_SERIOUS
        return highest

    def to_form(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "serious_items_for_very_serious": self.serious_items_for_very_serious,
            "items": [
                {"code": i.code, "label": i.label, "track": i.track.value} for i in self.items
            ],
            "tracks": [{"code": t.value, "label": LABELS[t]} for t in Track],
        }


def load_checklist(path: Path) -> Checklist:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise SettingsError(f"{path}: the triage checklist is missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML ({exc})") from exc
    items = []
    for index, raw in enumerate(data.get("item", [])):
        try:
            items.append(Item(str(raw["code"]), str(raw["label"]), Track(raw["track"])))
        except (KeyError, ValueError) as exc:
            raise SettingsError(
                f"{path.name}: item #{index + 1} needs code, label and a track of "
                f"{', '.join(t.value for t in Track)}"
            ) from exc
    codes = [i.code for i in items]
    if len(codes) != len(set(codes)):
        raise SettingsError(f"{path.name}: item codes must be unique")
    threshold = data.get("serious_items_for_very_serious", 3)
    if not isinstance(threshold, int) or threshold < 1:
        raise SettingsError(
            f"{path.name}: serious_items_for_very_serious must be a whole number ≥ 1"
        )
    return Checklist(int(data.get("version", 1)), tuple(items), threshold)


class TriageAssessment(Base):
    __tablename__ = "triage_assessments"

    id: Mapped[intpk]
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    # None: the track was decided on the wrap-up form without the checklist.
    checklist_version: Mapped[int | None]
    answers: Mapped[list[str]] = mapped_column(JSON, default=list)
    suggested: Mapped[str] = mapped_column(String(16))
    track: Mapped[str] = mapped_column(String(16))
    assessed_at: Mapped[timestamp] = mapped_column(index=True)
    alerted: Mapped[bool] = mapped_column(default=False)


ALERT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["contact_id", "contact_ref", "channel", "language", "track", "operator_id", "at"],
    "properties": {
        "contact_id": {"type": "integer"},
        "contact_ref": {"type": "string"},
        "channel": {"enum": ["voice", "chat", "callback"]},
        "language": {"type": "string"},
        "track": {"enum": [Track.VERY_SERIOUS.value]},
        "operator_id": {"type": ["integer", "null"]},
        "operator_name": {"type": ["string", "null"]},
        "at": {"type": "string"},
    },
    "additionalProperties": False,
}
events.register_schema("triage.alert", ALERT_SCHEMA, room=events.ROOM_LEADS)


def _chain_ids(session: Session, contact: Contact) -> list[int]:
    from console.domain.cases import transfer_chain

    return transfer_chain(session, contact.id)


def escalate(
    session: Session,
    contact: Contact,
    operator_id: int | None,
    *,
    now: dt.datetime | None = None,
    assessment: TriageAssessment | None = None,
) -> bool:
    """Very serious: mark the contact and its case urgent and alert the leads, once per
    conversation. Returns whether an alert went out."""
    from console.domain.cases import case_of
    from console.domain.operators import Operator

    now = now or utcnow()
    chain = _chain_ids(session, contact)
    already = session.scalar(
        select(TriageAssessment.id)
        .where(TriageAssessment.contact_id.in_(chain), TriageAssessment.alerted)
        .limit(1)
    )
    if not contact.urgent:
        contact.urgent = True
        contact.version += 1
        events.publish(session, "contact.updated", contact.to_public())
    case = case_of(session, contact.id)
    if case is not None:
        case.urgent = True
    if already is not None:
        return False
    if assessment is None:
        # Decided on the wrap-up form without going through the checklist.
        assessment = TriageAssessment(
            contact_id=contact.id,
            operator_id=operator_id,
            checklist_version=None,
            answers=[],
            suggested=Track.VERY_SERIOUS.value,
            track=Track.VERY_SERIOUS.value,
            assessed_at=now,
        )
        session.add(assessment)
    assessment.alerted = True
    session.flush()
    _alert(session, contact, operator_id, now, session.get(Operator, operator_id or -1))
    return True


def _alert(
    session: Session, contact: Contact, operator_id: int | None, now: dt.datetime, operator: Any
) -> None:
    events.publish(
        session,
        "triage.alert",
        {
            "contact_id": contact.id,
            "contact_ref": contact.ref,
            "channel": contact.channel,
            "language": contact.language,
            "track": Track.VERY_SERIOUS.value,
            "operator_id": operator_id,
            "operator_name": operator.display_name if operator is not None else None,
            "at": now.isoformat(),
        },
    )


def assess(
    session: Session,
    contact_id: int,
    operator_id: int,
    *,
    checklist: Checklist,
    answers: object,
    track: str | None,
    now: dt.datetime | None = None,
) -> TriageAssessment:
    """Record the checklist and the operator's decision (the suggestion when they gave none)."""
    now = now or utcnow()
    contact = get_contact(session, contact_id)
    if contact.operator_id != operator_id or contact.state not in HELD:
        raise NotYourContact("Only the operator holding this contact can triage it.")
    codes = checklist.check_answers(answers)
    suggested = checklist.suggest(codes)
    try:
        decided = Track(track) if track else suggested
    except ValueError as exc:
        raise ValidationFailed(f"triage track: one of {', '.join(t.value for t in Track)}") from exc
    assessment = TriageAssessment(
        contact_id=contact.id,
        operator_id=operator_id,
        checklist_version=checklist.version,
        answers=codes,
        suggested=suggested.value,
        track=decided.value,
        assessed_at=now,
    )
    session.add(assessment)
    session.flush()
    if decided == Track.VERY_SERIOUS:
        escalate(session, contact, operator_id, now=now, assessment=assessment)
    return assessment


def latest(session: Session, contact_id: int) -> TriageAssessment | None:
    return session.scalar(
        select(TriageAssessment)
        .where(TriageAssessment.contact_id == contact_id)
        .order_by(TriageAssessment.id.desc())
        .limit(1)
    )
