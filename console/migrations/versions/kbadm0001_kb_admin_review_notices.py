"""kb_admin: the weekly notices of knowledge records due for review

Revision ID: kbadm0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import console.db

revision: str = "kbadm0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("kb_admin",)
# The console's base (operators, who read the notices) comes first.
depends_on: str | Sequence[str] | None = "c0001"


def upgrade() -> None:
    op.create_table(
        "kb_admin_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.Column("services", sa.Integer(), nullable=False),
        sa.Column("created_at", console.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_admin_notices")),
        sa.UniqueConstraint("week", name=op.f("uq_kb_admin_notices_week")),
    )


def downgrade() -> None:
    op.drop_table("kb_admin_notices")
