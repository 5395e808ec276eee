"""Tickets: the embedded service desk, the ServiceNow outbox, ticket events,
files waiting for a ticket, editable approval cards and unreachable
conversation references.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(32), nullable=True, unique=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("caller_id", sa.String(256), nullable=False),
        sa.Column("caller_upn", sa.String(256), nullable=True),
        sa.Column("caller_name", sa.String(256), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("short_description", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("urgency", sa.String(8), nullable=False),
        sa.Column("impact", sa.String(8), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("service", sa.String(200), nullable=True),
        sa.Column("assignment_group", sa.String(128), nullable=True),
        sa.Column("assigned_to", sa.String(256), nullable=True),
        sa.Column("transcript", sa.Text, nullable=False),
        sa.Column("tried", sa.Text, nullable=False),
        sa.Column("links", sa.Text, nullable=False),
        sa.Column("conversation_id", sa.String(512), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("sla_due_at", _TS, nullable=True),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.Column("resolution_note", sa.Text, nullable=True),
    )
    op.create_index("ix_tickets_caller_state", "tickets", ["caller_id", "state"])
    op.create_index("ix_tickets_group_state", "tickets", ["assignment_group", "state"])

    op.create_table(
        "ticket_comments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("author", sa.String(256), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("work_note", sa.Boolean, nullable=False),
        sa.Column("from_caller", sa.Boolean, nullable=False),
        sa.Column("at", _TS, nullable=False),
    )
    op.create_index("ix_ticket_comments_ticket", "ticket_comments", ["ticket_id", "id"])

    op.create_table(
        "ticket_attachments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("at", _TS, nullable=False),
    )

    op.create_table(
        "ticket_outbox",
        sa.Column("idempotency_key", sa.String(128), primary_key=True),
        sa.Column("reference", sa.String(32), nullable=False, unique=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("caller_id", sa.String(256), nullable=False),
        sa.Column("caller_upn", sa.String(256), nullable=True),
        sa.Column("conversation_id", sa.String(512), nullable=True),
        sa.Column("short_description", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("number", sa.String(32), nullable=True),
        sa.Column("sys_id", sa.String(64), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("delivered_at", _TS, nullable=True),
    )
    op.create_index(
        "ix_ticket_outbox_due", "ticket_outbox", ["status", "next_attempt_at"]
    )
    op.create_index("ix_ticket_outbox_number", "ticket_outbox", ["number"])

    op.create_table(
        "ticket_events",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("number", sa.String(32), nullable=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("caller_id", sa.String(256), nullable=False),
        sa.Column("conversation_id", sa.String(512), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.String(256), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("delivered_at", _TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_ticket_events_due", "ticket_events", ["status", "next_attempt_at"]
    )

    op.create_table(
        "pending_attachments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("thread_id", sa.String(640), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("activity_id", sa.String(256), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.UniqueConstraint(
            "thread_id",
            "activity_id",
            "position",
            name="uq_pending_attachments_source",
        ),
    )
    op.create_index(
        "ix_pending_attachments_owner",
        "pending_attachments",
        ["thread_id", "user_id"],
    )
    op.create_index(
        "ix_pending_attachments_expires", "pending_attachments", ["expires_at"]
    )

    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("fields", sa.Text, nullable=True))
        batch.add_column(sa.Column("decided_values", sa.Text, nullable=True))
    with op.batch_alter_table("conversation_references") as batch:
        batch.add_column(sa.Column("unreachable_at", _TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversation_references") as batch:
        batch.drop_column("unreachable_at")
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("decided_values")
        batch.drop_column("fields")
    op.drop_table("pending_attachments")
    op.drop_table("ticket_events")
    op.drop_table("ticket_outbox")
    op.drop_table("ticket_attachments")
    op.drop_table("ticket_comments")
    op.drop_table("tickets")
