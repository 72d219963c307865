"""stats: rollups, staffed time, operator wellbeing, queue overflows

Revision ID: st0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import console.db

revision: str = "st0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("stats",)
# Wellbeing and overflows refer to operators; an index goes on the presence log.
depends_on: str | Sequence[str] | None = "c0001"


def upgrade() -> None:
    counters = [
        sa.Column(name, sa.Integer(), nullable=False)
        for name in (
            "offered",
            "answered",
            "answered_in_sl",
            "abandoned",
            "short_abandoned",
            "handled",
            "records",
            "referrals_made",
            "referrals_received",
            "outreached",
        )
    ] + [
        sa.Column(name, sa.BigInteger(), nullable=False)
        for name in ("wait_ms", "talk_ms", "wrap_ms", "busy_ms", "outreach_ms")
    ]
    op.create_table(
        "stats_rollups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("period_start", console.db.UTCDateTime(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        *counters,
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_rollups")),
        sa.UniqueConstraint(
            "grain",
            "period_start",
            "channel",
            "language",
            "queue",
            "dimension",
            "value",
            name="uq_stats_rollups_cell",
        ),
    )
    with op.batch_alter_table("stats_rollups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stats_rollups_lookup", ["grain", "dimension", "period_start"], unique=False
        )

    op.create_table(
        "stats_staffing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("period_start", console.db.UTCDateTime(), nullable=False),
        sa.Column("staffed_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_staffing")),
        sa.UniqueConstraint("grain", "period_start", name="uq_stats_staffing_period"),
    )
    # The rollups look up an operator's previous presence changes when a stint ends.
    with op.batch_alter_table("presence_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stats_presence_changes_operator_at", ["operator_id", "at"], unique=False
        )

    op.create_table(
        "stats_wellbeing",
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("presence", sa.String(length=16), nullable=False),
        sa.Column("presence_since", console.db.UTCDateTime(), nullable=True),
        sa.Column("shift_started_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("last_break_ended_at", console.db.UTCDateTime(), nullable=True),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.Column("heavy_contacts", sa.Integer(), nullable=False),
        sa.Column("consecutive_heavy", sa.Integer(), nullable=False),
        sa.Column("very_serious_ms", sa.BigInteger(), nullable=False),
        sa.Column("heavy_ms_since_break", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", console.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_stats_wellbeing_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("operator_id", name=op.f("pk_stats_wellbeing")),
    )

    op.create_table(
        "queue_overflows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=48), nullable=False),
        sa.Column("opened_by", sa.Integer(), nullable=False),
        sa.Column("opened_at", console.db.UTCDateTime(), nullable=False),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("closed_at", console.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["operators.id"], name=op.f("fk_queue_overflows_closed_by_operators")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by"], ["operators.id"], name=op.f("fk_queue_overflows_opened_by_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_overflows")),
    )
    with op.batch_alter_table("queue_overflows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queue_overflows_language"), ["language"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("queue_overflows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_overflows_language"))
    op.drop_table("queue_overflows")
    op.drop_table("stats_wellbeing")
    with op.batch_alter_table("presence_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_stats_presence_changes_operator_at")
    op.drop_table("stats_staffing")
    with op.batch_alter_table("stats_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_stats_rollups_lookup")
    op.drop_table("stats_rollups")
