"""`POST /api/contacts/<id>/wrap-up`, as the full form posts it (the spine's view hands over here).

The minimal body {code, note} still closes a non-data contact (silent, hang-up, abusive, test,
wrong number). A data outcome needs `details` with the required fields and the `taxonomy_version`
the form was built from. What was submitted is kept as the draft first, in its own transaction, so
a refusal (a missing field, an unknown code, a stale form) loses nothing.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify
from flask.typing import ResponseReturnValue
from flask_login import current_user

from console.domain import drafts, notes, outcomes
from console.domain.errors import DomainError, ValidationFailed
from console.web import database, inputs


def submit(contact_id: int) -> ResponseReturnValue:
    data = inputs.body()
    code = inputs.text(data, "code", max_len=32) or ""
    note = inputs.text(data, "note", required=False, max_len=notes.NOTE_MAX)
    details = data.get("details")
    if details is not None and not isinstance(details, dict):
        raise ValidationFailed("details: must be an object")
    version = inputs.integer(data, "taxonomy_version", required=False)
    taxonomy: outcomes.OutcomeTaxonomy = current_app.config["HELPLINE_OUTCOMES"]
    session = database.session()
    operator_id = current_user.operator_id
    _keep_as_draft(session, contact_id, operator_id, code, note, details, version, data)
    outcome = outcomes.wrap_up(
        session,
        contact_id,
        operator_id,
        code=code,
        note=note,
        details=details,
        taxonomy=taxonomy,
        form_version=version,
    )
    session.commit()
    return jsonify(
        outcome={
            "id": outcome.id,
            "code": outcome.code,
            "contact_id": contact_id,
            "taxonomy_version": outcome.taxonomy_version,
        }
    )


def _keep_as_draft(
    session: Any,
    contact_id: int,
    operator_id: int,
    code: str,
    note: str | None,
    details: dict[str, Any] | None,
    version: int | None,
    data: dict[str, Any],
) -> None:
    draft: dict[str, Any] = {"code": code, "note": note, "taxonomy_version": version}
    if details is not None:
        draft["details"] = details
    if isinstance(data.get("triage"), dict):
        draft["triage"] = data["triage"]
    try:
        drafts.save(session, contact_id, operator_id, draft)
        session.commit()
    except DomainError:
        # Not this operator's contact, or not held: the wrap-up below answers with the reason.
        session.rollback()
