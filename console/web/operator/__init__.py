"""The operator's live console: the queue, their own contacts, presence, accept and wrap-up."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from console.domain import operators, outcomes, queue
from console.domain.contacts import Contact
from console.settings import Settings
from console.web import database, inputs
from console.web.security import STAFF, roles

bp = Blueprint("operator", __name__)


def _settings() -> Settings:
    settings: Settings = current_app.config["HELPLINE_SETTINGS"]
    return settings


def _taxonomy() -> outcomes.OutcomeTaxonomy:
    taxonomy: outcomes.OutcomeTaxonomy = current_app.config["HELPLINE_OUTCOMES"]
    return taxonomy


def _contacts(items: list[Contact]) -> list[dict[str, Any]]:
    return [c.to_public() for c in items]


@bp.route("/console")
@roles(*STAFF)
def page() -> ResponseReturnValue:
    settings = _settings()
    return render_template(
        "console.html",
        languages=settings.languages,
        topics=settings.topics,
        outcomes=_taxonomy().codes,
        reservation_timeout=settings.queue.reservation_timeout,
        panels=[
            {"template": p.template, "script": url_for(p.static_endpoint, filename=p.script)}
            if p.script
            else {"template": p.template, "script": None}
            for p in current_app.extensions.get("helpline.console_panels", [])
        ],
        labels={
            "languages": {lang.code: lang.name for lang in settings.languages},
            "topics": {t.code: t.label for t in settings.topics},
        },
    )


@bp.route("/api/me")
@roles(*STAFF)
def me() -> ResponseReturnValue:
    operator = operators.get_operator(database.session(), current_user.operator_id)
    return jsonify(operator.to_public() | {"max_chats": operator.max_chats})


@bp.route("/api/queue")
@roles(*STAFF)
def queue_state() -> ResponseReturnValue:
    """The snapshot a console loads on start and after every reconnect; events do the rest."""
    session = database.session()
    operator = operators.get_operator(session, current_user.operator_id)
    return jsonify(
        waiting=_contacts(queue.queue_snapshot(session)),
        mine=_contacts(queue.held_by(session, operator.id)),
        me=operator.to_public(),
    )


@bp.route("/api/contacts/<int:contact_id>/accept", methods=["POST"])
@roles(*STAFF)
def accept(contact_id: int) -> ResponseReturnValue:
    session = database.session()
    contact = queue.claim(session, contact_id, current_user.operator_id)
    session.commit()
    return jsonify(contact=contact.to_public())


@bp.route("/api/contacts/<int:contact_id>/reject", methods=["POST"])
@roles(*STAFF)
def reject(contact_id: int) -> ResponseReturnValue:
    session = database.session()
    contact = queue.reject(session, contact_id, current_user.operator_id)
    session.commit()
    return jsonify(contact=contact.to_public())


@bp.route("/api/contacts/<int:contact_id>/end", methods=["POST"])
@roles(*STAFF)
def end(contact_id: int) -> ResponseReturnValue:
    """The conversation is over; the contact moves to wrap-up."""
    session = database.session()
    contact = queue.start_wrap_up(session, contact_id, current_user.operator_id)
    session.commit()
    return jsonify(contact=contact.to_public())


@bp.route("/api/contacts/<int:contact_id>/wrap-up", methods=["POST"])
@roles(*STAFF)
def wrap_up(contact_id: int) -> ResponseReturnValue:
    # The records feature owns the full form: details, taxonomy version, the draft kept on refusal.
    from console.web.records.wrapup import submit

    return submit(contact_id)


@bp.route("/api/contacts/<int:contact_id>/transfer", methods=["POST"])
@roles(*STAFF)
def transfer(contact_id: int) -> ResponseReturnValue:
    data = inputs.body()
    session = database.session()
    successor = queue.transfer(
        session,
        contact_id,
        current_user.operator_id,
        _settings().queue,
        to_operator_id=inputs.integer(data, "to_operator_id", required=False),
    )
    session.commit()
    return jsonify(contact=successor.to_public())


@bp.route("/api/presence", methods=["POST"])
@roles(*STAFF)
def presence() -> ResponseReturnValue:
    data = inputs.body()
    session = database.session()
    operator = operators.get_operator(session, current_user.operator_id)
    operators.choose_presence(session, operator, inputs.text(data, "presence", max_len=16) or "")
    session.commit()
    return jsonify(me=operator.to_public())
