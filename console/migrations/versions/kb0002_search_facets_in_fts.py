"""knowledge base: filter values in the full-text index, so filters narrow matches before ranking

Revision ID: kb0002
Revises: kb0001
Create Date: 2026-11-22

Each search entry carries its facet tokens (`langx6e6c` for lang=nl: the facet's name, "x", the
value's UTF-8 in hex; knowledge.indexing.facet_token). The full-text index holds them beside the
words, so a filtered search intersects the words' matches with the filter's inside the index and
ranks only what passes; a filter checked row by row would rank every match of a common word first.

- SQLite: kb_fts gains a fourth column, facet_tokens, with no weight in bm25; the operator's words
  are matched against the three text columns only.
- PostgreSQL: kb_fts gains a tsvector of the facets with its own GIN index, and the entry's age
  range, so an age filter reads the row that ranking reads anyway.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "kb0002"
down_revision: str | Sequence[str] | None = "kb0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_FTS = """CREATE VIRTUAL TABLE kb_fts USING fts5(
    index_title, index_keywords, index_body{extra},
    content='kb_search_entries', content_rowid='id',
    tokenize="unicode61 remove_diacritics 2", prefix='2 3'
)"""
_SQLITE_TRIGGERS = [
    """CREATE TRIGGER kb_fts_ai AFTER INSERT ON kb_search_entries BEGIN
        INSERT INTO kb_fts(rowid, index_title, index_keywords, index_body{extra})
        VALUES (new.id, new.index_title, new.index_keywords, new.index_body{new});
    END""",
    """CREATE TRIGGER kb_fts_ad AFTER DELETE ON kb_search_entries BEGIN
        INSERT INTO kb_fts(kb_fts, rowid, index_title, index_keywords, index_body{extra})
        VALUES ('delete', old.id, old.index_title, old.index_keywords, old.index_body{old});
    END""",
    """CREATE TRIGGER kb_fts_au AFTER UPDATE ON kb_search_entries BEGIN
        INSERT INTO kb_fts(kb_fts, rowid, index_title, index_keywords, index_body{extra})
        VALUES ('delete', old.id, old.index_title, old.index_keywords, old.index_body{old});
        INSERT INTO kb_fts(rowid, index_title, index_keywords, index_body{extra})
        VALUES (new.id, new.index_title, new.index_keywords, new.index_body{new});
    END""",
]
_SQLITE_BACKFILL = """UPDATE kb_search_entries SET facet_tokens = (
    SELECT group_concat(token, ' ') FROM (
        SELECT f.facet || 'x' || lower(hex(f.value)) AS token FROM kb_search_facets AS f
        WHERE f.entry_id = kb_search_entries.id ORDER BY f.facet, f.value
    )
)"""

_PG_SYNC = """CREATE OR REPLACE FUNCTION kb_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO kb_fts (entry_id, document, facets, min_age, max_age) VALUES (
            NEW.id,
            setweight(to_tsvector('simple', kb_fold(NEW.index_title)), 'A')
            || setweight(to_tsvector('simple', kb_fold(NEW.index_keywords)), 'B')
            || setweight(to_tsvector('simple', kb_fold(NEW.index_body)), 'D'),
            COALESCE(array_to_tsvector(
                array_remove(string_to_array(NEW.facet_tokens, ' '), '')), ''::tsvector),
            NEW.min_age,
            NEW.max_age
        )
        ON CONFLICT (entry_id) DO UPDATE SET document = EXCLUDED.document,
            facets = EXCLUDED.facets, min_age = EXCLUDED.min_age, max_age = EXCLUDED.max_age;
        RETURN NEW;
    END $$"""
_PG_SYNC_KB0001 = """CREATE OR REPLACE FUNCTION kb_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO kb_fts (entry_id, document) VALUES (
            NEW.id,
            setweight(to_tsvector('simple', kb_fold(NEW.index_title)), 'A')
            || setweight(to_tsvector('simple', kb_fold(NEW.index_keywords)), 'B')
            || setweight(to_tsvector('simple', kb_fold(NEW.index_body)), 'D')
        )
        ON CONFLICT (entry_id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NEW;
    END $$"""
_PG_TRIGGER = """CREATE TRIGGER kb_fts_sync
    AFTER INSERT OR UPDATE OF {columns} ON kb_search_entries
    FOR EACH ROW EXECUTE FUNCTION kb_fts_sync()"""
_PG_BACKFILL = """UPDATE kb_search_entries AS e SET facet_tokens = f.tokens
    FROM (
        SELECT entry_id, string_agg(
            facet || 'x' || encode(convert_to(value, 'UTF8'), 'hex'), ' ' ORDER BY facet, value
        ) AS tokens
        FROM kb_search_facets GROUP BY entry_id
    ) AS f
    WHERE f.entry_id = e.id"""


_PG_BACKFILL_REST = """UPDATE kb_fts AS x SET min_age = e.min_age, max_age = e.max_age
    FROM kb_search_entries AS e WHERE e.id = x.entry_id"""


def _sqlite_fts(with_facets: bool) -> None:
    for name in ("kb_fts_ai", "kb_fts_ad", "kb_fts_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS kb_fts")
    extra = ", facet_tokens" if with_facets else ""
    op.execute(_SQLITE_FTS.format(extra=extra))
    weights = "10.0, 4.0, 1.0, 0.0" if with_facets else "10.0, 4.0, 1.0"
    op.execute(f"INSERT INTO kb_fts(kb_fts, rank) VALUES('rank', 'bm25({weights})')")
    for trigger in _SQLITE_TRIGGERS:
        op.execute(
            trigger.format(
                extra=extra,
                new=", new.facet_tokens" if with_facets else "",
                old=", old.facet_tokens" if with_facets else "",
            )
        )
    op.execute("INSERT INTO kb_fts(kb_fts) VALUES('rebuild')")


def upgrade() -> None:
    op.add_column("kb_search_entries", sa.Column("facet_tokens", sa.Text(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        for name in ("kb_fts_ai", "kb_fts_ad", "kb_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")  # the backfill need not reindex
        op.execute(_SQLITE_BACKFILL)
        _sqlite_fts(with_facets=True)
        return
    op.execute("ALTER TABLE kb_fts ADD COLUMN facets tsvector NOT NULL DEFAULT ''::tsvector")
    op.execute("ALTER TABLE kb_fts ADD COLUMN min_age double precision")
    op.execute("ALTER TABLE kb_fts ADD COLUMN max_age double precision")
    op.execute("CREATE INDEX kb_fts_facets ON kb_fts USING gin (facets)")
    op.execute("DROP TRIGGER IF EXISTS kb_fts_sync ON kb_search_entries")
    op.execute(_PG_SYNC)
    op.execute(
        _PG_TRIGGER.format(
            columns="index_title, index_keywords, index_body, facet_tokens, min_age, max_age"
        )
    )
    op.execute(_PG_BACKFILL)
    op.execute(_PG_BACKFILL_REST)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_fts(with_facets=False)
        op.drop_column("kb_search_entries", "facet_tokens")
        return
    op.execute("DROP TRIGGER IF EXISTS kb_fts_sync ON kb_search_entries")
    op.execute(_PG_SYNC_KB0001)
    op.execute(_PG_TRIGGER.format(columns="index_title, index_keywords, index_body"))
    op.execute("DROP INDEX IF EXISTS kb_fts_facets")
    op.execute("ALTER TABLE kb_fts DROP COLUMN facets, DROP COLUMN min_age, DROP COLUMN max_age")
    op.drop_column("kb_search_entries", "facet_tokens")
