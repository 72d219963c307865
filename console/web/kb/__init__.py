"""The knowledge-base panel's API: search while on a contact, read a service, give a referral.

The knowledge package stands alone; this blueprint is the console's side of it.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from console.domain import referrals
from console.domain.contacts import Contact, State
from console.domain.errors import NotFound, ValidationFailed
from console.domain.outcomes import Outcome
from console.settings import Settings
from console.web import database, inputs
from console.web.security import STAFF, roles
from knowledge import referrals as kb_referrals
from knowledge import search as kb_search
from knowledge.errors import RecordNotFound

bp = Blueprint("kb", __name__)

QUERY_MAX = 200


def _settings() -> Settings:
    settings: Settings = current_app.config["HELPLINE_SETTINGS"]
    return settings


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes", "on")


@bp.route("/api/kb/search")
@roles(*STAFF)
def search() -> ResponseReturnValue:
    query = request.args.get("q", "")
    if len(query) > QUERY_MAX:
        raise ValidationFailed(f"q: at most {QUERY_MAX} characters")
    lang = request.args.get("lang") or None
    if lang is not None and lang not in _settings().language_codes:
        raise ValidationFailed(f"lang: one of {', '.join(_settings().language_codes)}")
    limit = inputs.integer(dict(request.args), "limit", required=False) or 10
    results = kb_search.search(
        database.session(),
        query,
        lang=lang,
        region=request.args.get("region") or None,
        open_now=_flag("open_now"),
        limit=max(1, min(limit, 50)),
        zone=_settings().timezone,
    )
    return jsonify(
        results=[
            {
                "kind": r.kind,
                "id": r.id,
                "title": r.title,
                "snippet": r.snippet,
                "language": r.language,
                "organization": r.organization,
                "phone": r.phone,
                "hours": r.hours,
                "open_now": r.open_now,
                "languages": list(r.languages),
                "eligibility": r.eligibility,
                "how_to_refer": r.how_to_refer,
                "accepts_direct_referrals": r.accepts_direct_referrals,
            }
            for r in results
        ]
    )


def _service(service_id: str) -> dict[str, object]:
    try:
        return kb_referrals.service_summary(
            database.session(), service_id, zone=_settings().timezone
        )
    except RecordNotFound as exc:
        raise NotFound(f"no service {service_id!r} in the directory") from exc


@bp.route("/api/kb/services/<service_id>")
@roles(*STAFF)
def service(service_id: str) -> ResponseReturnValue:
    return jsonify(service=_service(service_id))


@bp.route("/api/contacts/<int:contact_id>/referrals", methods=["GET", "POST"])
@roles(*STAFF)
def contact_referrals(contact_id: int) -> ResponseReturnValue:
    session = database.session()
    if request.method == "GET":
        given = referrals.referrals_for(session, contact_id)
        return jsonify(referrals=[r.to_public() for r in given])
    data = inputs.body()
    service_id = inputs.text(data, "service_id", max_len=64) or ""
    summary = _service(service_id)
    referral = referrals.give_referral(
        session,
        contact_id,
        current_user.operator_id,
        service_id=service_id,
        service_name=str(summary.get("name") or service_id),
    )
    session.commit()
    return jsonify(referral=referral.to_public()), 201


@bp.route("/api/me/recent")
@roles(*STAFF)
def recent() -> ResponseReturnValue:
    """The operator's own last closed contacts with their outcome, for checking what was logged."""
    session = database.session()
    rows = session.execute(
        select(Contact, Outcome)
        .join(Outcome, Outcome.contact_id == Contact.id)
        .where(Contact.operator_id == current_user.operator_id, Contact.state == State.CLOSED)
        .order_by(Contact.closed_at.desc())
        .limit(10)
    ).all()
    return jsonify(
        records=[
            {
                "contact": contact.to_public(),
                "outcome": outcome.code,
                "referrals": list((outcome.details or {}).get("referrals", [])),
            }
            for contact, outcome in rows
        ]
    )
