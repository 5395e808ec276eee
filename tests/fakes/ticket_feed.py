"""Ticket events and ServiceNow outbox rows for the notifier's and webhook's tests.

Rows are written with the real tables, as the ticket systems write them.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.itsm_webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tools.tickets.base import EventKind, TicketEvent
from tools.tickets.tables import ticket_events, ticket_outbox


def ticket_event(
    kind: EventKind = "resolved",
    *,
    caller_id: str = "local-user",
    tenant_id: str = "local",
    conversation_id: str | None = None,
    number: str = "INC0001001",
    text: str = "Replaced the VPN profile.",
    event_id: str | None = None,
) -> TicketEvent:
    """An event as a ticket system records it."""
    return TicketEvent(
        event_id=event_id or f"{number}:{kind}:{uuid.uuid4().hex[:8]}",
        kind=kind,
        reference=number,
        number=number,
        caller_id=caller_id,
        tenant_id=tenant_id,
        text=text,
        author="Alex Tech",
        conversation_id=conversation_id,
    )


async def event_row(engine: AsyncEngine, event_id: str) -> Any:
    """The stored row of one event (status, attempts, last error)."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                ticket_events.select().where(ticket_events.c.event_id == event_id)
            )
        ).one()


async def make_due_now(engine: AsyncEngine, event_id: str) -> None:
    """Skip the backoff of an event waiting for its next try."""
    async with engine.begin() as conn:
        await conn.execute(
            ticket_events.update()
            .where(ticket_events.c.event_id == event_id)
            .values(next_attempt_at=datetime.now(UTC))
        )


async def add_outbox_row(
    engine: AsyncEngine,
    *,
    number: str | None,
    caller_id: str = "local-user",
    tenant_id: str = "local",
    conversation_id: str | None = None,
    idempotency_key: str | None = None,
    reference: str | None = None,
    sys_id: str | None = None,
) -> str:
    """A ServiceNow creation as the outbox keeps it; returns its idempotency key."""
    key = idempotency_key or f"approval-{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            ticket_outbox.insert().values(
                idempotency_key=key,
                reference=reference or f"HD-{uuid.uuid4().hex[:6].upper()}",
                tenant_id=tenant_id,
                caller_id=caller_id,
                caller_upn=f"{caller_id}@contoso.example",
                conversation_id=conversation_id,
                short_description="VPN drops every few minutes",
                payload=json.dumps({}),
                status="delivered" if number else "pending",
                attempts=1 if number else 0,
                next_attempt_at=now,
                number=number,
                sys_id=sys_id,
                created_at=now,
                delivered_at=now if number else None,
            )
        )
    return key


async def event_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    sa.select(sa.func.count()).select_from(ticket_events)
                )
            ).scalar_one()
        )


def signed_headers(
    secret: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """The headers the ServiceNow business rule sends."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, stamp, body),
    }
