"""What an operator needs to know about ticket deliveries: the outbox backlog,
tickets that gave up, and news waiting for employees.

``/readyz`` reports these as warnings (a backlog is not a reason to recycle a
replica); ``helpdesk tickets outbox`` lists the rows and puts failed ones back
in the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.db import as_utc
from tools.tickets.tables import ticket_events, ticket_outbox


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One ticket on its way to ServiceNow (or stuck)."""

    reference: str
    status: str
    attempts: int
    short_description: str
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    number: str | None


@dataclass(frozen=True, slots=True)
class DeliveryHealth:
    """Counts an operator watches."""

    pending: int
    failed: int
    oldest_pending_at: datetime | None
    last_error: str | None
    news_failed: int

    def warnings(self, now: datetime | None = None) -> list[str]:
        """Sentences for ``/readyz``: what is wrong and what to do next."""
        now = now or datetime.now(UTC)
        found: list[str] = []
        if self.pending and self.oldest_pending_at is not None:
            waited = max(0, int((now - self.oldest_pending_at).total_seconds() // 60))
            line = (
                f"{self.pending} ticket(s) wait to reach ServiceNow (the oldest for "
                f"{waited} min); they are retried automatically"
            )
            if self.last_error:
                line += f"; last error: {self.last_error}"
            found.append(line)
        if self.failed:
            found.append(
                f"{self.failed} ticket(s) gave up after every attempt: see "
                "`helpdesk tickets outbox` and retry with `helpdesk tickets "
                "outbox --retry REFERENCE` once ServiceNow works"
            )
        if self.news_failed:
            found.append(
                f"{self.news_failed} ticket news message(s) could not be sent to "
                "Teams after every attempt; check the bot's credentials and the log"
            )
        return found


async def delivery_health(engine: AsyncEngine) -> DeliveryHealth:
    """The backlog of the outbox and of ticket news, in three small queries."""
    outbox = ticket_outbox
    async with engine.connect() as conn:
        counted = await conn.execute(
            sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
        )
        counts: dict[str, int] = {str(s): int(n) for s, n in counted.all()}
        oldest = (
            await conn.execute(
                sa.select(outbox.c.created_at, outbox.c.last_error)
                .where(outbox.c.status == "pending")
                .order_by(outbox.c.created_at)
                .limit(1)
            )
        ).first()
        news_failed = (
            await conn.execute(
                sa.select(sa.func.count()).where(ticket_events.c.status == "failed")
            )
        ).scalar_one()
    return DeliveryHealth(
        pending=int(counts.get("pending", 0)),
        failed=int(counts.get("failed", 0)),
        oldest_pending_at=as_utc(oldest.created_at) if oldest else None,
        last_error=oldest.last_error if oldest else None,
        news_failed=int(news_failed),
    )


async def outbox_rows(
    engine: AsyncEngine, *, everything: bool = False, limit: int = 50
) -> list[OutboxRow]:
    """Pending and failed rows (with ``everything``, delivered ones too), oldest first."""
    query = sa.select(ticket_outbox).order_by(ticket_outbox.c.created_at).limit(limit)
    if not everything:
        query = query.where(ticket_outbox.c.status.in_(("pending", "failed")))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [_row(r) for r in rows]


async def retry_failed(engine: AsyncEngine, reference: str | None = None) -> int:
    """Put failed rows (one, or all) back in the queue, due now; how many."""
    statement = (
        ticket_outbox.update()
        .where(ticket_outbox.c.status == "failed")
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=datetime.now(UTC),
            lease_until=None,
        )
    )
    if reference is not None:
        statement = statement.where(ticket_outbox.c.reference == reference.upper())
    async with engine.begin() as conn:
        result = await conn.execute(statement)
    return int(result.rowcount or 0)


def _row(row: Any) -> OutboxRow:
    return OutboxRow(
        reference=row.reference,
        status=row.status,
        attempts=int(row.attempts),
        short_description=row.short_description,
        created_at=as_utc(row.created_at),
        next_attempt_at=as_utc(row.next_attempt_at),
        last_error=row.last_error,
        number=row.number,
    )
