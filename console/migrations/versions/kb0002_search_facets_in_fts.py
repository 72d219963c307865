"""knowledge base: filter values in the full-text row, so filters narrow matches before ranking

Revision ID: kb0002
Revises: kb0001
Create Date: 2026-11-22

Each search entry carries its facet tokens ("lang=nl", "region=riverton", …). On PostgreSQL the
full-text row keeps them as a second tsvector with its own GIN index, and a filtered search lets
the index intersect the words' matches with the filter's before any match is read or ranked; a
filter checked row by row would read and rank every match of a common word first. The age range
is copied too, so an age filter reads the row the ranking reads anyway, not a second table.
SQLite keeps the column for the same data; its FTS5 search already meets its budget.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "kb0002"
down_revision: str | Sequence[str] | None = "kb0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SYNC = """CREATE OR REPLACE FUNCTION kb_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO kb_fts (entry_id, document, facets, min_age, max_age) VALUES (
            NEW.id,
            setweight(to_tsvector('simple', kb_fold(NEW.index_title)), 'A')
            || setweight(to_tsvector('simple', kb_fold(NEW.index_keywords)), 'B')
            || setweight(to_tsvector('simple', kb_fold(NEW.index_body)), 'D'),
            {facets},
            NEW.min_age,
            NEW.max_age
        )
        ON CONFLICT (entry_id) DO UPDATE SET document = EXCLUDED.document,
            facets = EXCLUDED.facets, min_age = EXCLUDED.min_age, max_age = EXCLUDED.max_age;
        RETURN NEW;
    END $$"""
# Tokens are taken verbatim (no parser, no dictionary): the query names them exactly.
_FACETS = (
    "COALESCE(array_to_tsvector(array_remove(string_to_array(NEW.facet_tokens, E'\\n'), '')), "
    "''::tsvector)"
)
_TRIGGER = """CREATE TRIGGER kb_fts_sync
    AFTER INSERT OR UPDATE OF {columns} ON kb_search_entries
    FOR EACH ROW EXECUTE FUNCTION kb_fts_sync()"""
_BACKFILL = """UPDATE kb_search_entries AS e SET facet_tokens = f.tokens
    FROM (
        SELECT entry_id, string_agg(facet || '=' || value, E'\\n' ORDER BY facet, value) AS tokens
        FROM kb_search_facets GROUP BY entry_id
    ) AS f
    WHERE f.entry_id = e.id"""


_BACKFILL_SQLITE = """UPDATE kb_search_entries SET facet_tokens = (
    SELECT group_concat(token, char(10)) FROM (
        SELECT f.facet || '=' || f.value AS token FROM kb_search_facets AS f
        WHERE f.entry_id = kb_search_entries.id ORDER BY f.facet, f.value
    )
)"""
_SYNC_KB0001 = """CREATE OR REPLACE FUNCTION kb_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
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


def upgrade() -> None:
    op.add_column("kb_search_entries", sa.Column("facet_tokens", sa.Text(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        op.execute(_BACKFILL_SQLITE)
        return
    op.execute("ALTER TABLE kb_fts ADD COLUMN facets tsvector NOT NULL DEFAULT ''::tsvector")
    op.execute("ALTER TABLE kb_fts ADD COLUMN min_age double precision")
    op.execute("ALTER TABLE kb_fts ADD COLUMN max_age double precision")
    op.execute("CREATE INDEX kb_fts_facets ON kb_fts USING gin (facets)")
    op.execute("DROP TRIGGER IF EXISTS kb_fts_sync ON kb_search_entries")
    op.execute(_SYNC.format(facets=_FACETS))
    op.execute(
        _TRIGGER.format(
            columns="index_title, index_keywords, index_body, facet_tokens, min_age, max_age"
        )
    )
    op.execute(_BACKFILL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS kb_fts_sync ON kb_search_entries")
        op.execute(_SYNC_KB0001)
        op.execute(_TRIGGER.format(columns="index_title, index_keywords, index_body"))
        op.execute("DROP INDEX IF EXISTS kb_fts_facets")
        op.execute(
            "ALTER TABLE kb_fts DROP COLUMN facets, DROP COLUMN min_age, DROP COLUMN max_age"
        )
    op.drop_column("kb_search_entries", "facet_tokens")
