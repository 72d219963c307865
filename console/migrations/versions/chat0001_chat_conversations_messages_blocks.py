"""chat: conversations, encrypted messages, blocks by pseudonym, pseudonym keys, canned responses

Revision ID: chat0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import console.db

revision: str = "chat0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("chat",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("visitor_sid", sa.String(length=64), nullable=True),
        sa.Column("visitor_connected", sa.Boolean(), nullable=False),
        sa.Column("visitor_seen_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("visitor_left_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("operator_seen_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("pseudonym", sa.String(length=64), nullable=True),
        sa.Column("created_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("ended_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("closed_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("purge_after", console.db.UTCDateTime(), nullable=True),
        sa.Column("survey", sa.JSON(), nullable=True),
        sa.Column("survey_at", console.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_conversations")),
        sa.UniqueConstraint("ref", name=op.f("uq_chat_conversations_ref")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_chat_conversations_token_hash")),
    )
    with op.batch_alter_table("chat_conversations", schema=None) as batch_op:
        batch_op.create_index("ix_chat_conversations_open", ["status", "closed_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_chat_conversations_purge_after"), ["purge_after"], unique=False
        )

    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=16), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("delivered_at", console.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["chat_conversations.id"],
            name=op.f("fk_chat_messages_conversation_id_chat_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
        sa.UniqueConstraint(
            "conversation_id", "client_id", name="uq_chat_messages_conversation_client"
        ),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_seq"),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_messages_conversation_id"), ["conversation_id"], unique=False
        )

    op.create_table(
        "chat_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("until", console.db.UTCDateTime(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("created_at", console.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_blocks")),
    )
    with op.batch_alter_table("chat_blocks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_blocks_pseudonym"), ["pseudonym"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_blocks_until"), ["until"], unique=False)

    op.create_table(
        "chat_pseudonym_keys",
        sa.Column("epoch", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", console.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("epoch", name=op.f("pk_chat_pseudonym_keys")),
    )

    op.create_table(
        "chat_canned_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", console.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_canned_responses")),
        sa.UniqueConstraint("key", "language", name=op.f("uq_chat_canned_responses_key")),
    )


def downgrade() -> None:
    op.drop_table("chat_canned_responses")
    op.drop_table("chat_pseudonym_keys")
    with op.batch_alter_table("chat_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_blocks_until"))
        batch_op.drop_index(batch_op.f("ix_chat_blocks_pseudonym"))
    op.drop_table("chat_blocks")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_messages_conversation_id"))
    op.drop_table("chat_messages")
    with op.batch_alter_table("chat_conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_conversations_purge_after"))
        batch_op.drop_index("ix_chat_conversations_open")
    op.drop_table("chat_conversations")
