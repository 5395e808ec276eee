"""Tables of the tools an admin registers at run time, and their history."""

from __future__ import annotations

import sqlalchemy as sa

from tools.db import metadata

_TS = sa.DateTime(timezone=True)

registered_tools = sa.Table(
    "registered_tools",
    metadata,
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
"""One row per admin-registered tool (``source`` is its manifest as the admin
wrote it), and one per built-in tool an admin enabled or disabled (kind
``builtin``, no source)."""

registered_tool_versions = sa.Table(
    "registered_tool_versions",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("source", sa.Text, nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("changed_by", sa.String(256), nullable=False),
    sa.Column("changed_at", _TS, nullable=False),
    sa.Index("ix_registered_tool_versions_name", "name", "version"),
)
"""Every change, with who made it: the versions an admin can look back on."""

tool_registry_revision = sa.Table(
    "tool_registry_revision",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
)
"""One row; bumped in the same transaction as every change, so each replica
notices a change with one cheap read per turn."""
