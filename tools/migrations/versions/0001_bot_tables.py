"""Bot tables: processed activities (dedupe) and conversation references.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processed_activities",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_processed_activities_received_at",
        "processed_activities",
        ["received_at"],
    )
    op.create_table(
        "conversation_references",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("user_object_id", sa.String(256), nullable=False),
        sa.Column("conversation_id", sa.String(512), nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "tenant_id",
            "user_object_id",
            "conversation_id",
            name="uq_conversation_ref",
        ),
    )


def downgrade() -> None:
    op.drop_table("conversation_references")
    op.drop_index(
        "ix_processed_activities_received_at", table_name="processed_activities"
    )
    op.drop_table("processed_activities")
