"""Ticket events: changes a caller should hear about, delivered once.

Both backends and the ServiceNow webhook write here with :func:`record_event`;
the bot's notifier (any replica) claims due events with :func:`claim_due`,
sends them, and settles each with :func:`settle`. A claim is a lease: an event
claimed by a replica that died becomes due again when the lease runs out.

Statuses: ``pending`` (due at ``next_attempt_at``), ``delivered``, ``parked``
(no conversation could take it; due again as soon as the caller writes to the
bot, see :func:`wake_parked`), ``failed`` (an operator must look), and
``muted`` (a change the caller made themselves: never sent, kept so that the
same change reported again by the ServiceNow webhook is known as a replay).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tools.db import as_utc, conversation_references
from tools.tickets.base import TicketEvent
from tools.tickets.tables import ticket_events

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
"""How long a replica owns a claimed event before another may take it."""
MAX_ATTEMPTS = 12
"""Transient failures (the connector down) retried this often, then ``failed``."""

Settlement = Literal["delivered", "parked", "retry", "failed"]


@dataclass(frozen=True, slots=True)
class DueEvent:
    """A claimed event and how often it was tried before."""

    event: TicketEvent
    attempts: int


async def record_event(
    engine: AsyncEngine, event: TicketEvent, *, muted: bool = False
) -> bool:
    """Store ``event`` for delivery; False when its id was already stored (a replay).

    Args:
        engine: the app database.
        event: the change. An ``at`` that has no UTC equivalent (an offset
            that pushes it past year 9999 or before year 1) is replaced by the
            recording time.
        muted: store it as ``muted``, never to be sent: the caller made this
            change, and its id is kept so that a report of it from elsewhere
            is a replay.
    """
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
        "created_at": _event_time(event, now),
        "status": "muted" if muted else "pending",
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
) -> str:
    """Record what became of a claimed event.

    ``retry`` makes it due again after ``retry_in`` (backing off), unless it
    has been tried :data:`MAX_ATTEMPTS` times, when it is ``failed``.
    ``parked`` waits for the caller to write to the bot (:func:`wake_parked`);
    when they already did while the event was being sent, it is retried at
    once instead, so that news is not parked past the message that would have
    woken it.

    Returns:
        The status the event now has (``pending`` when it will be tried again).
    """
    now = _now()
    table = ticket_events
    if outcome == "parked":
        if await _park(engine, event_id, error):
            return "parked"
        outcome, retry_in = "retry", timedelta(0)
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
            wait = retry_in if retry_in is not None else backoff(attempts)
            values["next_attempt_at"] = now + wait
    else:
        values["status"] = outcome
        values["delivered_at"] = now if outcome == "delivered" else None
        values["attempts"] = table.c.attempts + 1
    async with engine.begin() as conn:
        await conn.execute(
            table.update().where(table.c.event_id == event_id).values(**values)
        )
    return str(values.get("status", "pending"))


async def wake_parked(conn: AsyncConnection, *, tenant_id: str, caller_id: str) -> int:
    """Make the caller's parked events due now: they wrote to the bot again.

    Runs in the caller's transaction (the one that saves the conversation
    reference), so any replica's notifier finds the news on its next pass and
    sends it to the conversation the caller uses now.

    Returns:
        How many events became due.
    """
    table = ticket_events
    result = await conn.execute(
        table.update()
        .where(table.c.status == "parked")
        .where(table.c.tenant_id == tenant_id)
        .where(table.c.caller_id == caller_id)
        .values(status="pending", next_attempt_at=_now(), lease_until=None)
    )
    woken = int(result.rowcount or 0)
    if woken:
        logger.info("%d parked ticket event(s) of %s due again", woken, caller_id)
    return woken


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
        at=as_utc(row.created_at),
    )


async def _park(engine: AsyncEngine, event_id: str, error: str | None) -> bool:
    """Park a claimed event unless its caller saved a conversation reference
    since it was claimed (then False: it should be tried again at once).

    One conditional UPDATE, so a reference saved while the event was being
    sent either stops the parking or finds the event parked and wakes it.
    """
    events, references = ticket_events, conversation_references
    async with engine.begin() as conn:
        lease_until = (
            await conn.execute(
                sa.select(events.c.lease_until).where(events.c.event_id == event_id)
            )
        ).scalar_one_or_none()
        claimed_at = as_utc(lease_until) - LEASE if lease_until else _now()
        came_back = (
            sa.exists()
            .where(references.c.tenant_id == events.c.tenant_id)
            .where(references.c.user_object_id == events.c.caller_id)
            .where(references.c.updated_at >= claimed_at)
        )
        result = await conn.execute(
            events.update()
            .where(events.c.event_id == event_id)
            .where(~came_back)
            .values(
                status="parked",
                lease_until=None,
                last_error=error,
                delivered_at=None,
                attempts=events.c.attempts + 1,
            )
        )
    return int(result.rowcount or 0) == 1


def _event_time(event: TicketEvent, now: datetime) -> datetime:
    if event.at is None:
        return now
    try:
        return as_utc(event.at)
    except OverflowError:
        logger.warning(
            "ticket event %s: its time %s has no UTC equivalent; stored as now",
            event.event_id,
            event.at.isoformat(),
        )
        return now


def _now() -> datetime:
    return datetime.now(UTC)
