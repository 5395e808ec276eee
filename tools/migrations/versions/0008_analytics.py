"""Analytics events: turns, tool calls, escalations, feedback, knowledge gaps.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("conversation", sa.String(64), nullable=False),
        sa.Column("user_hash", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("tool", sa.String(64), nullable=True),
        sa.Column("detail", sa.String(200), nullable=True),
        sa.Column("value", sa.Integer, nullable=True),
    )
    op.create_index("ix_analytics_events_at", "analytics_events", ["at"])
    op.create_index(
        "ix_analytics_events_conversation", "analytics_events", ["conversation", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_analytics_events_conversation", table_name="analytics_events")
    op.drop_index("ix_analytics_events_at", table_name="analytics_events")
    op.drop_table("analytics_events")
