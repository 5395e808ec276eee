"""Answers with their cited articles, and the 1-5 satisfaction card's asks.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_answers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("conversation", sa.String(64), nullable=False),
        sa.Column("activity_id", sa.String(256), nullable=True),
        sa.Column("sources", sa.String(1000), nullable=False, server_default="[]"),
        sa.Column("asks_fix", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("fix_answer", sa.String(16), nullable=True),
        sa.Column("fix_answered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_analytics_answers_conversation",
        "analytics_answers",
        ["conversation", "id"],
    )
    op.create_index(
        "ix_analytics_answers_activity",
        "analytics_answers",
        ["tenant_id", "activity_id"],
    )
    op.create_table(
        "satisfaction_asks",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("conversation", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.Integer, nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_satisfaction_asks_asked_at", "satisfaction_asks", ["asked_at"])
    op.create_table(
        "satisfaction_last",
        sa.Column("tenant_id", sa.String(128), primary_key=True),
        sa.Column("user_hash", sa.String(64), primary_key=True),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("satisfaction_last")
    op.drop_index("ix_satisfaction_asks_asked_at", table_name="satisfaction_asks")
    op.drop_table("satisfaction_asks")
    op.drop_index("ix_analytics_answers_activity", table_name="analytics_answers")
    op.drop_index("ix_analytics_answers_conversation", table_name="analytics_answers")
    op.drop_table("analytics_answers")
