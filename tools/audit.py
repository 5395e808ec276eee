"""The audit trail: one append-only record for every tool call with a side effect.

CONTRACT: the table below; the write and query functions and ``helpdesk audit``
are filled in by the recovery work. Records carry who asked, for whom, what,
which approval, the outcome and the back end's request id. Never a secret.
"""

from __future__ import annotations

import sqlalchemy as sa

from tools.db import metadata

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("actor_id", sa.String(256), nullable=False),
    sa.Column("subject_id", sa.String(256), nullable=False),
    sa.Column("tool", sa.String(64), nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("approval_id", sa.String(64), nullable=True),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("backend_request_id", sa.String(128), nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Index("ix_audit_subject_tool_at", "subject_id", "tool", "at"),
    sa.Index("ix_audit_at", "at"),
)
"""Append-only: the database refuses UPDATE and DELETE (triggers in 0002)."""
