"""Tables of the embedded local directory (users, groups, members, passes)."""

from __future__ import annotations

import sqlalchemy as sa

from tools.db import metadata

directory_users = sa.Table(
    "directory_users",
    metadata,
    sa.Column("object_id", sa.String(64), primary_key=True),
    sa.Column("upn", sa.String(256), nullable=False, unique=True),
    sa.Column("display_name", sa.String(256), nullable=False),
    sa.Column("mail", sa.String(256), nullable=True),
    sa.Column("account_enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("manager_id", sa.String(64), nullable=True),
    sa.Column("roles", sa.Text, nullable=False, default=""),
    sa.Column("privileged", sa.Boolean, nullable=False, default=False),
    sa.Column("department", sa.String(128), nullable=True),
    sa.Column("job_title", sa.String(128), nullable=True),
    sa.Column("methods", sa.Text, nullable=False, default="[]"),
    sa.Column("password_hash", sa.String(256), nullable=True),
    sa.Column("must_change_password", sa.Boolean, nullable=False, default=False),
    sa.Column("last_password_change", sa.DateTime(timezone=True), nullable=True),
    sa.Column("sessions_valid_from", sa.DateTime(timezone=True), nullable=True),
)
"""People. ``roles`` is comma-separated; ``methods`` a JSON list of plain words.
Passwords are stored only as salted hashes."""

directory_groups = sa.Table(
    "directory_groups",
    metadata,
    sa.Column("group_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=True),
)

directory_group_members = sa.Table(
    "directory_group_members",
    metadata,
    sa.Column("group_id", sa.String(64), primary_key=True),
    sa.Column("object_id", sa.String(64), primary_key=True),
)

directory_passes = sa.Table(
    "directory_passes",
    metadata,
    sa.Column("object_id", sa.String(64), primary_key=True),
    sa.Column("pass_hash", sa.String(256), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lifetime_minutes", sa.Integer, nullable=False),
    sa.Column("one_time", sa.Boolean, nullable=False),
)
"""Temporary Access Passes, one per user, kept only as salted hashes."""
