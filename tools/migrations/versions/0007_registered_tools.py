"""Tools registered by admins at run time, their versions, and the registry's
revision.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "registered_tools",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("health", sa.String(16), nullable=True),
        sa.Column("health_note", sa.Text, nullable=True),
        sa.Column("health_at", _TS, nullable=True),
    )
    op.create_table(
        "registered_tool_versions",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("changed_by", sa.String(256), nullable=False),
        sa.Column("changed_at", _TS, nullable=False),
    )
    op.create_index(
        "ix_registered_tool_versions_name",
        "registered_tool_versions",
        ["name", "version"],
    )
    op.create_table(
        "tool_registry_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tool_registry_revision")
    op.drop_index(
        "ix_registered_tool_versions_name", table_name="registered_tool_versions"
    )
    op.drop_table("registered_tool_versions")
    op.drop_table("registered_tools")
