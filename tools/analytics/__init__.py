"""Outcomes and analytics: what the copilot resolved, escalated or left open.

Events go into ``analytics_events`` (:mod:`tools.analytics.tables`) through
the ``record_*`` helpers of :mod:`tools.analytics.events`, which hash the
conversation and the employee, clean the detail, and never raise. The rules
that turn events into outcomes are in :mod:`tools.analytics.outcomes`;
``helpdesk report`` shows the figures (:mod:`tools.analytics.report`).

Where each event is to be recorded (none is wired in yet). Every helper takes
the app engine and the settings, then the tenant id, the Teams conversation
id and the employee's object id as they are, unhashed:

``turn``
    ``bot/handler.py``, ``_run_turn``: once ``_deliver`` has sent the reply,
    ``record_turn(...)``. One per employee message the copilot answered; a
    message relayed to a person in a live hand-off is not a turn.
``tool_call`` / ``tool_failed``
    ``tools/registry.py``, the ``run`` closure of ``_as_langchain``: after
    ``impl`` returns, ``record_tool(..., failed=False)``; in the
    ``HelpdeskError`` branch, ``record_tool(..., failed=True,
    reason=type(exc).__name__)``. Not for a pause at an approval
    (``GraphBubbleUp``): the call runs again after the decision. The ids come
    from ``context.requester`` and the tenant + conversation in ``thread_id``
    (pass the conversation id itself if the hook can reach it).
``ticket_opened``
    ``tools/tickets/tools.py``, ``create_ticket``, after ``tickets.acreate``
    returned: ``record_escalation(..., "ticket_opened", reason=category)``.
``handoff_requested``
    ``tools/handoff/tool.py``, after ``open_handoff`` created a new hand-off
    (its second value is True): ``record_escalation(...,
    "handoff_requested", reason=<the hand-off's reason>)``.
``handoff_taken``
    ``bot/handoff.py``, where an agent's click calls ``store.take`` and it
    returns True: ``record_escalation(..., "handoff_taken", user_id=<the
    employee, not the agent>, reason=<the hand-off's reason>)``.
``resolved_by_user``
    Wherever the employee answers "Did this fix it?" with yes about a
    copilot answer: ``record_resolved(...)``. A yes on ticket news
    (``on_ticket_choice``) may record it too; the outcome rules count the
    conversation as escalated anyway, because it had a ticket.
``knowledge_gap``
    ``tools/knowledge/tool.py``, ``search_knowledge``, when ``passages`` is
    empty: ``record_knowledge_gap(..., question=query)``. The question is
    redacted and cut to 200 characters before it is stored.
``feedback``
    ``bot/handler.py``, ``on_feedback`` (replacing its TODO):
    ``record_feedback(..., positive=reaction == "like")``. The comment the
    employee may type is not stored.
``satisfaction``
    Where a 1-5 rating is collected (no such card exists yet):
    ``record_satisfaction(..., rating=n)``.

Retention: ``purge_older_than(engine, days)`` deletes older events; the
background loop (``bot/jobs.py``) should call it daily.
"""

from __future__ import annotations

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
    record_knowledge_gap,
    record_resolved,
    record_satisfaction,
    record_tool,
    record_turn,
)

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
    """Deletes analytics events past ``HELPDESK_ANALYTICS_RETENTION_DAYS``,
    at most once a day per process (a step of the bot's background loop)."""

    def __init__(self, engine: object, days: int) -> None:
        self.engine = engine
        self.days = days
        self._last = float("-inf")

    async def run_once(self) -> int:
        import time

        now = time.monotonic()
        if now - self._last < 86_400:
            return 0
        self._last = now
        return await purge_older_than(self.engine, self.days)  # type: ignore[arg-type]
