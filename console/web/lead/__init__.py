"""The shift lead's live page: waiting count, longest wait, operators by presence, handled today."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from console.domain import live_stats
from console.domain.operators import Operator
from console.settings import Settings
from console.web import database
from console.web.security import LEADS, roles

bp = Blueprint("lead", __name__)


@bp.route("/lead")
@roles(*LEADS)
def page() -> ResponseReturnValue:
    return render_template("lead.html")


@bp.route("/api/lead/stats")
@roles(*LEADS)
def stats() -> ResponseReturnValue:
    settings: Settings = current_app.config["HELPLINE_SETTINGS"]
    session = database.session()
    operators = session.scalars(select(Operator).where(Operator.active).order_by(Operator.id))
    return jsonify(
        stats=live_stats.snapshot(session, settings.tz),
        operators=[op.to_public() for op in operators],
    )
