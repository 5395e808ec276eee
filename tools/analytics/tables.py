"""The table of analytics events: what happened in a conversation, not who said what."""

from __future__ import annotations

import sqlalchemy as sa

from tools.db import metadata

analytics_events = sa.Table(
    "analytics_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("conversation", sa.String(64), nullable=False),
    sa.Column("user_hash", sa.String(64), nullable=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("tool", sa.String(64), nullable=True),
    sa.Column("detail", sa.String(200), nullable=True),
    sa.Column("value", sa.Integer, nullable=True),
    sa.Index("ix_analytics_events_at", "at"),
    sa.Index("ix_analytics_events_conversation", "conversation", "at"),
)
"""``conversation`` and ``user_hash`` are keyed hashes (see
:mod:`tools.analytics.events`); ``detail`` is short and redacted before it is
written, so a row names no person and holds no secret."""
