"""Live hand-offs: sessions, relay messages, agents' availability and channel.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("handoff_id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("employee_id", sa.String(256), nullable=False),
        sa.Column("employee_name", sa.String(256), nullable=False),
        sa.Column("conversation_id", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("tried", sa.Text, nullable=False),
        sa.Column("transcript", sa.Text, nullable=False),
        sa.Column("ticket", sa.String(32), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("deadline_at", _TS, nullable=True),
        sa.Column("agent_id", sa.String(256), nullable=True),
        sa.Column("agent_name", sa.String(256), nullable=True),
        sa.Column("taken_at", _TS, nullable=True),
        sa.Column("channel_id", sa.String(512), nullable=True),
        sa.Column("thread_id", sa.String(640), nullable=True),
        sa.Column("card_activity_id", sa.String(256), nullable=True),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("end_note", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_handoffs_conversation",
        "handoffs",
        ["tenant_id", "conversation_id", "status"],
    )
    op.create_index(
        "ix_handoffs_status_deadline", "handoffs", ["status", "deadline_at"]
    )
    op.create_index("ix_handoffs_thread", "handoffs", ["thread_id"])

    op.create_table(
        "handoff_messages",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("handoff_id", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("author_id", sa.String(256), nullable=False),
        sa.Column("author_name", sa.String(256), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("attachments", sa.Text, nullable=False),
        sa.Column("source_key", sa.String(512), nullable=False, unique=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("delivered_at", _TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_handoff_messages_lane",
        "handoff_messages",
        ["handoff_id", "direction", "status", "seq"],
    )

    op.create_table(
        "handoff_agents",
        sa.Column("tenant_id", sa.String(128), primary_key=True),
        sa.Column("agent_id", sa.String(256), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "handoff_channels",
        sa.Column("tenant_id", sa.String(128), primary_key=True),
        sa.Column("channel_id", sa.String(512), nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("designated_by", sa.String(256), nullable=False),
        sa.Column("designated_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("handoff_channels")
    op.drop_table("handoff_agents")
    op.drop_table("handoff_messages")
    op.drop_table("handoffs")
