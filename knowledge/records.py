"""Edits made through the console, each changed field written to the change log.

The log follows HSDS's `metadata` idea (field, previous value, replacement value, who, when), but
"who" is the operator's id: names stay out of it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge import articles, hsds, indexing, languages
from knowledge.errors import InvalidChange, RecordNotFound
from knowledge.hours import ScheduleError, parse_rule
from knowledge.models import HSDS_MODELS, Article, ChangeLogEntry

ARTICLE_FIELDS = (
    "title",
    "language",
    "translation_key",
    "summary",
    "body_markdown",
    "categories",
    "author",
    "reviewed_at",
    "review_due",
)


def update_record(
    session: Session,
    kind: str,
    record_id: str,
    changes: Mapping[str, Any],
    actor_id: int | None,
    *,
    now: dt.datetime | None = None,
) -> list[ChangeLogEntry]:
    """Apply `changes` to an article or an HSDS object (kind = "service", "phone", …).

    Values may be given as Python values or as HSDS JSON/CSV text. Returns the log entries written
    (none when nothing actually changed). The caller commits.
    """
    moment = now or dt.datetime.now(dt.UTC)
    if kind == "article":
        entries = _update_article(session, record_id, changes, actor_id, moment)
        if entries:
            indexing.index_articles(session, [record_id])
        return entries
    model = HSDS_MODELS.get(kind)
    if model is None:
        raise InvalidChange(f"unknown kind of record: {kind!r}")
    record = session.get(model, record_id)
    if record is None:
        raise RecordNotFound(kind, record_id)
    columns = {c.name: c for c in model.__table__.columns}
    converted: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in columns or name == "id":
            raise InvalidChange(f"{kind} has no editable field {name!r}")
        try:
            converted[name] = hsds.to_python(model, name, value)
        except hsds.ValueProblem as exc:
            raise InvalidChange(str(exc)) from exc
        if converted[name] is None and not columns[name].nullable:
            raise InvalidChange(f"{name} is required")
    merged = {name: getattr(record, name) for name in columns} | converted
    _check(kind, merged, session)
    entries = _apply(session, record, kind, record_id, converted, actor_id, moment)
    if entries:
        if kind == "service" and "last_modified" not in converted:
            record.last_modified = moment  # type: ignore[attr-defined]
        session.flush()
        indexing.index_services(session, indexing.affected_services(session, {kind: {record_id}}))
    return entries


def _check(kind: str, values: Mapping[str, Any], session: Session) -> None:
    if kind == "schedule":
        try:
            parse_rule(values)
        except ScheduleError as exc:
            raise InvalidChange(f"bad schedule: {exc}") from exc
    field_name = hsds.LANGUAGE_FIELDS.get(kind)
    if field_name and values.get(field_name) and not languages.is_valid(values[field_name]):
        raise InvalidChange(f"{field_name}: not an ISO 639 language code: {values[field_name]!r}")
    for name, target in hsds.REQUIRED_LINKS.get(kind, {}).items():
        model = HSDS_MODELS[target]
        if session.get(model, values.get(name)) is None:
            raise InvalidChange(f"{name}: no {target} with id {values.get(name)!r}")


def _update_article(
    session: Session,
    record_id: str,
    changes: Mapping[str, Any],
    actor_id: int | None,
    moment: dt.datetime,
) -> list[ChangeLogEntry]:
    article = session.get(Article, record_id)
    if article is None:
        raise RecordNotFound("article", record_id)
    unknown = set(changes) - set(ARTICLE_FIELDS)
    if unknown:
        raise InvalidChange(f"article has no editable field {sorted(unknown)[0]!r}")
    current = {name: getattr(article, name) for name in ARTICLE_FIELDS}
    meta = {
        **{k: v for k, v in current.items() if k != "body_markdown"},
        **{k: v for k, v in changes.items() if k != "body_markdown"},
        "id": record_id,
    }
    try:
        data = articles.from_front_matter(
            meta, changes.get("body_markdown", article.body_markdown), record_id
        )
    except articles.ArticleProblem as exc:
        raise InvalidChange(str(exc)) from exc
    converted = {name: getattr(data, name) for name in changes}
    entries = _apply(session, article, "article", record_id, converted, actor_id, moment)
    if entries:
        article.body_html = articles.render(article.body_markdown)
        article.updated_at = moment
        session.flush()
    return entries


def _apply(
    session: Session,
    record: Any,
    kind: str,
    record_id: str,
    converted: Mapping[str, Any],
    actor_id: int | None,
    moment: dt.datetime,
) -> list[ChangeLogEntry]:
    entries = []
    for name, value in converted.items():
        old = getattr(record, name)
        if old == value:
            continue
        setattr(record, name, value)
        entry = ChangeLogEntry(
            record_kind=kind,
            record_id=record_id,
            field=name,
            old_value=_text(old),
            new_value=_text(value),
            actor_id=actor_id,
            changed_at=moment,
        )
        session.add(entry)
        entries.append(entry)
    return entries


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return hsds.to_cell(value)


def change_log(session: Session, kind: str, record_id: str) -> list[ChangeLogEntry]:
    """A record's edits, newest first."""
    return list(
        session.scalars(
            select(ChangeLogEntry)
            .where(ChangeLogEntry.record_kind == kind, ChangeLogEntry.record_id == record_id)
            .order_by(ChangeLogEntry.changed_at.desc(), ChangeLogEntry.id.desc())
        )
    )
