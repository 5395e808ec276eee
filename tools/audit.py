"""The audit trail: one append-only record for every tool call with a side effect.

Records carry who asked, for whom, what, which approval, the outcome and the
back end's request id; never a secret. The registry writes them (see
:class:`AuditNote`); per-person daily limits count them; ``helpdesk audit``
lists them.

Outcomes: ``success`` (done), ``failed`` (approved, then the back end refused or
broke), ``refused`` (a rule said no before anyone was asked), ``declined`` (the
approver said no), ``limited`` (a daily limit was reached).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

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

AuditOutcome = Literal["success", "failed", "refused", "declined", "limited"]
AUDIT_OUTCOMES: tuple[AuditOutcome, ...] = (
    "success",
    "failed",
    "refused",
    "declined",
    "limited",
)
_DAY = timedelta(hours=24)


@dataclass
class AuditNote:
    """What a side-effecting tool learns as it runs, for its one audit record.

    The tool fills it through ``ctx.audit``; the registry writes the record when
    the call ends, whatever way it ends. Never put a secret in it.

    Attributes:
        subject_id: the person acted on (object id), or what was asked for when
            no person was resolved.
        action: what was (or would have been) done, in plain words.
        approval_id: the approval that allowed it, once known.
        approved: set when the approval came back yes.
        outcome: set by a tool that wants a specific outcome on success.
    """

    subject_id: str | None = None
    action: str | None = None
    approval_id: str | None = None
    approved: bool = False
    outcome: AuditOutcome | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One record of the trail."""

    at: datetime
    tenant_id: str
    actor_id: str
    subject_id: str
    tool: str
    action: str
    outcome: AuditOutcome
    approval_id: str | None = None
    backend_request_id: str | None = None
    detail: str | None = None


async def arecord(engine: AsyncEngine, event: AuditEvent) -> None:
    """Append one record.

    Args:
        engine: the app database.
        event: the record; its ``detail`` must be plain words, never a secret.
    """
    values = asdict(event)
    values["subject_id"] = values["subject_id"][:256]
    values["backend_request_id"] = (values["backend_request_id"] or "")[:128] or None
    async with engine.begin() as conn:
        await conn.execute(audit_events.insert().values(**values))


async def alist(
    engine: AsyncEngine,
    *,
    since: datetime | None = None,
    user: str | None = None,
    tool: str | None = None,
    outcome: str | None = None,
    tenant_id: str | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Records, newest first, that match every filter given.

    Args:
        engine: the app database.
        since: only records at or after this time.
        user: only records where this person asked or was acted on.
        tool: only this tool's records.
        outcome: only this outcome.
        tenant_id: only this tenant.
        limit: at most this many.
    """
    table = audit_events
    query = sa.select(table).order_by(table.c.at.desc(), table.c.id.desc())
    if since is not None:
        query = query.where(table.c.at >= since)
    if user:
        query = query.where(
            sa.or_(table.c.actor_id == user, table.c.subject_id == user)
        )
    if tool:
        query = query.where(table.c.tool == tool)
    if outcome:
        query = query.where(table.c.outcome == outcome)
    if tenant_id:
        query = query.where(table.c.tenant_id == tenant_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query.limit(max(1, limit)))).mappings().all()
    return [_event(row) for row in rows]


async def asuccesses_in_last_day(
    engine: AsyncEngine,
    *,
    tenant_id: str,
    subject_id: str,
    tool: str,
    now: datetime | None = None,
) -> list[datetime]:
    """When ``tool`` last succeeded for this person, within the last 24 hours.

    Returns:
        The times, oldest first; a per-day limit resets 24 hours after the first.
    """
    now = now or datetime.now(UTC)
    table = audit_events
    query = (
        sa.select(table.c.at)
        .where(table.c.tenant_id == tenant_id)
        .where(table.c.subject_id == subject_id)
        .where(table.c.tool == tool)
        .where(table.c.outcome == "success")
        .where(table.c.at > now - _DAY)
        .order_by(table.c.at)
    )
    async with engine.connect() as conn:
        return [_aware(at) for at in (await conn.execute(query)).scalars()]


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        at=_aware(row["at"]),
        tenant_id=row["tenant_id"],
        actor_id=row["actor_id"],
        subject_id=row["subject_id"],
        tool=row["tool"],
        action=row["action"],
        outcome=row["outcome"],
        approval_id=row["approval_id"],
        backend_request_id=row["backend_request_id"],
        detail=row["detail"],
    )


def _aware(at: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return at if at.tzinfo else at.replace(tzinfo=UTC)
