"""Outcomes and analytics: what the copilot resolved, escalated or left open.

Events go into ``analytics_events`` (:mod:`tools.analytics.tables`) through
the ``record_*`` helpers of :mod:`tools.analytics.events`, which hash the
conversation and the employee, clean the detail, and never raise. The rules
that turn events into outcomes are in :mod:`tools.analytics.outcomes`;
``helpdesk report`` shows the figures (:mod:`tools.analytics.report`).

Where each event is recorded. Every helper takes the app engine and the
settings, then the tenant id, the Teams conversation id and the employee's
object id as they are, unhashed:

``turn``
    ``bot/handler.py``, once the reply to an employee's message went. A
    message relayed to a person in a live hand-off is not a turn.
``tool_call`` / ``tool_failed``
    ``tools/registry.py``, when a tool call ends (not at a pause for an
    approval card: the call runs again after the decision).
``ticket_opened`` / ``handoff_requested`` / ``handoff_taken``
    the ticket tool, the hand-off tool, and an agent's Take in
    ``bot/handoff.py`` (with the employee's id, not the agent's).
``knowledge_gap``
    ``bot/handler.py``, when a turn searched and cited nothing.
``resolved_by_user`` / ``not_fixed`` / ``article_fixed``
    ``bot/handler.py``, when the employee answers "Did this fix it?"
    (:mod:`tools.analytics.followups`).
``feedback`` / ``article_feedback``
    ``bot/handler.py``, the Teams feedback invoke: the reaction, the
    redacted comment, and one event per article the answer cited.
``satisfaction``
    ``bot/handler.py``, a click on the 1-5 card.

Retention: :class:`DailyPurge` (a step of the bot's background loop) deletes
events, remembered answers and satisfaction asks older than
``HELPDESK_ANALYTICS_RETENTION_DAYS``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from tools.analytics.events import (
    EVENT_KINDS,
    AnalyticsEvent,
    EventKind,
    alist_events,
    new_event,
    purge_older_than,
    record,
    record_escalation,
    record_feedback,
    record_fix_answer,
    record_knowledge_gap,
    record_resolved,
    record_satisfaction,
    record_tool,
    record_turn,
)
from tools.analytics.followups import apurge_older_than

__all__ = [
    "EVENT_KINDS",
    "AnalyticsEvent",
    "EventKind",
    "alist_events",
    "new_event",
    "purge_older_than",
    "record",
    "record_escalation",
    "record_feedback",
    "record_fix_answer",
    "record_knowledge_gap",
    "record_resolved",
    "record_satisfaction",
    "record_tool",
    "record_turn",
]


async def count_escalation(
    services: object,
    kind: str,
    *,
    tenant_id: str,
    conversation_id: str,
    user_id: str | None,
    reason: str,
) -> None:
    """Record a ticket or hand-off from code that holds the services; a no-op
    without an app database (tests that build services by hand)."""
    engine = getattr(services, "db", None)
    settings = getattr(services, "settings", None)
    if engine is None or settings is None:
        return
    await record_escalation(
        engine,
        settings,
        kind,  # type: ignore[arg-type]
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        user_id=user_id,
        reason=reason,
    )


class DailyPurge:
    """Deletes analytics events, remembered answers and satisfaction asks past
    ``HELPDESK_ANALYTICS_RETENTION_DAYS``, at most once a day per process (a
    step of the bot's background loop)."""

    def __init__(self, engine: AsyncEngine, days: int) -> None:
        self.engine = engine
        self.days = days
        self._last = float("-inf")

    async def run_once(self) -> int:
        now = time.monotonic()
        if now - self._last < 86_400:
            return 0
        self._last = now
        today = datetime.now(UTC)
        deleted = await purge_older_than(self.engine, self.days, now=today)
        cutoff = today - timedelta(days=self.days)
        return deleted + await apurge_older_than(self.engine, cutoff)
