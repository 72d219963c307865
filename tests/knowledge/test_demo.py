"""The demo data: loads cleanly, twice, in several languages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge import demo
from knowledge.models import Article, Organization, SearchEntry
from tests.knowledge.conftest import NOW


def test_load_is_idempotent(db_session: Session) -> None:
    first = demo.load(db_session, now=NOW)
    assert first.rejected == []
    assert first.created["service"] == 14
    second = demo.load(db_session, now=NOW)
    assert second.rejected == []
    assert second.total_changed == 0
    languages = set(db_session.scalars(select(Article.language)))
    assert {"en", "nl", "fr"} <= languages
    assert len(db_session.scalars(select(SearchEntry.id)).all()) == 34
    contact_points = db_session.scalars(
        select(Organization.name).where(Organization.cross_border_contact_point.is_(True))
    ).all()
    assert contact_points == ["Scheldt Valley Victim Support"]
