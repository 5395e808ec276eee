"""Tables of tickets: the embedded system, the ServiceNow outbox, and events."""

from __future__ import annotations

import sqlalchemy as sa

from tools.db import metadata

_TS = sa.DateTime(timezone=True)

tickets = sa.Table(
    "tickets",
    metadata,
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
    sa.Index("ix_tickets_caller_state", "caller_id", "state"),
    sa.Index("ix_tickets_group_state", "assignment_group", "state"),
)
"""The embedded service desk. ``number`` is ``INC`` + 7 digits, from ``id``;
``tried`` and ``links`` are JSON lists."""

ticket_comments = sa.Table(
    "ticket_comments",
    metadata,
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
    sa.Index("ix_ticket_comments_ticket", "ticket_id", "id"),
)

ticket_attachments = sa.Table(
    "ticket_attachments",
    metadata,
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

ticket_outbox = sa.Table(
    "ticket_outbox",
    metadata,
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
    sa.Index("ix_ticket_outbox_due", "status", "next_attempt_at"),
    sa.Index("ix_ticket_outbox_number", "number"),
)
"""ServiceNow creations not yet confirmed, and the map from our reference to
ServiceNow's number afterwards. ``payload`` is the draft as JSON (no secrets:
the draft is redacted before it is built). Status: pending, delivered, failed."""

ticket_events = sa.Table(
    "ticket_events",
    metadata,
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
    sa.Index("ix_ticket_events_due", "status", "next_attempt_at"),
)
"""Changes the caller should hear about, delivered once by any replica.
Status: pending, delivered, parked (no conversation could take it; due again
when the user writes to the bot), failed, muted (the caller's own change,
never sent; its id makes a report of it a replay)."""

pending_attachments = sa.Table(
    "pending_attachments",
    metadata,
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
        "thread_id", "activity_id", "position", name="uq_pending_attachments_source"
    ),
    sa.Index("ix_pending_attachments_owner", "thread_id", "user_id"),
    sa.Index("ix_pending_attachments_expires", "expires_at"),
)
"""Files an employee sent in a chat, kept until a ticket tool adds them to a
ticket (or a day passes). One row per file of one message: a re-sent message
stores nothing twice."""
