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

answers = sa.Table(
    "analytics_answers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("conversation", sa.String(64), nullable=False),
    sa.Column("activity_id", sa.String(256), nullable=True),
    sa.Column("sources", sa.String(1000), nullable=False, server_default="[]"),
    sa.Column("asks_fix", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("fix_answer", sa.String(16), nullable=True),
    sa.Column("fix_answered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_analytics_answers_conversation", "conversation", "id"),
    sa.Index("ix_analytics_answers_activity", "tenant_id", "activity_id"),
)
"""Every answer the copilot sent: which articles it cited (their source ids,
as JSON) and whether it asked "Did this fix it?", so that a thumbs-up, a
comment or a "yes, that fixed it" can be tied to the answer and its
articles. ``activity_id`` is the Teams message id the feedback invoke names."""

satisfaction_asks = sa.Table(
    "satisfaction_asks",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("user_hash", sa.String(64), nullable=False),
    sa.Column("conversation", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),
    sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rating", sa.Integer, nullable=True),
    sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_satisfaction_asks_asked_at", "asked_at"),
)
"""One 1-5 satisfaction card sent; ``rating`` is set once, by its employee."""

satisfaction_last = sa.Table(
    "satisfaction_last",
    metadata,
    sa.Column("tenant_id", sa.String(128), primary_key=True),
    sa.Column("user_hash", sa.String(64), primary_key=True),
    sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
)
"""When each employee was last sent the card: the once-per-period claim is a
conditional update of this row, so two replicas cannot both send it."""
