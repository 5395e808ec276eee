"""The approval gate: how a tool's ``ctx.approve`` pauses the graph and resumes.

A side-effecting tool calls ``await ctx.approve(request)``. The hook made here
gives the request a stable id, records it as pending in the app database,
pauses its tool task with ``interrupt()``, and on resume returns the decision
only if the database shows that this very request was claimed by that person.
The model never sees any of it: approvals live in code, not in the prompt.

Warning:
    A paused tool task re-runs from its start on resume, so everything a tool
    does before ``ctx.approve`` must be free of side effects.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.types import Interrupt, StateSnapshot, interrupt
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.approvals import (
    ApprovalRequest,
    Decision,
    get_approval,
    record_pending,
)
from tools.registry import Approver

logger = logging.getLogger(__name__)

APPROVAL_KEY = "helpdesk_approval_id"
"""``response_metadata`` key on a ToolMessage whose tool asked for approval."""


def approval_id_for(thread_id: str, message_id: str, call_id: str) -> str:
    """The stable id of the approval a tool call asks for.

    The same tool call of the same assistant message in the same thread always
    gets the same id, however often its task re-runs; the message id keeps two
    turns apart even when a model repeats a tool call id.
    """
    key = "\x1f".join((thread_id, message_id, call_id)).encode()
    return "apr_" + hashlib.sha256(key).hexdigest()[:40]


def make_approver(
    engine: AsyncEngine,
    *,
    thread_id: str,
    message_id: str,
    call_id: str,
    ttl: timedelta,
    asked: list[str],
) -> Approver:
    """Build the hook one tool task gets under ``tools.registry.APPROVE_KEY``.

    Args:
        engine: the app database holding the approvals table.
        thread_id: the conversation's thread.
        message_id: the assistant message that made the tool call.
        call_id: the tool call's id.
        ttl: longest a card stays valid; a tool may ask for less.
        asked: receives the approval id once the tool asks, so the tool node
            can mark the request done or failed afterwards.
    """
    approval_id = approval_id_for(thread_id, message_id, call_id)

    async def approve(request: ApprovalRequest) -> Decision:
        latest = datetime.now(UTC) + ttl
        expires_at = min(request.expires_at.astimezone(UTC), latest)
        stored = await record_pending(
            engine,
            thread_id=thread_id,
            request=replace(request, approval_id=approval_id, expires_at=expires_at),
        )
        if approval_id not in asked:
            asked.append(approval_id)

        # The stored request, not this run's, goes out: the card shown first
        # and every re-run must agree on the expiry and the wording.
        answer = interrupt(stored.request.to_payload())
        return await _verified(engine, approval_id, answer)

    return approve


async def _verified(engine: AsyncEngine, approval_id: str, answer: Any) -> Decision:
    """Trust a resume value only when the database shows the same decision."""
    refused = Decision(approved=False, decided_by="", approval_id=approval_id)
    if not isinstance(answer, dict) or answer.get("approval_id") != approval_id:
        logger.error(
            "approval %s resumed with a value for another request", approval_id
        )
        return refused

    record = await get_approval(engine, approval_id)
    approved = bool(answer.get("approved"))
    expected = "approved" if approved else "rejected"
    decided_by = str(answer.get("decided_by") or "")
    if record is None or record.status != expected or record.decided_by != decided_by:
        logger.error(
            "approval %s resumed without a matching claim (status %s)",
            approval_id,
            record.status if record else "missing",
        )
        return refused
    return Decision(
        approved=approved,
        decided_by=decided_by,
        comment=str(answer.get("comment") or ""),
        approval_id=approval_id,
        # The card's fields as the claim stored them, never as the resume said.
        values=dict(record.values) if approved else {},
    )


def decision_payload(
    approval_id: str, *, approved: bool, decided_by: str, comment: str
) -> dict[str, Any]:
    """The resume value the runner sends to one interrupt."""
    return {
        "approval_id": approval_id,
        "approved": approved,
        "decided_by": decided_by,
        "comment": comment,
    }


def pending_approvals(
    snapshot: StateSnapshot,
) -> list[tuple[Interrupt, ApprovalRequest]]:
    """The approval interrupts still waiting in a thread, in task order."""
    found: list[tuple[Interrupt, ApprovalRequest]] = []
    for waiting in snapshot.interrupts:
        value = waiting.value
        if isinstance(value, dict) and "approval_id" in value:
            found.append((waiting, ApprovalRequest.from_payload(value)))
    return found
