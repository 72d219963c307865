"""contact_referrals: directory services a contact was referred to, each once

Revision ID: c0003
Revises: c0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import console.db

revision: str = "c0003"
down_revision: str | Sequence[str] | None = "c0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("service_name", sa.String(length=200), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("referred_at", console.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_contact_referrals_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_contact_referrals_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_referrals")),
        sa.UniqueConstraint(
            "contact_id", "service_id", name=op.f("uq_contact_referrals_contact_id")
        ),
    )
    with op.batch_alter_table("contact_referrals") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_referrals_contact_id"), ["contact_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("contact_referrals")
