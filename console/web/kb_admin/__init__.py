"""The admins' side of the knowledge base: what is due for review, and editing a record with its
change log. Thin views: what is due and how an edit is logged are decided in `knowledge`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

import console.jobs.kb_freshness  # noqa: F401  (registers the weekly job in this process)
from console.db import utcnow
from console.domain import kb_review
from console.domain.errors import NotFound, ValidationFailed
from console.domain.operators import Operator
from console.settings import Settings
from console.web import database
from console.web.security import ADMINS, roles
from knowledge import freshness
from knowledge.errors import InvalidChange, RecordNotFound
from knowledge.models import Article, Service

bp = Blueprint("kb_admin", __name__, template_folder="templates")
EXTENSION = "helpline.kb_review"

SERVICE_STATUSES = ("active", "inactive", "defunct", "temporarily closed")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    widget: str  # text | textarea | email | url | date | status
    max_len: int = 300
    required: bool = False


FIELDS: dict[str, tuple[Field, ...]] = {
    "service": (
        Field("name", "Name", "text", required=True),
        Field("description", "Description", "textarea", max_len=20_000),
        Field("email", "E-mail", "email", max_len=255),
        Field("url", "Web address", "url", max_len=2000),
        Field("status", "Status", "status", required=True),
        Field("assured_date", "Checked and assured on", "date", max_len=10),
    ),
    "article": (
        Field("title", "Title", "text", required=True),
        Field("body_markdown", "Text (Markdown)", "textarea", max_len=100_000),
        Field("reviewed_at", "Reviewed on", "date", max_len=10),
        Field("review_due", "Review due", "date", max_len=10),
    ),
}
MODELS: dict[str, type[Article] | type[Service]] = {"service": Service, "article": Article}


def init_app(app: Flask, settings: Settings) -> None:
    """Check the review settings (a mistake stops start-up) and register the pages."""
    app.extensions[EXTENSION] = kb_review.load_review_settings(settings)
    app.register_blueprint(bp)


def _grace_days() -> int:
    found: kb_review.ReviewSettings = current_app.extensions[EXTENSION]
    return found.review_grace_days


@bp.route("/admin/kb/freshness")
@roles(*ADMINS)
def freshness_page() -> ResponseReturnValue:
    session = database.session()
    grace_days = _grace_days()
    return render_template(
        "kb_admin/freshness.html",
        items=freshness.due_for_review(session, utcnow(), grace_days),
        grace_days=grace_days,
        notices=kb_review.recent_notices(session),
    )


@bp.route("/admin/kb/<kind>/<record_id>", methods=["GET", "POST"])
@roles(*ADMINS)
def edit_record(kind: str, record_id: str) -> ResponseReturnValue:
    if kind not in MODELS:
        raise NotFound(f"records of kind {kind!r} are not edited here")
    session = database.session()
    record = session.get(MODELS[kind], record_id)
    if record is None:
        raise NotFound(f"no {kind} with id {record_id!r}")
    if request.method == "GET":
        return _edit_page(session, kind, record, _current_values(kind, record))
    submitted = {f.name: request.form[f.name] for f in FIELDS[kind] if f.name in request.form}
    try:
        changes = _checked(kind, submitted)
        entries = freshness.update_record(
            session, kind, record_id, changes, actor_id=current_user.operator_id
        )
    except (InvalidChange, ValidationFailed) as exc:
        session.rollback()
        message = exc.message if isinstance(exc, ValidationFailed) else str(exc)
        values = _current_values(kind, record) | submitted
        return _edit_page(session, kind, record, values, error=message), 422
    except RecordNotFound as exc:
        raise NotFound(str(exc)) from exc
    session.commit()
    flash(f"Saved: {len(entries)} field(s) changed." if entries else "Nothing changed.")
    return redirect(url_for("kb_admin.edit_record", kind=kind, record_id=record_id))


def _checked(kind: str, submitted: dict[str, str]) -> dict[str, str]:
    """Form text as `update_record` takes it; what it would not refuse itself is checked here."""
    changes: dict[str, str] = {}
    for spec in FIELDS[kind]:
        if spec.name not in submitted:
            continue
        # Browsers send CRLF line ends; stored Markdown keeps LF, so an untouched text is unchanged.
        value = submitted[spec.name].replace("\r\n", "\n")
        value = value if spec.widget == "textarea" else value.strip()
        if len(value) > spec.max_len:
            raise ValidationFailed(f"{spec.label}: at most {spec.max_len} characters")
        if spec.required and not value:
            raise ValidationFailed(f"{spec.label}: required")
        if spec.widget == "status" and value not in SERVICE_STATUSES:
            raise ValidationFailed(f"{spec.label}: one of {', '.join(SERVICE_STATUSES)}")
        if spec.widget == "email" and value and not _looks_like_email(value):
            raise ValidationFailed(f"{spec.label}: not an e-mail address")
        if spec.widget == "url" and value and not value.startswith(("https://", "http://")):
            raise ValidationFailed(f"{spec.label}: must start with https:// or http://")
        changes[spec.name] = value
    return changes


def _looks_like_email(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and "." in domain) and not any(c.isspace() for c in value)


def _current_values(kind: str, record: Any) -> dict[str, str]:
    return {f.name: _as_text(getattr(record, f.name)) for f in FIELDS[kind]}


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _edit_page(
    session: Session, kind: str, record: Any, values: dict[str, str], *, error: str | None = None
) -> str:
    log = freshness.change_log(session, kind, record.id)
    actors = {e.actor_id for e in log if e.actor_id is not None}
    names: dict[int, str] = {
        operator_id: name
        for operator_id, name in session.execute(
            select(Operator.id, Operator.display_name).where(Operator.id.in_(actors))
        )
    }
    return render_template(
        "kb_admin/edit.html",
        kind=kind,
        record=record,
        title=record.title if kind == "article" else record.name,
        fields=FIELDS[kind],
        values=values,
        statuses=SERVICE_STATUSES,
        error=error,
        log=[
            {
                "field": e.field,
                "old": e.old_value,
                "new": e.new_value,
                "who": names.get(e.actor_id, f"#{e.actor_id}")
                if e.actor_id is not None
                else "import or system",
                "when": e.changed_at,
            }
            for e in log
        ],
    )
