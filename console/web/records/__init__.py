"""Records in the console: the wrap-up form's data, drafts and triage; consent and identity (read
with a reason); cases; the admins' audit page; the funders' export.

Thin views: every rule (consent, scope, role, append-only audit) is enforced in the domain.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from console.db import utcnow
from console.domain import (
    audit,
    cases,
    consent,
    drafts,
    export,
    identity,
    notes,
    permissions,
    triage,
)
from console.domain.contacts import get_contact
from console.domain.errors import ValidationFailed
from console.domain.records_config import RecordsSettings, setup
from console.settings import Settings
from console.web import database, inputs
from console.web.panels import ConsolePanel, register_panel
from console.web.security import ADMINS, LEADS, STAFF, roles

bp = Blueprint(
    "records",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/records/static",
)
EXTENSION = "helpline.records"


def init_app(app: Flask, settings: Settings) -> RecordsSettings:
    """Load and check the records settings (start-up fails on a mistake), configure the key ring,
    and put the full taxonomy where the spine's wrap-up reads it."""
    records = setup(settings)
    app.extensions[EXTENSION] = records
    app.config["HELPLINE_OUTCOMES"] = records.taxonomy
    app.register_blueprint(bp)
    register_panel(
        app,
        ConsolePanel(
            "records",
            "records/wrapup_panel.html",
            static_endpoint="records.static",
            script="dist/wrapup.js",
        ),
    )

    @app.context_processor
    def _lead_panels() -> dict[str, Any]:
        return {"lead_panels": [{"template": "records/lead_alerts.html"}]}

    return records


def records_settings() -> RecordsSettings:
    found: RecordsSettings = current_app.extensions[EXTENSION]
    return found


def _settings() -> Settings:
    settings: Settings = current_app.config["HELPLINE_SETTINGS"]
    return settings


def form_data() -> dict[str, Any]:
    records = records_settings()
    return {
        "taxonomy": records.taxonomy.to_form(),
        "triage": records.checklist.to_form(),
        "reasons": [{"code": k, "label": v} for k, v in audit.REASONS.items()],
        "scopes": [s.value for s in consent.Scope],
        "methods": [m.value for m in consent.Method],
        "fields": [f.value for f in identity.Field],
        "scope_fields": {
            s.value: sorted(f.value for f in v) for s, v in identity.SCOPE_FIELDS.items()
        },
        "max_days": {s.value: consent.max_days(s) for s in consent.Scope},
        "note_reminder": notes.REMINDER,
        "note_max": notes.NOTE_MAX,
    }


# ---------------------------------------------------------------------- wrap-up form


@bp.route("/api/records/form")
@roles(*STAFF)
def form() -> ResponseReturnValue:
    return jsonify(form_data())


@bp.route("/api/contacts/<int:contact_id>/draft", methods=["GET"])
@roles(*STAFF)
def get_draft(contact_id: int) -> ResponseReturnValue:
    session = database.session()
    data = drafts.load(session, contact_id, current_user.operator_id)
    return jsonify(draft=data, taxonomy_version=records_settings().taxonomy.version)


@bp.route("/api/contacts/<int:contact_id>/draft", methods=["PUT", "POST"])
@roles(*STAFF)
def put_draft(contact_id: int) -> ResponseReturnValue:
    data = inputs.body()
    session = database.session()
    drafts.save(session, contact_id, current_user.operator_id, data)
    session.commit()
    return jsonify(saved=True)


@bp.route("/api/contacts/<int:contact_id>/triage", methods=["POST"])
@roles(*STAFF)
def assess(contact_id: int) -> ResponseReturnValue:
    data = inputs.body()
    session = database.session()
    result = triage.assess(
        session,
        contact_id,
        current_user.operator_id,
        checklist=records_settings().checklist,
        answers=data.get("answers"),
        track=inputs.text(data, "track", required=False, max_len=16),
    )
    session.commit()
    return jsonify(
        suggested=result.suggested,
        track=result.track,
        alerted=result.alerted,
        urgent=get_contact(session, contact_id).urgent,
    )


@bp.route("/api/records/suggest", methods=["POST"])
@roles(*STAFF)
def suggest() -> ResponseReturnValue:
    """The checklist's suggestion for some answers, without recording anything."""
    checklist = records_settings().checklist
    answers = checklist.check_answers(inputs.body().get("answers"))
    return jsonify(suggested=checklist.suggest(answers).value)


# ---------------------------------------------------------------------- consent and identity


def _consent_view(session: Any, item: consent.Consent) -> dict[str, Any]:
    return item.to_public() | {"fields": identity.fields_kept(session, item.id)}


@bp.route("/api/contacts/<int:contact_id>/consents")
@roles(*STAFF)
def list_consents(contact_id: int) -> ResponseReturnValue:
    session = database.session()
    contact = get_contact(session, contact_id)
    # Which consents exist (never their values) is for those who may read them.
    permissions.require(
        session, current_user.operator_id, permissions.Action.READ_IDENTITY, contact_id=contact.id
    )
    linked = cases.case_of(session, contact.id)
    chain = cases.transfer_chain(session, contact.id)
    items = consent.for_contacts(session, chain)
    if linked is not None:
        seen = {c.id for c in items}
        items += [
            c
            for c in session.scalars(
                select(consent.Consent).where(consent.Consent.case_id == linked.id)
            )
            if c.id not in seen
        ]
    return jsonify(
        consents=[_consent_view(session, c) for c in items],
        case=linked.to_public() if linked is not None else None,
    )


@bp.route("/api/contacts/<int:contact_id>/consents", methods=["POST"])
@roles(*STAFF)
def grant_consent(contact_id: int) -> ResponseReturnValue:
    data = inputs.body()
    session = database.session()
    permissions.require(
        session, current_user.operator_id, permissions.Action.GRANT_CONSENT, contact_id=contact_id
    )
    try:
        scope = consent.Scope(inputs.text(data, "scope", max_len=32) or "")
        method = consent.Method(inputs.text(data, "method", max_len=32) or "")
    except ValueError as exc:
        raise ValidationFailed("scope and method: choose from the lists") from exc
    longest = consent.max_days(scope)
    days = inputs.integer(data, "days", required=False, minimum=1, maximum=longest) or longest
    case_id = None
    if scope == consent.Scope.CASE_FOLLOW_UP:
        case_id = cases.open_case(session, contact_id, operator_id=current_user.operator_id).id
    now = utcnow()
    item = consent.grant(
        session,
        contact_id=contact_id,
        case_id=case_id,
        scope=scope,
        method=method,
        operator_id=current_user.operator_id,
        expires_at=now + dt.timedelta(days=days),
        now=now,
        organisation=inputs.text(data, "organisation", required=False, max_len=200),
    )
    session.commit()
    return jsonify(consent=_consent_view(session, item)), 201


@bp.route("/api/consents/<int:consent_id>/identity", methods=["POST"])
@roles(*STAFF)
def store(consent_id: int) -> ResponseReturnValue:
    data = inputs.body()
    session = database.session()
    identity.store_identity(
        session,
        consent_id,
        inputs.text(data, "field", max_len=16) or "",
        inputs.text(data, "value", max_len=2000) or "",
        actor_id=current_user.operator_id,
    )
    session.commit()
    return jsonify(fields=identity.fields_kept(session, consent_id))


@bp.route("/api/consents/<int:consent_id>/read", methods=["POST"])
@roles(*STAFF)
def read(consent_id: int) -> ResponseReturnValue:
    """A read of identity writes an audit event, so it is a POST with a reason."""
    data = inputs.body()
    session = database.session()
    reason = inputs.text(data, "reason", max_len=32) or ""
    if audit.reason_code(reason) != reason:
        raise ValidationFailed(f"reason: one of {', '.join(audit.REASONS)}")
    try:
        scope = consent.Scope(inputs.text(data, "scope", max_len=32) or "")
    except ValueError as exc:
        raise ValidationFailed("scope: the purpose you read it for") from exc
    value = identity.read_identity(
        session,
        consent_id,
        inputs.text(data, "field", max_len=16) or "",
        actor_id=current_user.operator_id,
        reason=reason,
        scope=scope,
    )
    session.commit()
    return jsonify(value=value)


@bp.route("/api/consents/<int:consent_id>/withdraw", methods=["POST"])
@roles(*STAFF)
def withdraw(consent_id: int) -> ResponseReturnValue:
    data = inputs.body()
    session = database.session()
    consent.withdraw(
        session,
        consent_id,
        actor_id=current_user.operator_id,
        reason=inputs.text(data, "reason", max_len=32) or "caller_request",
    )
    session.commit()
    return jsonify(consent=_consent_view(session, consent.get_consent(session, consent_id)))


@bp.route("/api/contacts/<int:contact_id>/case", methods=["POST"])
@roles(*STAFF)
def open_case(contact_id: int) -> ResponseReturnValue:
    session = database.session()
    permissions.require(
        session, current_user.operator_id, permissions.Action.GRANT_CONSENT, contact_id=contact_id
    )
    case = cases.open_case(session, contact_id, operator_id=current_user.operator_id)
    session.commit()
    return jsonify(case=case.to_public())


# ---------------------------------------------------------------------- audit (admins)


@bp.route("/records/audit")
@roles(*ADMINS)
def audit_page() -> ResponseReturnValue:
    session = database.session()
    before = inputs.query_integer("before")
    action = request.args.get("action") or None
    items = audit.recent(session, limit=200, before_id=before, action=action)
    return render_template(
        "records/audit.html",
        events=[e.to_public() for e in items],
        actions=[a.value for a in audit.Action],
        action=action,
        reasons=audit.REASONS,
        next_before=items[-1].id if len(items) == 200 else None,
    )


@bp.route("/api/records/audit")
@roles(*ADMINS)
def audit_api() -> ResponseReturnValue:
    session = database.session()
    items = audit.recent(
        session,
        limit=inputs.query_integer("limit", 200, minimum=1, maximum=1000) or 200,
        before_id=inputs.query_integer("before"),
        action=request.args.get("action") or None,
    )
    return jsonify(events=[e.to_public() for e in items])


# ---------------------------------------------------------------------- export (leads, admins)


@bp.route("/records/export")
@roles(*LEADS)
def export_page() -> ResponseReturnValue:
    today = utcnow().astimezone(_settings().tz).date()
    return render_template(
        "records/export.html",
        start=today.replace(day=1).isoformat(),
        end=today.isoformat(),
        periods=export.PERIODS,
        threshold=records_settings().small_count_threshold,
    )


@bp.route("/records/export.csv", methods=["POST"])
@roles(*LEADS)
def export_csv() -> ResponseReturnValue:
    data = inputs.body()
    settings = _settings()
    records = records_settings()
    period = inputs.text(data, "period", required=False, max_len=16) or "month"
    if period not in export.PERIODS:
        raise ValidationFailed(f"period: one of {', '.join(export.PERIODS)}")
    start = export.parse_date(data.get("from"), "from")
    end = export.parse_date(data.get("to"), "to")
    session = database.session()
    text = export.funders_csv(
        session,
        records.taxonomy,
        actor_id=current_user.operator_id,
        start=start,
        end=end,
        tz=settings.tz,
        languages={lang.code: lang.name for lang in settings.languages},
        threshold=records.small_count_threshold,
        period=period,
    )
    session.commit()
    filename = f"helpline-{start.isoformat()}-{end.isoformat()}-{period}.csv"
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
