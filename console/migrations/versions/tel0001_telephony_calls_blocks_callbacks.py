"""telephony: call legs, day hash keys, blocks, callbacks and their attempts

Revision ID: tel0001
Revises:
Create Date: 2026-11-22

Rooted at no parent (telephony's own branch); depends on the console's first revision for the
contacts and operators it references.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import console.db

revision: str = "tel0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("telephony",)
depends_on: str | Sequence[str] | None = "c0001"


def upgrade() -> None:
    op.create_table(
        "tel_hash_keys",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", console.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_tel_hash_keys")),
    )
    op.create_table(
        "tel_callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_contact_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("consent_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=True),
        sa.Column("line", sa.String(length=16), nullable=True),
        sa.Column("window_start", console.db.UTCDateTime(), nullable=False),
        sa.Column("window_end", console.db.UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("current_call_sid", sa.String(length=34), nullable=True),
        sa.Column("created_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("closed_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("number_erased_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_tel_callbacks_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["parent_contact_id"],
            ["contacts.id"],
            name=op.f("fk_tel_callbacks_parent_contact_id_contacts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tel_callbacks")),
    )
    with op.batch_alter_table("tel_callbacks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tel_callbacks_consent_id"), ["consent_id"], unique=False
        )
        batch_op.create_index("ix_tel_callbacks_due", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tel_callbacks_parent_contact_id"), ["parent_contact_id"], unique=False
        )

    op.create_table(
        "tel_callback_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=34), nullable=True),
        sa.Column("started_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("ended_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["tel_callbacks.id"],
            name=op.f("fk_tel_callback_attempts_callback_id_tel_callbacks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tel_callback_attempts")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_tel_callback_attempts_call_sid")),
    )
    with op.batch_alter_table("tel_callback_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tel_callback_attempts_callback_id"), ["callback_id"], unique=False
        )

    op.create_table(
        "tel_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=34), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("callback_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("withheld", sa.Boolean(), nullable=False),
        sa.Column("caller_hash", sa.String(length=64), nullable=True),
        sa.Column("hash_day", sa.String(length=10), nullable=True),
        sa.Column("line", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("operator_call_sid", sa.String(length=34), nullable=True),
        sa.Column("created_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("queued_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("bridge_requested_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("bridge_attempts", sa.Integer(), nullable=False),
        sa.Column("connected_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("ended_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("end_status", sa.String(length=16), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("conference", sa.String(length=32), nullable=True),
        sa.Column("transfer_to_id", sa.Integer(), nullable=True),
        sa.Column("colleague_call_sid", sa.String(length=34), nullable=True),
        sa.Column("block_hours", sa.Integer(), nullable=True),
        sa.Column("block_operator_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["block_operator_id"],
            ["operators.id"],
            name=op.f("fk_tel_calls_block_operator_id_operators"),
        ),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["tel_callbacks.id"],
            name=op.f("fk_tel_calls_callback_id_tel_callbacks"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_tel_calls_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_tel_calls_operator_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_to_id"], ["operators.id"], name=op.f("fk_tel_calls_transfer_to_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tel_calls")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_tel_calls_call_sid")),
    )
    with op.batch_alter_table("tel_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tel_calls_callback_id"), ["callback_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tel_calls_caller_hash"), ["caller_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_tel_calls_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tel_calls_hash_day"), ["hash_day"], unique=False)
        batch_op.create_index(batch_op.f("ix_tel_calls_state"), ["state"], unique=False)

    op.create_table(
        "tel_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caller_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["tel_calls.id"], name=op.f("fk_tel_blocks_call_id_tel_calls")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_tel_blocks_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tel_blocks")),
    )
    with op.batch_alter_table("tel_blocks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tel_blocks_caller_hash"), ["caller_hash"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tel_blocks_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tel_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tel_blocks_expires_at"))
        batch_op.drop_index(batch_op.f("ix_tel_blocks_caller_hash"))

    op.drop_table("tel_blocks")
    with op.batch_alter_table("tel_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tel_calls_state"))
        batch_op.drop_index(batch_op.f("ix_tel_calls_hash_day"))
        batch_op.drop_index(batch_op.f("ix_tel_calls_contact_id"))
        batch_op.drop_index(batch_op.f("ix_tel_calls_caller_hash"))
        batch_op.drop_index(batch_op.f("ix_tel_calls_callback_id"))

    op.drop_table("tel_calls")
    with op.batch_alter_table("tel_callback_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tel_callback_attempts_callback_id"))

    op.drop_table("tel_callback_attempts")
    with op.batch_alter_table("tel_callbacks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tel_callbacks_parent_contact_id"))
        batch_op.drop_index("ix_tel_callbacks_due")
        batch_op.drop_index(batch_op.f("ix_tel_callbacks_consent_id"))

    op.drop_table("tel_callbacks")
    op.drop_table("tel_hash_keys")
