"""Approvals, the append-only audit trail, and the embedded local directory.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("approval_id", sa.String(64), primary_key=True),
        sa.Column("thread_id", sa.String(640), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
        sa.Column("requester_id", sa.String(256), nullable=False),
        sa.Column("subject_id", sa.String(256), nullable=False),
        sa.Column("approver_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("interrupt_id", sa.String(128), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("decided_by", sa.String(256), nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
    )
    op.create_index("ix_approvals_thread_status", "approvals", ["thread_id", "status"])

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("actor_id", sa.String(256), nullable=False),
        sa.Column("subject_id", sa.String(256), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("approval_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("backend_request_id", sa.String(128), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_audit_subject_tool_at", "audit_events", ["subject_id", "tool", "at"]
    )
    op.create_index("ix_audit_at", "audit_events", ["at"])
    _make_append_only("audit_events")

    op.create_table(
        "directory_users",
        sa.Column("object_id", sa.String(64), primary_key=True),
        sa.Column("upn", sa.String(256), nullable=False, unique=True),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("mail", sa.String(256), nullable=True),
        sa.Column("account_enabled", sa.Boolean, nullable=False),
        sa.Column("manager_id", sa.String(64), nullable=True),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("privileged", sa.Boolean, nullable=False),
        sa.Column("department", sa.String(128), nullable=True),
        sa.Column("job_title", sa.String(128), nullable=True),
        sa.Column("methods", sa.Text, nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=True),
        sa.Column("must_change_password", sa.Boolean, nullable=False),
        sa.Column("last_password_change", _TS, nullable=True),
        sa.Column("sessions_valid_from", _TS, nullable=True),
    )
    op.create_table(
        "directory_groups",
        sa.Column("group_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=True),
    )
    op.create_table(
        "directory_group_members",
        sa.Column("group_id", sa.String(64), primary_key=True),
        sa.Column("object_id", sa.String(64), primary_key=True),
    )
    op.create_table(
        "directory_passes",
        sa.Column("object_id", sa.String(64), primary_key=True),
        sa.Column("pass_hash", sa.String(256), nullable=False),
        sa.Column("starts_at", _TS, nullable=False),
        sa.Column("lifetime_minutes", sa.Integer, nullable=False),
        sa.Column("one_time", sa.Boolean, nullable=False),
    )


def _make_append_only(table: str) -> None:
    """Refuse UPDATE and DELETE in the database itself, not only in our code."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{table} is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_change ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    for table in (
        "directory_passes",
        "directory_group_members",
        "directory_groups",
        "directory_users",
        "audit_events",
        "approvals",
    ):
        op.drop_table(table)
