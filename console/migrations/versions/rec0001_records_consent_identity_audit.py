"""records: consent, identity, audit, cases, wrap-up drafts and notes, triage

Revision ID: rec0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import console.db

revision: str = "rec0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("records",)
# The records tables refer to contacts and operators.
depends_on: str | Sequence[str] | None = "c0001"

TABLES = (
    "identity_values",
    "wrapup_drafts",
    "triage_assessments",
    "contact_notes",
    "consents",
    "case_contacts",
    "cases",
    "audit_events",
)

# Audit events are append-only in the database too. The triggers' names end in "_append_only",
# which the test suite's reset looks for (it lifts them to empty the tables between tests).
SQLITE_GUARDS = (
    """CREATE TRIGGER audit_events_no_update_append_only BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
    """CREATE TRIGGER audit_events_no_delete_append_only BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
)
POSTGRES_GUARDS = (
    """CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()""",
)


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", console.db.UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("consent_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=16), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_consent_id"), ["consent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_events_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("opened_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("opened_by_id", sa.Integer(), nullable=True),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("closed_at", console.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"], ["operators.id"], name=op.f("fk_cases_assigned_to_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"], ["operators.id"], name=op.f("fk_cases_opened_by_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("ref", name=op.f("uq_cases_ref")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cases_assigned_to_id"), ["assigned_to_id"], unique=False
        )

    op.create_table(
        "case_contacts",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_contacts_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_case_contacts_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("case_id", "contact_id", name=op.f("pk_case_contacts")),
    )
    with op.batch_alter_table("case_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_contacts_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("granted_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("withdrawn_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("erased_at", console.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_consents_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_consents_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_consents_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consents_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consents_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "contact_notes",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("written_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("written_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_contact_notes_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["written_by_id"],
            ["operators.id"],
            name=op.f("fk_contact_notes_written_by_id_operators"),
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contact_notes")),
    )
    with op.batch_alter_table("contact_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_notes_written_at"), ["written_at"], unique=False
        )

    op.create_table(
        "triage_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("checklist_version", sa.Integer(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("suggested", sa.String(length=16), nullable=False),
        sa.Column("track", sa.String(length=16), nullable=False),
        sa.Column("assessed_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("alerted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_triage_assessments_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_triage_assessments_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_assessments")),
    )
    with op.batch_alter_table("triage_assessments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_triage_assessments_assessed_at"), ["assessed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_triage_assessments_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "wrapup_drafts",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("updated_at", console.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_wrapup_drafts_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_wrapup_drafts_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_wrapup_drafts")),
    )
    with op.batch_alter_table("wrapup_drafts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_wrapup_drafts_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "identity_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("written_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("written_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["consents.id"], name=op.f("fk_identity_values_consent_id_consents")
        ),
        sa.ForeignKeyConstraint(
            ["written_by_id"],
            ["operators.id"],
            name=op.f("fk_identity_values_written_by_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_values")),
        sa.UniqueConstraint("consent_id", "field", name=op.f("uq_identity_values_consent_id")),
    )
    with op.batch_alter_table("identity_values", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_values_consent_id"), ["consent_id"], unique=False
        )

    dialect = op.get_bind().dialect.name
    guards = SQLITE_GUARDS if dialect == "sqlite" else POSTGRES_GUARDS
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update_append_only")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete_append_only")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_refuse_change()")
    for table in TABLES:
        op.drop_table(table)
