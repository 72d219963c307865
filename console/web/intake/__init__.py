"""Intake of contacts that reach the line another way: police and partner referrals, self-referrals
by e-mail or in person. They join the same queue as calls and chats, as callbacks to make.

No identity is taken here; a number to call back is kept only under a consent record.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from console.domain import queue
from console.domain.errors import ValidationFailed
from console.settings import Settings
from console.web import database, inputs
from console.web.security import STAFF, roles

bp = Blueprint("intake", __name__)


@bp.route("/api/intake", methods=["POST"])
@roles(*STAFF)
def intake() -> ResponseReturnValue:
    settings: Settings = current_app.config["HELPLINE_SETTINGS"]
    data = inputs.body()
    language = inputs.text(data, "language", max_len=16) or ""
    if language not in settings.language_codes:
        raise ValidationFailed(f"language: one of {', '.join(settings.language_codes)}")
    topic = inputs.text(data, "topic", required=False, max_len=32)
    if topic is not None and topic not in settings.topic_codes:
        raise ValidationFailed(f"topic: one of {', '.join(settings.topic_codes)}")
    urgent = data.get("urgent", False)
    if not isinstance(urgent, bool):
        raise ValidationFailed("urgent: true or false")
    session = database.session()
    contact = queue.enqueue(
        session,
        channel="callback",
        language=language,
        topic=topic,
        source=inputs.text(data, "source", required=False, max_len=16) or "self",
        urgent=urgent,
        cfg=settings.queue,
    )
    session.commit()
    return jsonify(contact=contact.to_public()), 201
