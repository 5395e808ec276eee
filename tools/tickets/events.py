"""Ticket events: changes a caller should hear about, delivered once.

Both backends and the ServiceNow webhook write here with :func:`record_event`;
the bot's notifier (any replica) claims due events with :func:`claim_due`,
sends them, and settles each with :func:`settle`. A claim is a lease: an event
claimed by a replica that died becomes due again when the lease runs out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.tickets.base import TicketEvent
from tools.tickets.tables import ticket_events

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
"""How long a replica owns a claimed event before another may take it."""
MAX_ATTEMPTS = 12
"""Transient failures (the connector down) retried this often, then ``failed``."""

Settlement = Literal["delivered", "unreachable", "retry", "failed"]


@dataclass(frozen=True, slots=True)
class DueEvent:
    """A claimed event and how often it was tried before."""

    event: TicketEvent
    attempts: int


async def record_event(engine: AsyncEngine, event: TicketEvent) -> bool:
    """Store ``event`` for delivery; False when its id was already stored (a replay)."""
    now = _now()
    values = {
        "event_id": event.event_id,
        "kind": event.kind,
        "reference": event.reference,
        "number": event.number,
        "tenant_id": event.tenant_id,
        "caller_id": event.caller_id,
        "conversation_id": event.conversation_id,
        "text": event.text,
        "author": event.author,
        "created_at": _utc(event.at) if event.at else now,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
    }
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(ticket_events)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    async with engine.begin() as conn:
        result = await conn.execute(statement)
    stored = int(result.rowcount or 0) == 1
    if not stored:
        logger.info("ticket event %s already recorded", event.event_id)
    return stored


async def claim_due(
    engine: AsyncEngine, *, limit: int = 20, now: datetime | None = None
) -> list[DueEvent]:
    """Claim up to ``limit`` events that are due, oldest first.

    Each row is taken by a conditional UPDATE on its lease, so two replicas
    polling at once never both take the same event.
    """
    now = now or _now()
    table = ticket_events
    due = (
        sa.select(table.c.event_id)
        .where(table.c.status == "pending")
        .where(table.c.next_attempt_at <= now)
        .where(sa.or_(table.c.lease_until.is_(None), table.c.lease_until <= now))
        .order_by(table.c.created_at)
        .limit(limit)
    )
    claimed: list[DueEvent] = []
    async with engine.connect() as conn:
        ids = list((await conn.execute(due)).scalars())
    for event_id in ids:
        take = (
            table.update()
            .where(table.c.event_id == event_id)
            .where(table.c.status == "pending")
            .where(sa.or_(table.c.lease_until.is_(None), table.c.lease_until <= now))
            .values(lease_until=now + LEASE)
        )
        async with engine.begin() as conn:
            if int((await conn.execute(take)).rowcount or 0) != 1:
                continue  # another replica got there first
            row = (
                await conn.execute(table.select().where(table.c.event_id == event_id))
            ).one()
        claimed.append(DueEvent(_event(row), int(row.attempts)))
    return claimed


async def settle(
    engine: AsyncEngine,
    event_id: str,
    outcome: Settlement,
    *,
    error: str | None = None,
    retry_in: timedelta | None = None,
) -> None:
    """Record what became of a claimed event.

    ``retry`` makes it due again after ``retry_in`` (backing off), unless it
    has been tried :data:`MAX_ATTEMPTS` times, when it is ``failed``.
    """
    now = _now()
    table = ticket_events
    values: dict[str, Any] = {"lease_until": None, "last_error": error}
    if outcome == "retry":
        async with engine.connect() as conn:
            attempts = (
                await conn.execute(
                    sa.select(table.c.attempts).where(table.c.event_id == event_id)
                )
            ).scalar_one_or_none() or 0
        attempts += 1
        values["attempts"] = attempts
        if attempts >= MAX_ATTEMPTS:
            values["status"] = "failed"
            logger.error(
                "ticket event %s failed after %d attempts: %s",
                event_id,
                attempts,
                error,
            )
        else:
            values["next_attempt_at"] = now + (retry_in or backoff(attempts))
    else:
        values["status"] = outcome
        values["delivered_at"] = now if outcome == "delivered" else None
        values["attempts"] = table.c.attempts + 1
    async with engine.begin() as conn:
        await conn.execute(
            table.update().where(table.c.event_id == event_id).values(**values)
        )


async def get_event(engine: AsyncEngine, event_id: str) -> TicketEvent | None:
    """One recorded event by id (to redraw its card after a click)."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                ticket_events.select().where(ticket_events.c.event_id == event_id)
            )
        ).first()
    return _event(row) if row is not None else None


async def event_status(engine: AsyncEngine, event_id: str) -> str | None:
    """Where one event stands (for tests and the operator)."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(ticket_events.c.status).where(
                    ticket_events.c.event_id == event_id
                )
            )
        ).scalar_one_or_none()


def backoff(attempts: int, *, base_s: float = 2.0, cap_s: float = 600.0) -> timedelta:
    """Exponential backoff: 2 s, 4 s, 8 s … capped at ``cap_s``."""
    return timedelta(seconds=min(cap_s, base_s * 2 ** max(0, attempts - 1)))


def _event(row: Any) -> TicketEvent:
    return TicketEvent(
        event_id=row.event_id,
        kind=row.kind,
        reference=row.reference,
        number=row.number,
        caller_id=row.caller_id,
        tenant_id=row.tenant_id,
        text=row.text,
        author=row.author,
        conversation_id=row.conversation_id,
        at=_utc(row.created_at),
    )


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)
