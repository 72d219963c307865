"""chat_conversations.left_reason: a quick exit is remembered, so a reload still warns

Revision ID: chat0002
Revises: chat0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "chat0002"
down_revision: str | Sequence[str] | None = "chat0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_conversations") as batch:
        batch.add_column(sa.Column("left_reason", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chat_conversations") as batch:
        batch.drop_column("left_reason")
