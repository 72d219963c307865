"""What an operator reads out, or pastes into a chat, when giving a referral."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge import hours, languages
from knowledge.errors import RecordNotFound
from knowledge.indexing import service_entries
from knowledge.models import Address, ServiceAtLocation


def service_summary(
    session: Session,
    service_id: str,
    *,
    now: dt.datetime | None = None,
    zone: str | None = None,
    locale: str = "en",
) -> dict[str, Any]:
    """The public details of a service; `text` is a ready-to-paste plain-text block.

    Only directory data is included: nothing about the caller or the contact.
    """
    entries, _ = service_entries(session, [service_id], statuses=None)
    if not entries:
        raise RecordNotFound("service", service_id)
    entry = entries[0]
    card = entry["card"]
    schedules = card.get("schedules") or []
    open_now = hours.is_open(schedules, now or dt.datetime.now(dt.UTC), zone=zone)
    summary = {
        "id": service_id,
        "name": entry["title"],
        "organization": card.get("organization"),
        "status": card.get("status"),
        "alert": card.get("alert"),
        "phone": card.get("phone"),
        "phones": card.get("phones") or [],
        "hours": hours.summary(schedules, locale=locale) or None,
        "open_now": open_now,
        "languages": [
            {"code": code, "name": languages.name(code)} for code in card.get("languages") or []
        ],
        "eligibility": card.get("eligibility"),
        "how_to_refer": card.get("how_to_refer"),
        "accepts_direct_referrals": card.get("accepts_direct_referrals"),
        "cross_border_contact_point": card.get("cross_border_contact_point"),
        "url": card.get("url"),
        "email": card.get("email"),
        "addresses": _addresses(session, service_id),
    }
    summary["text"] = _text(summary)
    return summary


def _addresses(session: Session, service_id: str) -> list[str]:
    rows = session.scalars(
        select(Address)
        .join(ServiceAtLocation, ServiceAtLocation.location_id == Address.location_id)
        .where(ServiceAtLocation.service_id == service_id, Address.address_type != "postal")
        .order_by(Address.id)
    )
    return [
        ", ".join(
            part for part in (a.address_1, a.address_2, f"{a.postal_code} {a.city}".strip()) if part
        )
        for a in rows
    ]


def _text(summary: dict[str, Any]) -> str:
    title = summary["name"]
    if summary["organization"] and summary["organization"] != title:
        title += f" ({summary['organization']})"
    lines = [title]
    if summary["phone"]:
        lines.append(f"Phone: {summary['phone']}")
    if summary["hours"]:
        lines.append(f"Hours: {summary['hours']}")
    if summary["languages"]:
        lines.append("Languages: " + ", ".join(lang["name"] for lang in summary["languages"]))
    if summary["addresses"]:
        lines.append("Address: " + "; ".join(summary["addresses"]))
    if summary["eligibility"]:
        lines.append(f"Who it is for: {summary['eligibility']}")
    if summary["how_to_refer"]:
        lines.append(f"How to get help: {summary['how_to_refer']}")
    if summary["url"]:
        lines.append(f"Website: {summary['url']}")
    if summary["email"]:
        lines.append(f"Email: {summary['email']}")
    return "\n".join(lines)
