"""Tables of asset requests and their approvals."""

from __future__ import annotations

import sqlalchemy as sa

from tools.db import metadata

_TS = sa.DateTime(timezone=True)

asset_requests = sa.Table(
    "asset_requests",
    metadata,
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
    sa.Index("ix_asset_requests_requester", "tenant_id", "requester_id", "status"),
)
"""One row per request; ``status`` moves only forward (see
:mod:`tools.assets.requests`)."""

asset_approvals = sa.Table(
    "asset_approvals",
    metadata,
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
    sa.UniqueConstraint("request_seq", "step", "approver_id", name="uq_asset_approval"),
    sa.Index("ix_asset_approvals_pending", "status", "asked_at"),
)
"""Who must decide a request, one row per step and approver. A step escalated
to the approver's manager gets a second row; the first one to decide wins."""
