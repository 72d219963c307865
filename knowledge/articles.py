"""Information articles: Markdown with YAML front matter, rendered with markdown-it-py and
sanitised with nh3, linked to their translations by a shared `translation_key`.

A file looks like:

    ---
    title: Your rights as a victim
    language: en
    translation_key: victims-rights
    categories: [rights]
    author: Helpline editorial team
    reviewed_at: 2026-09-01
    review_due: 2027-03-01
    ---
    Markdown body…
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nh3
import yaml
from markdown_it import MarkdownIt
from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge import languages
from knowledge.models import Article
from knowledge.types import utcnow

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
FIELDS = (
    "title",
    "language",
    "translation_key",
    "summary",
    "categories",
    "author",
    "reviewed_at",
    "review_due",
)


class ArticleProblem(ValueError):
    pass


@dataclass
class ArticleData:
    id: str
    title: str
    language: str
    translation_key: str
    body_markdown: str
    summary: str | None = None
    categories: list[str] = field(default_factory=list)
    author: str | None = None
    reviewed_at: dt.date | None = None
    review_due: dt.date | None = None


def render(markdown: str) -> str:
    """Safe HTML: raw HTML in the source is escaped by markdown-it, and nh3 strips what remains."""
    return str(nh3.clean(_MARKDOWN.render(markdown), link_rel="noopener noreferrer"))


def plain_text(markdown: str) -> str:
    """The words of a Markdown text without its markup, for indexing and snippets."""
    parts: list[str] = []
    for token in _MARKDOWN.parse(markdown):
        if token.type == "inline" and token.children:
            parts.append(
                "".join(
                    child.content
                    for child in token.children
                    if child.type in ("text", "code_inline")
                )
            )
        elif token.type in ("code_block", "fence"):
            parts.append(token.content)
    return "\n".join(part for part in parts if part.strip())


def parse(text: str, *, default_id: str) -> ArticleData:
    meta: dict[str, Any] = {}
    body = text
    if text.startswith("---"):
        head, separator, rest = text[3:].partition("\n---")
        if not separator:
            raise ArticleProblem("front matter is not closed by a line of ---")
        try:
            loaded = yaml.safe_load(head)
        except yaml.YAMLError as exc:
            raise ArticleProblem(f"front matter is not YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ArticleProblem("front matter is not a mapping")
        meta = loaded
        body = rest.split("\n", 1)[1] if "\n" in rest else ""
    return from_front_matter(meta, body.strip() + "\n", default_id)


def from_front_matter(meta: dict[str, Any], body: str, default_id: str) -> ArticleData:
    article_id = str(meta.get("id") or default_id)
    title = meta.get("title")
    if not title:
        raise ArticleProblem("missing required field: title")
    language = meta.get("language")
    if not language or not languages.is_valid(str(language)):
        raise ArticleProblem(f"language: not an ISO 639 language code: {language!r}")
    categories = meta.get("categories") or []
    if isinstance(categories, str):
        categories = [categories]
    if not isinstance(categories, list):
        raise ArticleProblem("categories: not a list")
    return ArticleData(
        id=article_id,
        title=str(title),
        language=str(languages.normalize(str(language))),
        translation_key=str(meta.get("translation_key") or article_id),
        body_markdown=body,
        summary=str(meta["summary"]) if meta.get("summary") else None,
        categories=[str(c) for c in categories],
        author=str(meta["author"]) if meta.get("author") else None,
        reviewed_at=_date(meta.get("reviewed_at"), "reviewed_at"),
        review_due=_date(meta.get("review_due"), "review_due"),
    )


def _date(value: Any, name: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ArticleProblem(f"{name}: not a date (YYYY-MM-DD): {value!r}") from exc


def upsert(session: Session, data: ArticleData) -> str:
    """Create or update an article; returns "created", "updated" or "unchanged"."""
    article = session.get(Article, data.id)
    values = {
        "language": data.language,
        "translation_key": data.translation_key,
        "title": data.title,
        "summary": data.summary,
        "body_markdown": data.body_markdown,
        "body_html": render(data.body_markdown),
        "categories": data.categories,
        "author": data.author,
        "reviewed_at": data.reviewed_at,
        "review_due": data.review_due,
    }
    if article is None:
        session.add(Article(id=data.id, **values))
        session.flush()
        return "created"
    changed = {k: v for k, v in values.items() if getattr(article, k) != v}
    if not changed:
        return "unchanged"
    for name, value in changed.items():
        setattr(article, name, value)
    article.updated_at = utcnow()
    session.flush()
    return "updated"


def markdown_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if path.suffix == ".md" else []
    return sorted([*path.glob("*.md"), *path.glob("articles/*.md")])


def translations(session: Session, article_id: str) -> list[Article]:
    """The other language versions of an article."""
    article = session.get(Article, article_id)
    if article is None:
        return []
    return list(
        session.scalars(
            select(Article)
            .where(Article.translation_key == article.translation_key, Article.id != article.id)
            .order_by(Article.language)
        )
    )


def to_file_text(article: Article) -> str:
    meta: dict[str, Any] = {"id": article.id}
    for name in FIELDS:
        value = getattr(article, name)
        if value not in (None, [], ""):
            meta[name] = value
    head = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    return f"---\n{head}---\n{article.body_markdown}"


def export(session: Session, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for article in session.scalars(select(Article).order_by(Article.id)):
        path = out / f"{article.id}.md"
        path.write_text(to_file_text(article), encoding="utf-8")
        written.append(path)
    return written


def read_files(paths: Iterable[Path]) -> Iterable[tuple[Path, ArticleData | ArticleProblem]]:
    for path in paths:
        try:
            yield path, parse(path.read_text(encoding="utf-8"), default_id=path.stem)
        except ArticleProblem as exc:
            yield path, exc
