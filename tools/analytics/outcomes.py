"""How a conversation ended, decided from its analytics events by written rules.

Each conversation (events sharing a ``conversation`` hash, within the report's
window) gets exactly one outcome. The rules, in the order they are applied:

1. **Escalated** when the conversation has any ``ticket_opened``,
   ``handoff_requested`` or ``handoff_taken`` event, whatever else happened,
   even a later "it worked": a person was needed, so the copilot did not
   resolve it alone. The reason is the first escalation's detail (a ticket's
   category, a hand-off's reason), or ``ticket`` / ``hand-off`` without one.
2. **Resolved** (by the copilot) when the employee said so: a
   ``resolved_by_user`` event ("Did this fix it? Yes"), or a positive
   ``feedback`` (value > 0) on the last answer, that is, the last feedback
   given after the last ``turn``. A thumbs-up followed by another question
   rated one answer but did not end the need, so it does not count; a
   thumbs-down after it cancels it. Only the feedback of the employee who
   asked the last question counts: in a group chat, a colleague's thumbs-up
   does not settle someone else's need. "It worked" is about the problem, not an
   answer, so a later question does not undo it. The time of resolution is
   the first such signal's time.
3. **Abandoned** when neither of the above holds and the employee wrote
   nothing for ``abandon_after`` (default 24 hours) after the last answer:
   the last ``turn`` is at least that old at ``now``.
4. **Open** otherwise: the last answer is recent, or the conversation has no
   answer at all (only a feedback or a failure, say).

Silence is never success: an answer nobody complained about is abandoned or
open, never resolved.

A ``turn`` event is written once the copilot answered an employee's message,
so it marks both the employee's message and the answer (see
:mod:`tools.analytics`).

Warning:
    The window cuts conversations: one that started before ``since`` is
    judged on its events inside the window only, and its time to resolution
    starts at its first event inside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from tools.analytics.events import AnalyticsEvent

OutcomeKind = Literal["resolved", "escalated", "abandoned", "open"]
OUTCOME_KINDS: tuple[OutcomeKind, ...] = get_args(OutcomeKind)
DEFAULT_ABANDON_AFTER = timedelta(hours=24)

_ESCALATIONS = {
    "ticket_opened": "ticket",
    "handoff_requested": "hand-off",
    "handoff_taken": "hand-off",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one conversation ended.

    Attributes:
        conversation: the conversation's hash.
        kind: resolved, escalated, abandoned or open.
        reason: why it was escalated; None for the other outcomes.
        started_at: its first event in the window.
        resolved_at: when the employee said it was resolved (resolved only).
    """

    conversation: str
    kind: OutcomeKind
    started_at: datetime
    reason: str | None = None
    resolved_at: datetime | None = None

    @property
    def time_to_resolution(self) -> timedelta | None:
        """From the first event to the employee's "it worked"; None if unresolved."""
        if self.resolved_at is None:
            return None
        return self.resolved_at - self.started_at


def decide(
    events: Iterable[AnalyticsEvent],
    *,
    now: datetime,
    abandon_after: timedelta = DEFAULT_ABANDON_AFTER,
) -> list[Outcome]:
    """The outcome of every conversation in ``events``, by the module's rules.

    Args:
        events: events of any number of conversations, in any order.
        now: the time the report is made; abandonment is judged against it.
        abandon_after: how long the employee may stay silent after the last
            answer before the conversation counts as abandoned.

    Returns:
        One outcome per conversation, oldest conversation first.
    """
    by_conversation: dict[str, list[AnalyticsEvent]] = {}
    for event in sorted(events, key=lambda e: e.at):
        by_conversation.setdefault(event.conversation, []).append(event)
    outcomes = [
        decide_one(conversation, found, now=now, abandon_after=abandon_after)
        for conversation, found in by_conversation.items()
    ]
    return sorted(outcomes, key=lambda o: o.started_at)


def decide_one(
    conversation: str,
    events: list[AnalyticsEvent],
    *,
    now: datetime,
    abandon_after: timedelta = DEFAULT_ABANDON_AFTER,
) -> Outcome:
    """The outcome of one conversation from its events, oldest first."""
    started_at = events[0].at

    for event in events:
        if event.kind in _ESCALATIONS:
            reason = event.detail or _ESCALATIONS[event.kind]
            return Outcome(conversation, "escalated", started_at, reason=reason)

    resolved_at = _resolved_at(events)
    if resolved_at is not None:
        return Outcome(conversation, "resolved", started_at, resolved_at=resolved_at)

    turns = [e.at for e in events if e.kind == "turn"]
    if turns and now - turns[-1] >= abandon_after:
        return Outcome(conversation, "abandoned", started_at)
    return Outcome(conversation, "open", started_at)


def _resolved_at(events: list[AnalyticsEvent]) -> datetime | None:
    """When the employee first said it was resolved, by rule 2; None if never."""
    said_so = [e.at for e in events if e.kind == "resolved_by_user"]

    turns = [e for e in events if e.kind == "turn"]
    last_turn = turns[-1].at if turns else None
    asker = turns[-1].user_hash if turns else None
    feedback = [
        e
        for e in events
        if e.kind == "feedback"
        and (last_turn is None or e.at >= last_turn)
        # In a group chat, a colleague's thumbs-up does not settle the need.
        and (asker is None or e.user_hash in (None, asker))
    ]
    # Only the latest word on the last answer counts: up then down is down.
    if last_turn is not None and feedback and (feedback[-1].value or 0) > 0:
        said_so.append(feedback[-1].at)

    return min(said_so, default=None)
