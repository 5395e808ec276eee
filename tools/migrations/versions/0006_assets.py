"""Asset requests and their approvals.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "asset_requests",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_key", sa.String(128), nullable=False, unique=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("requester_id", sa.String(256), nullable=False),
        sa.Column("requester_name", sa.String(256), nullable=False),
        sa.Column("requester_upn", sa.String(256), nullable=True),
        sa.Column("conversation_id", sa.String(512), nullable=True),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("item_name", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model_id", sa.String(64), nullable=True),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("cost", sa.String(64), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("ticket", sa.String(32), nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index(
        "ix_asset_requests_requester",
        "asset_requests",
        ["tenant_id", "requester_id", "status"],
    )
    op.create_table(
        "asset_approvals",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_seq", sa.Integer, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("approver_id", sa.String(256), nullable=False),
        sa.Column("approver_name", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("asked_at", _TS, nullable=False),
        sa.Column("reminded_at", _TS, nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.UniqueConstraint(
            "request_seq", "step", "approver_id", name="uq_asset_approval"
        ),
    )
    op.create_index(
        "ix_asset_approvals_pending", "asset_approvals", ["status", "asked_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_asset_approvals_pending", table_name="asset_approvals")
    op.drop_table("asset_approvals")
    op.drop_index("ix_asset_requests_requester", table_name="asset_requests")
    op.drop_table("asset_requests")
