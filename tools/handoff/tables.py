"""Tables of live hand-offs: sessions, relay messages, agents and the channel."""

from __future__ import annotations

import sqlalchemy as sa

from tools.db import metadata

_TS = sa.DateTime(timezone=True)

handoffs = sa.Table(
    "handoffs",
    metadata,
    sa.Column("handoff_id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("employee_id", sa.String(256), nullable=False),
    sa.Column("employee_name", sa.String(256), nullable=False),
    sa.Column("conversation_id", sa.String(512), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("tried", sa.Text, nullable=False),
    sa.Column("transcript", sa.Text, nullable=False),
    sa.Column("ticket", sa.String(32), nullable=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("deadline_at", _TS, nullable=True),
    sa.Column("agent_id", sa.String(256), nullable=True),
    sa.Column("agent_name", sa.String(256), nullable=True),
    sa.Column("taken_at", _TS, nullable=True),
    sa.Column("channel_id", sa.String(512), nullable=True),
    sa.Column("thread_id", sa.String(640), nullable=True),
    sa.Column("card_activity_id", sa.String(256), nullable=True),
    sa.Column("card_claimed_until", _TS, nullable=True),
    sa.Column("ended_at", _TS, nullable=True),
    sa.Column("end_note", sa.Text, nullable=True),
    sa.Index("ix_handoffs_conversation", "tenant_id", "conversation_id", "status"),
    sa.Index("ix_handoffs_status_deadline", "status", "deadline_at"),
    sa.Index("ix_handoffs_thread", "thread_id"),
)
"""One row per hand-off; ``tried`` is a JSON list. Status moves only forward."""

handoff_messages = sa.Table(
    "handoff_messages",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("handoff_id", sa.String(64), nullable=False),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("author_id", sa.String(256), nullable=False),
    sa.Column("author_name", sa.String(256), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("attachments", sa.Text, nullable=False),
    sa.Column("source_key", sa.String(512), nullable=False, unique=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("lease_until", _TS, nullable=True),
    sa.Column("delivered_at", _TS, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Index("ix_handoff_messages_lane", "handoff_id", "direction", "status", "seq"),
)
"""Relay messages in arrival order (``seq``); ``source_key`` (the activity id)
makes a re-sent activity one message. Status: pending, delivered, failed."""

handoff_agents = sa.Table(
    "handoff_agents",
    metadata,
    sa.Column("tenant_id", sa.String(128), primary_key=True),
    sa.Column("agent_id", sa.String(256), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
)
"""Support agents who said they are available or away."""

handoff_channels = sa.Table(
    "handoff_channels",
    metadata,
    sa.Column("tenant_id", sa.String(128), primary_key=True),
    sa.Column("channel_id", sa.String(512), nullable=False),
    sa.Column("reference", sa.Text, nullable=False),
    sa.Column("designated_by", sa.String(256), nullable=False),
    sa.Column("designated_at", _TS, nullable=False),
)
"""The agents' channel of each tenant, with the reference to post there."""
