"""The asset request store: requests, the approvals they wait for, and their end.

A request moves only forward, each step a conditional UPDATE, so two clicks,
a re-sent activity or two replicas change it once:

    awaiting_approval -> approved -> fulfilled | queued | failed
                      -> rejected
                      -> cancelled (by the requester, while it waits)

``queued`` means a fulfilment ticket went to a person (hardware always, and
software or access when the automatic step could not be done).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.assets.tables import asset_approvals, asset_requests
from tools.db import as_utc

logger = logging.getLogger(__name__)

RequestStatus = Literal[
    "awaiting_approval",
    "approved",
    "rejected",
    "cancelled",
    "fulfilled",
    "queued",
    "failed",
]
OPEN: tuple[RequestStatus, ...] = ("awaiting_approval", "approved")
"""A request still on its way: a second one for the same item is a duplicate."""
ApprovalRole = Literal["manager", "owner", "escalated", "fallback"]
STATUS_WORDS: dict[str, str] = {
    "awaiting_approval": "waiting for approval",
    "approved": "approved, being fulfilled",
    "rejected": "rejected",
    "cancelled": "cancelled",
    "fulfilled": "done",
    "queued": "approved, with the fulfilment team",
    "failed": "could not be fulfilled",
}


@dataclass(frozen=True, slots=True)
class AssetRequest:
    """One request, as stored."""

    seq: int
    tenant_id: str
    requester_id: str
    requester_name: str
    requester_upn: str | None
    conversation_id: str | None
    item_id: str
    item_name: str
    kind: str
    model_id: str | None
    justification: str
    cost: str | None
    status: RequestStatus
    ticket: str | None
    outcome: str | None
    created_at: datetime

    @property
    def label(self) -> str:
        """What the employee calls it: ``REQ0001001``."""
        return label_of(self.seq)


@dataclass(frozen=True, slots=True)
class PendingApproval:
    """One approver's part of a request."""

    seq: int
    request_seq: int
    step: int
    role: ApprovalRole
    approver_id: str
    approver_name: str
    status: str
    comment: str | None
    asked_at: datetime
    reminded_at: datetime | None


def label_of(seq: int) -> str:
    return f"REQ{1_000_000 + seq:07d}"


def seq_of(label: str) -> int | None:
    """The stored number of a ``REQ…`` label, or None when it is not one."""
    text = label.strip().upper()
    if not text.startswith("REQ") or not text[3:].isdecimal():
        return None
    number = int(text[3:]) - 1_000_000
    return number if number > 0 else None


async def create_request(
    engine: AsyncEngine,
    *,
    request_key: str,
    tenant_id: str,
    requester_id: str,
    requester_name: str,
    requester_upn: str | None,
    conversation_id: str | None,
    item_id: str,
    item_name: str,
    kind: str,
    model_id: str | None,
    justification: str,
    cost: str | None,
    status: RequestStatus = "awaiting_approval",
) -> tuple[AssetRequest, bool]:
    """Store a request once per ``request_key`` (the confirmation it came from).

    Returns:
        The request, and True when this call created it.
    """
    now = _now()
    values = {
        "request_key": request_key,
        "tenant_id": tenant_id,
        "requester_id": requester_id,
        "requester_name": requester_name,
        "requester_upn": requester_upn,
        "conversation_id": conversation_id,
        "item_id": item_id,
        "item_name": item_name,
        "kind": kind,
        "model_id": model_id,
        "justification": justification,
        "cost": cost,
        "status": status,
        "created_at": now,
        "updated_at": now,
    }
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    insert = (
        dialect.insert(asset_requests)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["request_key"])
    )
    async with engine.begin() as conn:
        created = int((await conn.execute(insert)).rowcount or 0) == 1
        row = (
            await conn.execute(
                asset_requests.select().where(
                    asset_requests.c.request_key == request_key
                )
            )
        ).one()
    return _request(row), created


async def get_request(engine: AsyncEngine, seq: int) -> AssetRequest | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                asset_requests.select().where(asset_requests.c.seq == seq)
            )
        ).first()
    return _request(row) if row is not None else None


async def requests_of(
    engine: AsyncEngine,
    tenant_id: str,
    requester_id: str,
    *,
    open_only: bool = False,
    item_id: str | None = None,
    limit: int = 20,
) -> list[AssetRequest]:
    """A requester's requests, newest first."""
    r = asset_requests
    query = (
        r.select()
        .where(r.c.tenant_id == tenant_id)
        .where(r.c.requester_id == requester_id)
    )
    if open_only:
        query = query.where(r.c.status.in_(OPEN))
    if item_id is not None:
        query = query.where(r.c.item_id == item_id)
    query = query.order_by(r.c.seq.desc()).limit(limit)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [_request(row) for row in rows]


async def move(
    engine: AsyncEngine,
    seq: int,
    to: RequestStatus,
    *,
    origin: tuple[RequestStatus, ...],
    outcome: str | None = None,
    ticket: str | None = None,
) -> bool:
    """Move a request from one of ``origin`` to ``to``; True for one caller."""
    values: dict[str, Any] = {"status": to, "updated_at": _now()}
    if outcome is not None:
        values["outcome"] = outcome
    if ticket is not None:
        values["ticket"] = ticket
    r = asset_requests
    statement = (
        r.update().where(r.c.seq == seq).where(r.c.status.in_(origin)).values(**values)
    )
    async with engine.begin() as conn:
        return int((await conn.execute(statement)).rowcount or 0) == 1


async def ask(
    engine: AsyncEngine,
    request_seq: int,
    *,
    step: int,
    role: ApprovalRole,
    approver_id: str,
    approver_name: str,
) -> tuple[PendingApproval, bool]:
    """Record that ``approver_id`` must decide ``step`` of a request (once)."""
    values = {
        "request_seq": request_seq,
        "step": step,
        "role": role,
        "approver_id": approver_id,
        "approver_name": approver_name,
        "status": "pending",
        "asked_at": _now(),
    }
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    a = asset_approvals
    insert = (
        dialect.insert(a)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["request_seq", "step", "approver_id"])
    )
    async with engine.begin() as conn:
        created = int((await conn.execute(insert)).rowcount or 0) == 1
        row = (
            await conn.execute(
                a.select()
                .where(a.c.request_seq == request_seq)
                .where(a.c.step == step)
                .where(a.c.approver_id == approver_id)
            )
        ).one()
    return _approval(row), created


async def get_approval(engine: AsyncEngine, seq: int) -> PendingApproval | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                asset_approvals.select().where(asset_approvals.c.seq == seq)
            )
        ).first()
    return _approval(row) if row is not None else None


async def approvals_of(engine: AsyncEngine, request_seq: int) -> list[PendingApproval]:
    a = asset_approvals
    query = a.select().where(a.c.request_seq == request_seq).order_by(a.c.seq)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [_approval(row) for row in rows]


async def decide(
    engine: AsyncEngine, approval_seq: int, *, approved: bool, comment: str | None
) -> bool:
    """Record one approver's decision; True once, for the first decision of
    its step (a step escalated to a second approver closes for both)."""
    a = asset_approvals
    now = _now()
    async with engine.begin() as conn:
        row = (await conn.execute(a.select().where(a.c.seq == approval_seq))).first()
        if row is None or row.status != "pending":
            return False
        won = (
            await conn.execute(
                a.update()
                .where(a.c.seq == approval_seq)
                .where(a.c.status == "pending")
                .values(
                    status="approved" if approved else "rejected",
                    comment=comment,
                    decided_at=now,
                )
            )
        ).rowcount == 1
        if won:
            # Whoever else was asked for this step no longer needs to decide.
            await conn.execute(
                a.update()
                .where(a.c.request_seq == row.request_seq)
                .where(a.c.step == row.step)
                .where(a.c.status == "pending")
                .values(status="superseded", decided_at=now)
            )
    return bool(won)


async def close_pending(engine: AsyncEngine, request_seq: int) -> None:
    """Withdraw every pending approval of a request (it was cancelled)."""
    a = asset_approvals
    statement = (
        a.update()
        .where(a.c.request_seq == request_seq)
        .where(a.c.status == "pending")
        .values(status="withdrawn", decided_at=_now())
    )
    async with engine.begin() as conn:
        await conn.execute(statement)


async def overdue_approvals(
    engine: AsyncEngine, *, older_than: timedelta, now: datetime | None = None
) -> list[PendingApproval]:
    """Pending approvals asked (or last reminded) longer ago than ``older_than``."""
    now = as_utc(now or _now())
    a = asset_approvals
    last = sa.func.coalesce(a.c.reminded_at, a.c.asked_at)
    query = (
        a.select()
        .where(a.c.status == "pending")
        .where(last <= now - older_than)
        .order_by(a.c.seq)
        .limit(100)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [_approval(row) for row in rows]


async def mark_reminded(engine: AsyncEngine, approval_seq: int, at: datetime) -> bool:
    """Claim a reminder once: True for the replica that moves ``reminded_at``."""
    a = asset_approvals
    current = await get_approval(engine, approval_seq)
    if current is None or current.status != "pending":
        return False
    condition = (
        a.c.reminded_at.is_(None)
        if current.reminded_at is None
        else a.c.reminded_at == current.reminded_at
    )
    statement = (
        a.update()
        .where(a.c.seq == approval_seq)
        .where(a.c.status == "pending")
        .where(condition)
        .values(reminded_at=as_utc(at))
    )
    async with engine.begin() as conn:
        return int((await conn.execute(statement)).rowcount or 0) == 1


def _request(row: Any) -> AssetRequest:
    return AssetRequest(
        seq=int(row.seq),
        tenant_id=row.tenant_id,
        requester_id=row.requester_id,
        requester_name=row.requester_name,
        requester_upn=row.requester_upn,
        conversation_id=row.conversation_id,
        item_id=row.item_id,
        item_name=row.item_name,
        kind=row.kind,
        model_id=row.model_id,
        justification=row.justification,
        cost=row.cost,
        status=row.status,
        ticket=row.ticket,
        outcome=row.outcome,
        created_at=as_utc(row.created_at),
    )


def _approval(row: Any) -> PendingApproval:
    return PendingApproval(
        seq=int(row.seq),
        request_seq=int(row.request_seq),
        step=int(row.step),
        role=row.role,
        approver_id=row.approver_id,
        approver_name=row.approver_name,
        status=row.status,
        comment=row.comment,
        asked_at=as_utc(row.asked_at),
        reminded_at=as_utc(row.reminded_at) if row.reminded_at is not None else None,
    )


def _now() -> datetime:
    return datetime.now(UTC)
