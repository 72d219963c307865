"""Canned responses: defaults from config/chat.toml, each one's text per language edited by admins.

An admin's edit is a row for (key, language) that replaces the default text in that language (or
hides the response in it); a response an admin adds has no default at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from chat.models import CannedResponse
from chat.settings import ChatSettings
from console.db import utcnow
from console.domain.errors import ValidationFailed

_KEY = re.compile(r"^[a-z0-9_]{1,64}\Z")
TEXT_MAX = 2000


def effective(
    session: Session, chat: ChatSettings, languages: Iterable[str]
) -> list[dict[str, Any]]:
    """Every response with its title and its text in each language (None: none in that language)."""
    langs = list(languages)
    table: dict[str, dict[str, Any]] = {}
    for default in chat.canned:
        table[default.key] = {
            "key": default.key,
            "title": default.title,
            "texts": {lang: default.text.get(lang) for lang in langs},
            "edited": {lang: False for lang in langs},
        }
    for row in session.scalars(select(CannedResponse).order_by(CannedResponse.id)):
        entry = table.setdefault(
            row.key,
            {
                "key": row.key,
                "title": row.title,
                "texts": {lang: None for lang in langs},
                "edited": {lang: False for lang in langs},
            },
        )
        entry["title"] = row.title or entry["title"]
        entry["texts"][row.language] = None if row.hidden else row.text
        entry["edited"][row.language] = True
    return list(table.values())


def for_language(session: Session, chat: ChatSettings, language: str) -> list[dict[str, str]]:
    return [
        {"key": entry["key"], "title": entry["title"], "text": entry["texts"][language]}
        for entry in effective(session, chat, [language])
        if entry["texts"].get(language)
    ]


def _check(key: Any, language: Any, languages: Iterable[str]) -> tuple[str, str]:
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValidationFailed("key: 1–64 lower-case letters, digits or underscores")
    if language not in set(languages):
        raise ValidationFailed("language: one of the helpline's languages")
    return key, str(language)


def save(
    session: Session,
    *,
    key: Any,
    language: Any,
    title: Any,
    text: Any,
    operator_id: int,
    languages: Iterable[str],
) -> CannedResponse:
    key, language = _check(key, language, languages)
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise ValidationFailed("title: 1–200 characters")
    if not isinstance(text, str) or not text.strip() or len(text) > TEXT_MAX:
        raise ValidationFailed(f"text: 1–{TEXT_MAX} characters")
    row = session.scalar(
        select(CannedResponse).where(CannedResponse.key == key, CannedResponse.language == language)
    )
    if row is None:
        row = CannedResponse(key=key, language=language)
        session.add(row)
    row.title = title.strip()
    row.text = text.strip()
    row.hidden = False
    row.updated_by = operator_id
    row.updated_at = utcnow()
    session.flush()
    return row


def hide(
    session: Session, *, key: Any, language: Any, operator_id: int, languages: Iterable[str]
) -> None:
    key, language = _check(key, language, languages)
    row = session.scalar(
        select(CannedResponse).where(CannedResponse.key == key, CannedResponse.language == language)
    )
    if row is None:
        row = CannedResponse(key=key, language=language, title=key, text="")
        session.add(row)
    row.hidden = True
    row.updated_by = operator_id
    row.updated_at = utcnow()
    session.flush()


def reset(session: Session, *, key: Any, language: Any, languages: Iterable[str]) -> None:
    """Back to the configured default in that language."""
    key, language = _check(key, language, languages)
    session.execute(
        delete(CannedResponse).where(CannedResponse.key == key, CannedResponse.language == language)
    )
