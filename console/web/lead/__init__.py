"""The shift lead: a live wallboard (TV mode too), actions on the shift, reports with charts.

The wallboard is pushed over Socket.IO (`wallboard.snapshot`, and the spine's `lead.stats`); these
views give the snapshot a page loads on connect, the actions, and the reports. Wellbeing figures
go to the operator themself and to shift leads, and never into a report or an export.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from console.db import utcnow
from console.domain import (
    audit,
    lead_actions,
    live_stats,
    permissions,
    queue,
    reports,
    wallboard,
    wellbeing,
)
from console.domain.errors import ValidationFailed
from console.domain.operators import Operator
from console.domain.stats_settings import StatsSettings, install, load_stats_settings
from console.settings import Settings
from console.web import database, inputs
from console.web.lead.report_views import chart_labels, sections
from console.web.panels import ConsolePanel, register_panel
from console.web.security import LEADS, STAFF, roles

log = logging.getLogger(__name__)

bp = Blueprint("lead", __name__, template_folder="templates")
EXTENSION = "helpline.stats"


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    """Load the statistics' settings at start-up (a mistake stops it) and add the console panel."""
    settings: Settings = state.app.config["HELPLINE_SETTINGS"]
    state.app.extensions[EXTENSION] = install(load_stats_settings(settings))
    app = cast(Flask, state.app)
    register_panel(app, ConsolePanel("shift", "lead/shift_panel.html", script="dist/shift.js"))


def _settings() -> Settings:
    settings: Settings = current_app.config["HELPLINE_SETTINGS"]
    return settings


def _stats() -> StatsSettings:
    stats: StatsSettings = current_app.extensions[EXTENSION]
    return stats


def _push() -> None:
    """Show the lead's change on every wallboard at once, not at the next event."""
    try:
        wallboard.push(database.database(), _stats())
    except Exception:
        log.warning("could not push the wallboard", exc_info=True)


def _page_config() -> dict[str, Any]:
    settings = _settings()
    stats = _stats()
    return {
        "languages": {lang.code: lang.name for lang in settings.languages},
        "topics": {t.code: t.label for t in settings.topics},
        "partner_lines": [{"code": p.code, "name": p.name} for p in stats.partner_lines],
        "thresholds": {
            "longest_wait": {"amber": stats.longest_wait.amber, "red": stats.longest_wait.red},
        },
        "me": current_user.operator_id,
    }


@bp.route("/lead")
@roles(*LEADS)
def page() -> ResponseReturnValue:
    return render_template("lead.html", tv=False, page_config=_page_config())


@bp.route("/lead/tv")
@roles(*LEADS)
def tv() -> ResponseReturnValue:
    """The wallboard alone, in large type, for a screen across the room."""
    return render_template("lead.html", tv=True, page_config=_page_config())


@bp.route("/api/lead/stats")
@roles(*LEADS)
def stats() -> ResponseReturnValue:
    settings = _settings()
    session = database.session()
    operators = session.scalars(select(Operator).where(Operator.active).order_by(Operator.id))
    return jsonify(
        stats=live_stats.snapshot(session, settings.tz),
        operators=[op.to_public() for op in operators],
    )


@bp.route("/api/lead/wallboard")
@roles(*LEADS)
def wallboard_state() -> ResponseReturnValue:
    """What the wallboard loads on connect and after a reconnect; pushes do the rest."""
    session = database.session()
    operators = session.scalars(select(Operator).where(Operator.active).order_by(Operator.id))
    return jsonify(
        snapshot=wallboard.snapshot(session, _stats()),
        stats=live_stats.snapshot(session, _settings().tz),
        queue=[c.to_public() for c in queue.queue_snapshot(session)],
        operators=[op.to_public() for op in operators],
        actions=lead_actions.recent(session),
    )


@bp.route("/api/lead/operators/<int:operator_id>/presence", methods=["POST"])
@roles(*LEADS)
def set_presence(operator_id: int) -> ResponseReturnValue:
    data = inputs.body()
    session = database.session()
    operator = lead_actions.set_operator_presence(
        session,
        current_user.operator_id,
        operator_id,
        inputs.text(data, "presence", max_len=16) or "",
    )
    session.commit()
    _push()
    return jsonify(operator=operator.to_public())


@bp.route("/api/lead/contacts/<int:contact_id>/reassign", methods=["POST"])
@roles(*LEADS)
def reassign(contact_id: int) -> ResponseReturnValue:
    data = inputs.body()
    session = database.session()
    contact = lead_actions.reassign(
        session,
        current_user.operator_id,
        contact_id,
        inputs.integer(data, "to_operator_id", required=False),
        _settings().queue,
    )
    session.commit()
    _push()
    return jsonify(contact=contact.to_public())


@bp.route("/api/lead/broadcast", methods=["POST"])
@roles(*LEADS)
def broadcast() -> ResponseReturnValue:
    data = inputs.body()
    session = database.session()
    sent = lead_actions.broadcast(
        session,
        current_user.operator_id,
        inputs.text(data, "message", max_len=lead_actions.BROADCAST_MAX * 2) or "",
    )
    session.commit()
    return jsonify(broadcast=sent)


@bp.route("/api/lead/overflows", methods=["POST"])
@roles(*LEADS)
def open_overflow() -> ResponseReturnValue:
    data = inputs.body()
    session = database.session()
    settings = _settings()
    overflow = lead_actions.open_overflow(
        session,
        current_user.operator_id,
        inputs.text(data, "language", max_len=16) or "",
        inputs.text(data, "target", max_len=48) or "",
        languages=settings.language_codes,
        stats=_stats(),
        cfg=settings.queue,
    )
    session.commit()
    _push()
    return jsonify(overflow=overflow.to_public()), 201


@bp.route("/api/lead/overflows/<int:overflow_id>/close", methods=["POST"])
@roles(*LEADS)
def close_overflow(overflow_id: int) -> ResponseReturnValue:
    session = database.session()
    overflow = lead_actions.close_overflow(session, current_user.operator_id, overflow_id)
    session.commit()
    _push()
    return jsonify(overflow=overflow.to_public() | {"closed": True})


@bp.route("/api/lead/wellbeing")
@roles(*LEADS)
def team_wellbeing() -> ResponseReturnValue:
    """Everyone on shift, longest without a break first: for shift leads only."""
    return jsonify(operators=wellbeing.on_shift(database.session(), _stats()))


@bp.route("/api/wellbeing/me")
@roles(*STAFF)
def my_wellbeing() -> ResponseReturnValue:
    """An operator's own figures; nobody else's (leads use /api/lead/wellbeing)."""
    return jsonify(
        wellbeing=wellbeing.for_operator(database.session(), current_user.operator_id, _stats())
    )


# ------------------------------------------------------------------ reports


def _query() -> reports.ReportQuery:
    args = request.args
    axis = args.get("axis") or "month"
    if axis not in reports.AXES:
        raise ValidationFailed(f"axis: one of {', '.join(reports.AXES)}")
    today = utcnow().astimezone(_stats().tz).date()
    default_start, default_end = reports.default_range(axis, today)
    return reports.ReportQuery(
        axis=axis,
        start=reports.parse_date(args.get("from"), default_start, "from"),
        end=reports.parse_date(args.get("to"), default_end, "to"),
        by=args.get("by") or None,
        channel=args.get("channel") or None,
        language=args.get("language") or None,
        queue=args.get("queue") or None,
    ).validate()


def _taxonomy() -> Any | None:
    records = current_app.extensions.get("helpline.records")
    return getattr(records, "taxonomy", None)


def _default_query() -> reports.ReportQuery:
    asked = request.args.get("axis")
    axis: reports.Axis = next((a for a in reports.AXES if a == asked), "month")
    start, end = reports.default_range(axis, utcnow().astimezone(_stats().tz).date())
    return reports.ReportQuery(axis=axis, start=start, end=end).validate()


@bp.route("/lead/reports")
@roles(*LEADS)
def reports_page() -> ResponseReturnValue:
    # A refused choice is shown above the form, which stays usable, rather than on a bare error
    # page without the menu.
    error = None
    try:
        query = _query()
    except ValidationFailed as exc:
        error, query = str(exc), _default_query()
    settings = _settings()
    report = reports.build(database.session(), _stats(), query)
    languages = {lang.code: lang.name for lang in settings.languages}
    labels = chart_labels(query.by, languages, _taxonomy())
    return render_template(
        "lead/reports.html",
        query=query,
        report=report,
        sections=sections(report, labels, _stats().sl_target),
        axes=reports.AXES,
        breakdowns=reports.BREAKDOWNS,
        languages=settings.languages,
        topics=settings.topics,
        csv_args=request.args.to_dict() if error is None else {},
        error=error,
        threshold=_stats().small_count_threshold,
    ), (422 if error else 200)


@bp.route("/lead/reports.csv")
@roles(*LEADS)
def reports_csv() -> ResponseReturnValue:
    """Anonymous figures for funders: small counts suppressed, no free text, no staff figures."""
    query = _query()
    stats = _stats()
    with database.database().transaction() as session:
        permissions.require(session, current_user.operator_id, permissions.Action.EXPORT)
        report = reports.build(session, stats, query)
        text = reports.to_csv(report, stats.small_count_threshold)
        audit.record(
            session,
            audit.Action.EXPORT,
            actor_id=current_user.operator_id,
            reason="funder_report",
            details={
                "rows": text.count("\n") - 1,
                "axis": query.axis,
                "by": query.by or "none",
                "from_ordinal": query.start.toordinal(),
                "to_ordinal": query.end.toordinal(),
                "threshold": stats.small_count_threshold,
            },
        )
    name = f"helpline-{query.axis}-{query.by or 'all'}-{query.start}-{query.end}.csv"
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
