"""Read-only view of the approvals table, for redrawing and updating cards.

The agent owns the approvals' life cycle (record, claim, expire); the host only
reads: the pending requests of a thread (to show a card again when a submit
arrived unreadable) and one request by id (to redraw a decided card and to
name who it is for).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.approvals import ApprovalRequest, approvals

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredApproval:
    """A request as the approvals table holds it."""

    request: ApprovalRequest
    thread_id: str
    status: str
    decided_by: str | None = None
    decided_at: datetime | None = None


async def aget_approval(engine: AsyncEngine, approval_id: str) -> StoredApproval | None:
    """The request with this id, or None when there is none."""
    query = sa.select(approvals).where(approvals.c.approval_id == approval_id)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).mappings().first()
    return _stored(row) if row is not None else None


async def apending_approvals(
    engine: AsyncEngine, thread_id: str, *, now: datetime | None = None
) -> list[ApprovalRequest]:
    """The thread's requests still waiting for a decision, oldest first.

    A request past its expiry counts as gone even before the agent marks it.
    """
    now = now or datetime.now(UTC)
    query = (
        sa.select(approvals)
        .where(approvals.c.thread_id == thread_id)
        .where(approvals.c.status == "pending")
        .order_by(approvals.c.created_at)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    found = [_stored(row) for row in rows]
    return [s.request for s in found if s.request.expires_at > now]


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every time we store is UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _facts(raw: str | None) -> list[tuple[str, str]]:
    try:
        data = json.loads(raw or "[]")
    except ValueError:
        logger.warning("approval facts are not JSON; showing the card without them")
        return []
    if isinstance(data, dict):
        data = list(data.items())
    facts = []
    for item in data if isinstance(data, list) else []:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            facts.append((str(item[0]), str(item[1])))
    return facts


def _stored(row: sa.RowMapping) -> StoredApproval:
    expires_at = _aware(row["expires_at"])
    assert expires_at is not None  # the column is NOT NULL
    request = ApprovalRequest(
        approval_id=row["approval_id"],
        tool=row["tool"],
        title=row["title"],
        action=row["action"],
        requester_id=row["requester_id"],
        subject_id=row["subject_id"],
        approver_id=row["approver_id"],
        expires_at=expires_at,
        facts=_facts(row["facts"]),
    )
    return StoredApproval(
        request=request,
        thread_id=row["thread_id"],
        status=row["status"],
        decided_by=row["decided_by"],
        decided_at=_aware(row["decided_at"]),
    )
