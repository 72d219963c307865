"""Articles: Markdown rendering and sanitising, front matter, translations, folder import."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.orm import Session

from knowledge import articles
from knowledge.imports import import_path
from knowledge.models import Article
from knowledge.search import search

EN = """---
title: Victims' rights
language: en
translation_key: rights
categories: [rights, procedure]
author: Editorial team
reviewed_at: 2026-01-02
review_due: 2027-01-02
---
You have **rights**. <script>alert('x')</script> <img src=x onerror=alert(1)>

[Read more](javascript:alert(1)) or [the EU page](https://example.org/eu).
"""
NL = """---
title: Rechten van slachtoffers
language: nld
translation_key: rights
---
U hebt *rechten*.
"""


def test_render_escapes_html_and_drops_dangerous_links() -> None:
    html = articles.render(EN.split("---\n", 2)[2])
    assert "<strong>rights</strong>" in html
    # Raw HTML in the source becomes visible text, never markup.
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert 'href="https://example.org/eu"' in html
    assert 'rel="noopener noreferrer"' in html


def test_front_matter() -> None:
    data = articles.parse(EN, default_id="victims-rights-en")
    assert data.id == "victims-rights-en"
    assert data.language == "en"
    assert data.categories == ["rights", "procedure"]
    assert data.reviewed_at == dt.date(2026, 1, 2)
    assert data.review_due == dt.date(2027, 1, 2)
    assert articles.parse(NL, default_id="x").language == "nl"  # ISO 639-3 normalised


def test_import_folder_links_translations_and_reports_bad_files(
    db_session: Session, tmp_path: Path
) -> None:
    (tmp_path / "rights-en.md").write_text(EN, encoding="utf-8")
    (tmp_path / "rights-nl.md").write_text(NL, encoding="utf-8")
    (tmp_path / "no-title.md").write_text("---\nlanguage: en\n---\nBody\n", encoding="utf-8")
    (tmp_path / "klingon-ish.md").write_text("---\ntitle: X\nlanguage: zz\n---\nBody\n")
    report = import_path(db_session, tmp_path, schemas=None)
    assert report.created["article"] == 2
    reasons = {r.id: r.reason for r in report.rejected}
    assert "missing required field: title" in reasons["no-title"]
    assert "not an ISO 639 language code" in reasons["klingon-ish"]
    assert [a.id for a in articles.translations(db_session, "rights-en")] == ["rights-nl"]
    assert db_session.get(Article, "rights-en") is not None
    assert search(db_session, "rechten", lang="nl")[0].id == "rights-nl"

    again = import_path(db_session, tmp_path, schemas=None)
    assert again.unchanged["article"] == 2
    assert not again.created
    assert not again.updated


def test_export_round_trip(db_session: Session, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rights-en.md").write_text(EN, encoding="utf-8")
    import_path(db_session, tmp_path / "in", schemas=None)
    written = articles.export(db_session, tmp_path / "out")
    assert [p.name for p in written] == ["rights-en.md"]
    exported = articles.parse(written[0].read_text(encoding="utf-8"), default_id="?")
    assert exported == articles.parse(EN, default_id="rights-en")
