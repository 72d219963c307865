"""knowledge base: HSDS 3.0 directory, articles, search index (FTS5 / tsvector), change log

Revision ID: kb0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import knowledge.types

revision: str = "kb0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("knowledge",)
depends_on: str | Sequence[str] | None = None

# The full-text objects live outside the ORM metadata (all named kb_fts*); triggers keep them in
# step with kb_search_entries so the application only ever writes ordinary rows.
# Text reaching them is already accent-folded and tokenised by knowledge.text; the engines' own
# folding (remove_diacritics, unaccent) is a second line for anything written by other means.

SQLITE_FTS = [
    """CREATE VIRTUAL TABLE kb_fts USING fts5(
        index_title, index_keywords, index_body,
        content='kb_search_entries', content_rowid='id',
        tokenize="unicode61 remove_diacritics 2", prefix='2 3'
    )""",
    # Title matches count ten times a body match, keywords (alternate names, taxonomy) four times.
    "INSERT INTO kb_fts(kb_fts, rank) VALUES('rank', 'bm25(10.0, 4.0, 1.0)')",
    """CREATE TRIGGER kb_fts_ai AFTER INSERT ON kb_search_entries BEGIN
        INSERT INTO kb_fts(rowid, index_title, index_keywords, index_body)
        VALUES (new.id, new.index_title, new.index_keywords, new.index_body);
    END""",
    """CREATE TRIGGER kb_fts_ad AFTER DELETE ON kb_search_entries BEGIN
        INSERT INTO kb_fts(kb_fts, rowid, index_title, index_keywords, index_body)
        VALUES ('delete', old.id, old.index_title, old.index_keywords, old.index_body);
    END""",
    """CREATE TRIGGER kb_fts_au AFTER UPDATE ON kb_search_entries BEGIN
        INSERT INTO kb_fts(kb_fts, rowid, index_title, index_keywords, index_body)
        VALUES ('delete', old.id, old.index_title, old.index_keywords, old.index_body);
        INSERT INTO kb_fts(rowid, index_title, index_keywords, index_body)
        VALUES (new.id, new.index_title, new.index_keywords, new.index_body);
    END""",
]

# unaccent() is only STABLE, so an index expression needs an IMMUTABLE wrapper; the two-argument
# form names its dictionary so the result cannot depend on search_path.
PG_FOLD_UNACCENT = """CREATE OR REPLACE FUNCTION kb_fold(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower({schema}.unaccent('{schema}.unaccent'::regdictionary, value)) $$"""

PG_FOLD_TRANSLATE = """CREATE OR REPLACE FUNCTION kb_fold(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower(translate(value,
        'ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝýÿŠšŽžČčĆćĐđŁłŃńŚśŹźŻżĘęĄą',
        'AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiNnOOOOOOooooooUUUUuuuuYyySsZzCcCcDdLlNnSsZzZzEeAa')) $$"""

PG_FTS = [
    """CREATE TABLE kb_fts (
        entry_id integer PRIMARY KEY REFERENCES kb_search_entries (id) ON DELETE CASCADE,
        document tsvector NOT NULL
    )""",
    "CREATE INDEX kb_fts_document ON kb_fts USING gin (document)",
    """CREATE OR REPLACE FUNCTION kb_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO kb_fts (entry_id, document) VALUES (
            NEW.id,
            setweight(to_tsvector('simple', kb_fold(NEW.index_title)), 'A')
            || setweight(to_tsvector('simple', kb_fold(NEW.index_keywords)), 'B')
            || setweight(to_tsvector('simple', kb_fold(NEW.index_body)), 'D')
        )
        ON CONFLICT (entry_id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER kb_fts_sync
        AFTER INSERT OR UPDATE OF index_title, index_keywords, index_body ON kb_search_entries
        FOR EACH ROW EXECUTE FUNCTION kb_fts_sync()""",
]


def _create_pg_fold(bind: sa.engine.Connection) -> None:
    """kb_fold over unaccent when the extension can be had, else over translate()."""
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
    except sa.exc.DBAPIError:
        op.execute(PG_FOLD_TRANSLATE)
        return
    schema = bind.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'unaccent'"
    ).scalar_one()
    op.execute(PG_FOLD_UNACCENT.format(schema=schema))


def _create_fts() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        _create_pg_fold(bind)
        for statement in PG_FTS:
            op.execute(statement)


def _drop_fts() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("kb_fts_ai", "kb_fts_ad", "kb_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS kb_fts")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS kb_fts_sync ON kb_search_entries")
        op.execute("DROP FUNCTION IF EXISTS kb_fts_sync()")
        op.execute("DROP TABLE IF EXISTS kb_fts")
        op.execute("DROP FUNCTION IF EXISTS kb_fold(text)")


def upgrade() -> None:
    op.create_table(
        "kb_accessibility",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_accessibility")),
    )
    with op.batch_alter_table("kb_accessibility", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_accessibility_location_id"), ["location_id"], unique=False
        )

    op.create_table(
        "kb_addresses",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=True),
        sa.Column("attention", sa.Text(), nullable=True),
        sa.Column("address_1", sa.Text(), nullable=False),
        sa.Column("address_2", sa.Text(), nullable=True),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("state_province", sa.Text(), nullable=False),
        sa.Column("postal_code", sa.String(length=255), nullable=False),
        sa.Column("country", sa.String(length=255), nullable=False),
        sa.Column("address_type", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_addresses")),
    )
    with op.batch_alter_table("kb_addresses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_addresses_location_id"), ["location_id"], unique=False
        )

    op.create_table(
        "kb_articles",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("translation_key", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("body_markdown", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("reviewed_at", sa.Date(), nullable=True),
        sa.Column("review_due", sa.Date(), nullable=True),
        sa.Column("created_at", knowledge.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", knowledge.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
    )
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_articles_language"), ["language"], unique=False)
        batch_op.create_index(batch_op.f("ix_kb_articles_review_due"), ["review_due"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_kb_articles_translation_key"), ["translation_key"], unique=False
        )

    op.create_table(
        "kb_change_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_kind", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=120), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", knowledge.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_change_log")),
    )
    with op.batch_alter_table("kb_change_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_change_log_changed_at"), ["changed_at"], unique=False
        )
        batch_op.create_index("ix_kb_change_log_record", ["record_kind", "record_id"], unique=False)

    op.create_table(
        "kb_contacts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=True),
        sa.Column("service_id", sa.String(length=64), nullable=True),
        sa.Column("service_at_location_id", sa.String(length=64), nullable=True),
        sa.Column("location_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_contacts")),
    )
    with op.batch_alter_table("kb_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_contacts_location_id"), ["location_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_kb_contacts_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_kb_contacts_service_at_location_id"),
            ["service_at_location_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_kb_contacts_service_id"), ["service_id"], unique=False)

    op.create_table(
        "kb_funding",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=True),
        sa.Column("service_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_funding")),
    )
    with op.batch_alter_table("kb_funding", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_funding_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_kb_funding_service_id"), ["service_id"], unique=False)

    op.create_table(
        "kb_languages",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=True),
        sa.Column("location_id", sa.String(length=64), nullable=True),
        sa.Column("phone_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("code", sa.String(length=255), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_languages")),
    )
    with op.batch_alter_table("kb_languages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_languages_location_id"), ["location_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_kb_languages_phone_id"), ["phone_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_kb_languages_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "kb_locations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("location_type", sa.String(length=255), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("organization_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("alternate_name", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("transportation", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("external_identifier", sa.String(length=255), nullable=True),
        sa.Column("external_identifier_type", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_locations")),
    )
    with op.batch_alter_table("kb_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_locations_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "kb_meta_table_descriptions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=255), nullable=True),
        sa.Column("character_set", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_meta_table_descriptions")),
    )
    op.create_table(
        "kb_metadata",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=255), nullable=False),
        sa.Column("last_action_date", sa.Date(), nullable=True),
        sa.Column("last_action_type", sa.String(length=255), nullable=False),
        sa.Column("field_name", sa.Text(), nullable=False),
        sa.Column("previous_value", sa.Text(), nullable=False),
        sa.Column("replacement_value", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_metadata")),
    )
    with op.batch_alter_table("kb_metadata", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_metadata_resource_id"), ["resource_id"], unique=False
        )

    op.create_table(
        "kb_organizations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("alternate_name", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("website", sa.Text(), nullable=True),
        sa.Column("tax_status", sa.String(length=255), nullable=True),
        sa.Column("tax_id", sa.String(length=255), nullable=True),
        sa.Column("year_incorporated", sa.Double(), nullable=True),
        sa.Column("legal_status", sa.String(length=255), nullable=True),
        sa.Column("logo", sa.Text(), nullable=True),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("parent_organization_id", sa.String(length=64), nullable=True),
        sa.Column("cross_border_contact_point", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_organizations")),
    )
    with op.batch_alter_table("kb_organizations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_organizations_parent_organization_id"),
            ["parent_organization_id"],
            unique=False,
        )

    op.create_table(
        "kb_phones",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=True),
        sa.Column("service_id", sa.String(length=64), nullable=True),
        sa.Column("organization_id", sa.String(length=64), nullable=True),
        sa.Column("contact_id", sa.String(length=64), nullable=True),
        sa.Column("service_at_location_id", sa.String(length=64), nullable=True),
        sa.Column("number", sa.String(length=255), nullable=False),
        sa.Column("extension", sa.Double(), nullable=True),
        sa.Column("type", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_phones")),
    )
    with op.batch_alter_table("kb_phones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_phones_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_kb_phones_location_id"), ["location_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_kb_phones_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_kb_phones_service_at_location_id"),
            ["service_at_location_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_kb_phones_service_id"), ["service_id"], unique=False)

    op.create_table(
        "kb_required_documents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=True),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_required_documents")),
    )
    with op.batch_alter_table("kb_required_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_required_documents_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "kb_schedules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=True),
        sa.Column("location_id", sa.String(length=64), nullable=True),
        sa.Column("service_at_location_id", sa.String(length=64), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("dtstart", sa.Date(), nullable=True),
        sa.Column("timezone", sa.Double(), nullable=True),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("count", sa.Double(), nullable=True),
        sa.Column("wkst", sa.String(length=255), nullable=True),
        sa.Column("freq", sa.String(length=255), nullable=True),
        sa.Column("interval", sa.Double(), nullable=True),
        sa.Column("byday", sa.Text(), nullable=True),
        sa.Column("byweekno", sa.Text(), nullable=True),
        sa.Column("bymonthday", sa.Text(), nullable=True),
        sa.Column("byyearday", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("opens_at", sa.String(length=255), nullable=True),
        sa.Column("closes_at", sa.String(length=255), nullable=True),
        sa.Column("schedule_link", sa.Text(), nullable=True),
        sa.Column("attending_type", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_schedules")),
    )
    with op.batch_alter_table("kb_schedules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_schedules_location_id"), ["location_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_kb_schedules_service_at_location_id"),
            ["service_at_location_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_kb_schedules_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "kb_search_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=120), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("min_age", sa.Double(), nullable=True),
        sa.Column("max_age", sa.Double(), nullable=True),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("index_title", sa.Text(), nullable=False),
        sa.Column("index_keywords", sa.Text(), nullable=False),
        sa.Column("index_body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_search_entries")),
    )
    with op.batch_alter_table("kb_search_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_kb_search_entries_kind_record", ["kind", "record_id"], unique=True
        )

    op.create_table(
        "kb_service_areas",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("extent", sa.Text(), nullable=True),
        sa.Column("extent_type", sa.String(length=255), nullable=True),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_service_areas")),
    )
    with op.batch_alter_table("kb_service_areas", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_service_areas_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "kb_taxonomies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("version", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_taxonomies")),
    )
    op.create_table(
        "kb_taxonomy_terms",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("taxonomy", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=255), nullable=True),
        sa.Column("taxonomy_id", sa.String(length=64), nullable=True),
        sa.Column("term_uri", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_taxonomy_terms")),
    )
    with op.batch_alter_table("kb_taxonomy_terms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_taxonomy_terms_parent_id"), ["parent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_kb_taxonomy_terms_taxonomy_id"), ["taxonomy_id"], unique=False
        )

    op.create_table(
        "kb_attributes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("link_id", sa.String(length=64), nullable=False),
        sa.Column("taxonomy_term_id", sa.String(length=64), nullable=False),
        sa.Column("link_type", sa.String(length=255), nullable=True),
        sa.Column("link_entity", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["taxonomy_term_id"],
            ["kb_taxonomy_terms.id"],
            name=op.f("fk_kb_attributes_taxonomy_term_id_kb_taxonomy_terms"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_attributes")),
    )
    with op.batch_alter_table("kb_attributes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_attributes_link_id"), ["link_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_kb_attributes_taxonomy_term_id"), ["taxonomy_term_id"], unique=False
        )

    op.create_table(
        "kb_organization_identifiers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("identifier_scheme", sa.String(length=255), nullable=True),
        sa.Column("identifier_type", sa.String(length=255), nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["kb_organizations.id"],
            name=op.f("fk_kb_organization_identifiers_organization_id_kb_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_organization_identifiers")),
    )
    with op.batch_alter_table("kb_organization_identifiers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_organization_identifiers_organization_id"),
            ["organization_id"],
            unique=False,
        )

    op.create_table(
        "kb_programs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("alternate_name", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["kb_organizations.id"],
            name=op.f("fk_kb_programs_organization_id_kb_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_programs")),
    )
    with op.batch_alter_table("kb_programs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_programs_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "kb_search_facets",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("facet", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["kb_search_entries.id"],
            name=op.f("fk_kb_search_facets_entry_id_kb_search_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", "facet", "value", name=op.f("pk_kb_search_facets")),
    )
    with op.batch_alter_table("kb_search_facets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_kb_search_facets_lookup", ["facet", "value", "entry_id"], unique=False
        )

    op.create_table(
        "kb_services",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("alternate_name", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=255), nullable=False),
        sa.Column("interpretation_services", sa.Text(), nullable=True),
        sa.Column("application_process", sa.Text(), nullable=True),
        sa.Column("fees_description", sa.Text(), nullable=True),
        sa.Column("wait_time", sa.Text(), nullable=True),
        sa.Column("fees", sa.Text(), nullable=True),
        sa.Column("accreditations", sa.Text(), nullable=True),
        sa.Column("eligibility_description", sa.Text(), nullable=True),
        sa.Column("minimum_age", sa.Double(), nullable=True),
        sa.Column("maximum_age", sa.Double(), nullable=True),
        sa.Column("assured_date", sa.Date(), nullable=True),
        sa.Column("assurer_email", sa.String(length=255), nullable=True),
        sa.Column("licenses", sa.Text(), nullable=True),
        sa.Column("alert", sa.Text(), nullable=True),
        sa.Column("last_modified", knowledge.types.UTCDateTime(), nullable=True),
        sa.Column("accepts_direct_referrals", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["kb_organizations.id"],
            name=op.f("fk_kb_services_organization_id_kb_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_services")),
    )
    with op.batch_alter_table("kb_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_services_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_kb_services_program_id"), ["program_id"], unique=False)

    op.create_table(
        "kb_cost_options",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("option", sa.Text(), nullable=True),
        sa.Column("currency", sa.String(length=255), nullable=True),
        sa.Column("amount", sa.Double(), nullable=True),
        sa.Column("amount_description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["kb_services.id"],
            name=op.f("fk_kb_cost_options_service_id_kb_services"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_cost_options")),
    )
    with op.batch_alter_table("kb_cost_options", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_cost_options_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "kb_service_at_location",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["kb_locations.id"],
            name=op.f("fk_kb_service_at_location_location_id_kb_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["kb_services.id"],
            name=op.f("fk_kb_service_at_location_service_id_kb_services"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_service_at_location")),
    )
    with op.batch_alter_table("kb_service_at_location", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_service_at_location_location_id"), ["location_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_kb_service_at_location_service_id"), ["service_id"], unique=False
        )

    _create_fts()


def downgrade() -> None:
    _drop_fts()
    with op.batch_alter_table("kb_service_at_location", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_service_at_location_service_id"))
        batch_op.drop_index(batch_op.f("ix_kb_service_at_location_location_id"))

    op.drop_table("kb_service_at_location")
    with op.batch_alter_table("kb_cost_options", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_cost_options_service_id"))

    op.drop_table("kb_cost_options")
    with op.batch_alter_table("kb_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_services_program_id"))
        batch_op.drop_index(batch_op.f("ix_kb_services_organization_id"))

    op.drop_table("kb_services")
    with op.batch_alter_table("kb_search_facets", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_search_facets_lookup")

    op.drop_table("kb_search_facets")
    with op.batch_alter_table("kb_programs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_programs_organization_id"))

    op.drop_table("kb_programs")
    with op.batch_alter_table("kb_organization_identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_organization_identifiers_organization_id"))

    op.drop_table("kb_organization_identifiers")
    with op.batch_alter_table("kb_attributes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_attributes_taxonomy_term_id"))
        batch_op.drop_index(batch_op.f("ix_kb_attributes_link_id"))

    op.drop_table("kb_attributes")
    with op.batch_alter_table("kb_taxonomy_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_taxonomy_terms_taxonomy_id"))
        batch_op.drop_index(batch_op.f("ix_kb_taxonomy_terms_parent_id"))

    op.drop_table("kb_taxonomy_terms")
    op.drop_table("kb_taxonomies")
    with op.batch_alter_table("kb_service_areas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_service_areas_service_id"))

    op.drop_table("kb_service_areas")
    with op.batch_alter_table("kb_search_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_search_entries_kind_record")

    op.drop_table("kb_search_entries")
    with op.batch_alter_table("kb_schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_schedules_service_id"))
        batch_op.drop_index(batch_op.f("ix_kb_schedules_service_at_location_id"))
        batch_op.drop_index(batch_op.f("ix_kb_schedules_location_id"))

    op.drop_table("kb_schedules")
    with op.batch_alter_table("kb_required_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_required_documents_service_id"))

    op.drop_table("kb_required_documents")
    with op.batch_alter_table("kb_phones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_phones_service_id"))
        batch_op.drop_index(batch_op.f("ix_kb_phones_service_at_location_id"))
        batch_op.drop_index(batch_op.f("ix_kb_phones_organization_id"))
        batch_op.drop_index(batch_op.f("ix_kb_phones_location_id"))
        batch_op.drop_index(batch_op.f("ix_kb_phones_contact_id"))

    op.drop_table("kb_phones")
    with op.batch_alter_table("kb_organizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_organizations_parent_organization_id"))

    op.drop_table("kb_organizations")
    with op.batch_alter_table("kb_metadata", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_metadata_resource_id"))

    op.drop_table("kb_metadata")
    op.drop_table("kb_meta_table_descriptions")
    with op.batch_alter_table("kb_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_locations_organization_id"))

    op.drop_table("kb_locations")
    with op.batch_alter_table("kb_languages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_languages_service_id"))
        batch_op.drop_index(batch_op.f("ix_kb_languages_phone_id"))
        batch_op.drop_index(batch_op.f("ix_kb_languages_location_id"))

    op.drop_table("kb_languages")
    with op.batch_alter_table("kb_funding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_funding_service_id"))
        batch_op.drop_index(batch_op.f("ix_kb_funding_organization_id"))

    op.drop_table("kb_funding")
    with op.batch_alter_table("kb_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_contacts_service_id"))
        batch_op.drop_index(batch_op.f("ix_kb_contacts_service_at_location_id"))
        batch_op.drop_index(batch_op.f("ix_kb_contacts_organization_id"))
        batch_op.drop_index(batch_op.f("ix_kb_contacts_location_id"))

    op.drop_table("kb_contacts")
    with op.batch_alter_table("kb_change_log", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_change_log_record")
        batch_op.drop_index(batch_op.f("ix_kb_change_log_changed_at"))

    op.drop_table("kb_change_log")
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_articles_translation_key"))
        batch_op.drop_index(batch_op.f("ix_kb_articles_review_due"))
        batch_op.drop_index(batch_op.f("ix_kb_articles_language"))

    op.drop_table("kb_articles")
    with op.batch_alter_table("kb_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_addresses_location_id"))

    op.drop_table("kb_addresses")
    with op.batch_alter_table("kb_accessibility", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_accessibility_location_id"))

    op.drop_table("kb_accessibility")
