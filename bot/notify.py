"""The notifier: ticket events become proactive Teams messages, once.

Any replica may run :meth:`Notifier.run_once`; events are claimed with a lease
(:func:`tools.tickets.events.claim_due`), so two replicas never both send one.
Each event goes to a stored conversation reference of its caller:

1. the conversation the ticket was raised in (the event's
   ``conversation_id``), when the bot can still post there;
2. else the caller's most recent 1:1 chat with the bot (news about a ticket
   is not posted into a group chat the employee did not raise it in).

A reference the connector refuses with 403 or 404 (the user removed the app,
the bot left the chat), or in local mode a loopback connector that is gone (a
terminal chat that ended), is marked unreachable, so no later event tries it
again until the user writes to the bot there; the next candidate is tried. A
transient failure (5xx, 429, timeout, connection refused) is retried with
exponential backoff.

An event with no usable reference is not retried on a timer: it is
``parked`` until the user writes to the bot again, in any conversation (a new
terminal chat, Teams after reinstalling the app). Saving that message's
reference (:func:`tools.db.save_reference`) makes the user's parked events due
at once, in the database, so whichever replica polls next sends them to the
conversation the user uses now.

Warning:
    Delivery is at least once, not exactly once: a replica that sends an
    event and dies before recording it leaves the lease to run out, and
    another replica sends it again. Sends are bounded well under the lease,
    so a slow connector alone never causes a second send.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.adapter import ConnectorUnavailable, Unreachable
from bot.ticket_news import news_activity
from tools.db import conversation_references, mark_unreachable
from tools.errors import InvalidInput
from tools.tickets.base import TicketEvent
from tools.tickets.events import (
    DueEvent,
    Settlement,
    backoff,
    claim_due,
    get_event,
    settle,
)

logger = logging.getLogger(__name__)

BATCH = 10
"""Events claimed per run; they are sent concurrently, within one lease."""
MAX_TARGETS = 3
"""References tried for one event before it is parked."""
_FALLBACK_SCAN = 20
"""Recent references of a caller looked at to find a 1:1 chat."""


class ProactiveSender(Protocol):
    """What sends one activity into a stored conversation (:class:`bot.adapter.BotHost`)."""

    async def send_proactive(
        self, reference: dict[str, Any], activity: dict[str, Any]
    ) -> str | None:
        """Send; raise ``Unreachable``, ``ConnectorUnavailable`` or ``InvalidInput``."""
        ...


@dataclass(frozen=True, slots=True)
class Target:
    """A stored reference to send an event to."""

    conversation_id: str
    reference: dict[str, Any]


@dataclass
class Notifier:
    """Sends due ticket events to their callers.

    Attributes:
        engine: the app database (events and conversation references).
        sender: sends one activity proactively.
        batch: events claimed per :meth:`run_once`.
        backoff_cap_s: the longest wait between two tries of one event.
    """

    engine: AsyncEngine
    sender: ProactiveSender
    batch: int = BATCH
    backoff_cap_s: float = 600.0

    async def run_once(self) -> int:
        """Claim the due events, send each, and settle it.

        Returns:
            How many events were delivered.
        """
        claimed = await claim_due(self.engine, limit=self.batch)
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._deliver(due) for due in claimed))
        return sum(1 for outcome in outcomes if outcome == "delivered")

    async def _deliver(self, due: DueEvent) -> Settlement | None:
        """Send one claimed event; never raises (an unsettled event's lease runs out)."""
        event = due.event
        try:
            outcome, error, retry_in = await self._send(due)
            status = await settle(
                self.engine, event.event_id, outcome, error=error, retry_in=retry_in
            )
        except Exception:
            logger.exception(
                "ticket event %s (%s) not settled; it is retried when its lease ends",
                event.event_id,
                event.kind,
            )
            return None
        log = logger.info if outcome == "delivered" else logger.warning
        log(
            "ticket event %s (%s) for %s: %s%s",
            event.event_id,
            event.kind,
            event.number or event.reference,
            status if outcome == "parked" else outcome,
            f" ({error})" if error else "",
        )
        return outcome

    async def _send(
        self, due: DueEvent
    ) -> tuple[Settlement, str | None, timedelta | None]:
        event = due.event
        activity = news_activity(event)
        skipped: list[str] = []
        refused_here: str | None = None
        for _ in range(MAX_TARGETS):
            target = await find_target(self.engine, event, skip=skipped)
            if target is None:
                break
            try:
                await self.sender.send_proactive(target.reference, activity)
            except Unreachable as exc:
                await mark_unreachable(
                    self.engine,
                    event.tenant_id,
                    event.caller_id,
                    target.conversation_id,
                )
                logger.info(
                    "conversation %s of %s marked unreachable: %s",
                    target.conversation_id,
                    event.caller_id,
                    exc,
                )
                skipped.append(target.conversation_id)
            except InvalidInput as exc:
                # Not sendable from this process (a non-loopback serviceUrl in
                # local mode, a malformed reference); another replica may be.
                refused_here = str(exc)
                skipped.append(target.conversation_id)
            except ConnectorUnavailable as exc:
                wait = backoff(due.attempts + 1, cap_s=self.backoff_cap_s)
                if exc.retry_after is not None:
                    wait = max(wait, timedelta(seconds=exc.retry_after))
                return "retry", str(exc), wait
            else:
                return "delivered", None, None
        if refused_here is not None:
            return "failed", refused_here, None
        if skipped:
            return "parked", "every conversation with the caller refused", None
        return "parked", "no conversation with the caller is stored", None


async def find_target(
    engine: AsyncEngine, event: TicketEvent, *, skip: list[str] | tuple[str, ...] = ()
) -> Target | None:
    """The reference to send ``event`` to, skipping unreachable ones.

    The event's own conversation first; else the caller's most recent 1:1
    chat with the bot.
    """
    table = conversation_references
    base = (
        sa.select(table.c.conversation_id, table.c.reference)
        .where(table.c.tenant_id == event.tenant_id)
        .where(table.c.user_object_id == event.caller_id)
        .where(table.c.unreachable_at.is_(None))
    )
    if skip:
        base = base.where(table.c.conversation_id.not_in(list(skip)))
    async with engine.connect() as conn:
        if event.conversation_id and event.conversation_id not in skip:
            row = (
                await conn.execute(
                    base.where(table.c.conversation_id == event.conversation_id)
                )
            ).first()
            if row is not None:
                return Target(row.conversation_id, json.loads(row.reference))
        rows = (
            await conn.execute(
                base.order_by(table.c.updated_at.desc()).limit(_FALLBACK_SCAN)
            )
        ).all()
    for row in rows:
        reference = json.loads(row.reference)
        if _is_personal(reference):
            return Target(row.conversation_id, reference)
    return None


async def stored_event(engine: AsyncEngine, event_id: str) -> TicketEvent | None:
    """One recorded event by id (to redraw its card after a click)."""
    return await get_event(engine, event_id)


def _is_personal(reference: dict[str, Any]) -> bool:
    conversation = reference.get("conversation")
    if not isinstance(conversation, dict):
        return False
    return conversation.get("conversationType", "personal") == "personal"
