"""The hand-off tool: pass the conversation to a person from IT support.

Asking for a person is its own confirmation, so the tool shows no card. Inside
the agents' hours it opens a hand-off (once per conversation) with a summary,
what was tried and the redacted transcript; the bot then posts it to the
agents' channel (or, in ``hub`` mode, to the contact centre) and relays the
chat. Outside the hours, or before anyone designated the agents' channel, it
opens nothing: it says when agents are back and fails with ``escalate`` set, so
that a ticket is offered instead.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.analytics import count_escalation
from tools.audit import AuditEvent, AuditOutcome, arecord
from tools.conversation import Conversation
from tools.errors import ToolError
from tools.handoff import store
from tools.handoff.hours import describe_opening, next_opening, open_now
from tools.redact import clean_for_ticket as redact
from tools.registry import USER_MESSAGE_KEY, ToolContext, ToolResult, conversation_of
from tools.tickets.base import CATEGORIES
from tools.tickets.drafting import categorise, problem_lines

logger = logging.getLogger(__name__)

TOOL = "handoff_to_person"
REASONS = ("asked", "frustrated", "repeated_failure", "topic")
"""Why the conversation goes to a person: the employee asked for one, is
clearly frustrated, the copilot failed repeatedly, or the topic must reach a
person (``HELPDESK_HANDOFF_TOPICS``)."""
SUMMARY_MAX = 500
_NAMES_SHOWN = 3
_FRUSTRATED = re.compile(
    r"\b(useless|frustrat\w*|fed up|ridiculous|waste of (my )?time|not helping|"
    r"annoy\w*|angry|sick of|tried everything|nothing works)\b|!{2,}",
    re.IGNORECASE,
)
_OFFER = (
    "A ticket with our conversation reaches them instead, so that they pick it up then."
)


async def handoff_to_person(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Open a live hand-off to IT support, or say when agents are back.

    Raises:
        ToolError: nobody can take it now (outside hours, no agents' channel,
            no conversation to hand off); ``escalate`` is set so a ticket is
            offered, and the user message says when agents are back.
    """
    settings = ctx.services.settings
    engine = ctx.services.db
    requester = ctx.requester
    conversation = ctx.conversation or Conversation()
    conversation_id = conversation.conversation_id or conversation_of(ctx.thread_id)
    if not conversation_id:
        raise ToolError(
            "handoff_to_person ran outside a conversation",
            user_message="I can only pass a chat to IT support from Teams. " + _OFFER,
        )

    now = datetime.now(UTC)
    unavailable = await _unavailable(ctx, now)
    if unavailable is not None:
        await _audit(ctx, "refused", unavailable.args[0])
        raise unavailable

    lines = problem_lines(conversation)
    reason = _reason(args, conversation, settings.handoff_topics)
    summary = _summary(args, lines, who=requester.name or "The employee")
    category = str(args.get("category") or "").lower()
    if category not in CATEGORIES:
        category = categorise(" ".join([summary, *lines]))
    handoff, created = await store.open_handoff(
        engine,
        tenant_id=requester.tenant_id,
        employee_id=requester.object_id,
        employee_name=requester.name or requester.upn or requester.object_id,
        conversation_id=conversation_id,
        reason=reason,
        summary=summary,
        category=category,
        tried=conversation.tried,
        transcript=conversation.transcript(),
        deadline_at=now + timedelta(minutes=settings.handoff_pickup_minutes),
    )
    if created:
        await _audit(ctx, "success", f"hand-off {handoff.handoff_id} ({reason})")
        await count_escalation(
            ctx.services,
            "handoff_requested",
            tenant_id=requester.tenant_id,
            conversation_id=conversation_id,
            user_id=requester.object_id,
            reason=reason,
        )

    message = await _promise(ctx, created=created)
    return ToolResult(
        content=f"Hand-off {handoff.handoff_id} is waiting for a person from IT "
        "support. Tell the user exactly this and nothing more: " + message,
        artifact={"handoff": handoff.handoff_id, USER_MESSAGE_KEY: message},
    )


async def _unavailable(ctx: ToolContext, now: datetime) -> ToolError | None:
    """Why nobody can take a hand-off now, as the error to raise; None if they can."""
    settings = ctx.services.settings
    if not open_now(settings, now):
        opening = next_opening(settings, now)
        back = (
            f"they are back {describe_opening(settings, opening)}"
            if opening is not None
            else "I don't know when they are back"
        )
        return ToolError(
            f"outside the agents' hours ({settings.handoff_hours}, "
            f"{settings.handoff_timezone}); next opening {opening}",
            user_message=f"Nobody from IT support is available right now; {back}. "
            + _OFFER,
            escalate=True,
        )
    if settings.handoff_mode == "teams":
        channel = await store.get_channel(ctx.services.db, ctx.requester.tenant_id)
        if channel is None:
            logger.warning(
                "hand-off asked in tenant %s but no agents' channel is designated",
                ctx.requester.tenant_id,
            )
            return ToolError(
                f"no agents' channel designated for tenant {ctx.requester.tenant_id}",
                user_message="Live chat with IT support is not set up here yet. "
                + _OFFER,
                escalate=True,
            )
    return None


async def _promise(ctx: ToolContext, *, created: bool) -> str:
    """Who will pick up and roughly when, in one or two sentences."""
    minutes = ctx.services.settings.handoff_pickup_minutes
    available = [
        name
        for _, name, status in await store.agents(
            ctx.services.db, ctx.requester.tenant_id
        )
        if status == "available"
    ]
    if not available:
        who = "Someone from the team will pick it up"
    elif len(available) <= _NAMES_SHOWN:
        names = available[0]
        if len(available) > 1:
            names = ", ".join(available[:-1]) + " and " + available[-1]
        verb = "is" if len(available) == 1 else "are"
        who = f"{names} {verb} available"
    else:
        who = f"{len(available)} agents are available"
    lead = (
        "I've asked the IT support team to take over this chat."
        if created
        else "You're already waiting for the IT support team."
    )
    return (
        f"{lead} {who}, usually within {minutes} minute{'' if minutes == 1 else 's'}. "
        "You can keep writing "
        "here; they will see it."
    )


def _reason(args: dict[str, Any], conversation: Conversation, topics: list[str]) -> str:
    """The reason for the agents' card: a listed topic wins over what the model
    said; with no reason given, frustration in the employee's last words."""
    said = " ".join(conversation.employee_lines[-3:]).lower()
    topic = next((t for t in topics if t.lower() in said), None)
    if topic:
        return f"topic: {topic}"
    reason = str(args.get("reason") or "").lower()
    if reason in REASONS:
        return reason
    last = conversation.employee_lines[-1:] or [""]
    return "frustrated" if _FRUSTRATED.search(last[0]) else "asked"


def _summary(args: dict[str, Any], lines: list[str], *, who: str) -> str:
    text = " ".join(str(args.get("summary") or "").split())
    if not text:
        text = " / ".join(lines) if lines else f"{who} asked to talk to a person."
    text = redact(text)
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


async def _audit(ctx: ToolContext, outcome: AuditOutcome, detail: str) -> None:
    """Record the hand-off; the registry audits only tools with side effects."""
    requester = ctx.requester
    event = AuditEvent(
        at=datetime.now(UTC),
        tenant_id=requester.tenant_id,
        actor_id=requester.object_id,
        subject_id=requester.object_id,
        tool=TOOL,
        action="hand off to a person",
        outcome=outcome,
        detail=detail[:500],
    )
    try:
        await arecord(ctx.services.db, event)
    except Exception:
        logger.exception("%s: could not write the audit record", TOOL)
