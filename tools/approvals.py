"""Approvals: what a side-effecting tool asks before it acts, and who decided.

CONTRACT: the types and signatures here are shared by ``tools/`` (which asks),
``agent/`` (which pauses the graph and resumes it) and ``bot/`` (which shows
the card). The store functions are filled in by the approvals work.

A tool with side effects prepares everything it can without acting (resolve the
person, check roles and limits), then calls ``await ctx.approve(request)``. The
agent records the request, pauses the graph with ``interrupt()``, and the bot
shows a card. The decision comes back once, from the right person, while the
request is still pending; only then does ``ctx.approve`` return and the tool act.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

ApprovalStatus = Literal[
    "pending",  # waiting for the card
    "approved",  # decided yes, tool about to run
    "rejected",  # decided no
    "expired",  # past expires_at, or the employee moved on (T6)
    "done",  # the tool ran and succeeded
    "failed",  # the tool ran and the back end refused or failed
]

DecisionOutcome = Literal[
    "resumed",  # this decision was taken and the graph resumed
    "already_decided",  # a second click, a re-send, another replica: nothing done
    "expired",  # stale card: the request expired or was superseded
    "not_yours",  # clicked by someone other than the approver
    "unknown",  # no such request (forged or foreign card)
]


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """What the employee (or approver) is asked to confirm.

    Attributes:
        approval_id: stable id; the same tool call in the same thread always
            yields the same id (the graph re-runs a node on resume).
        tool: the tool's name.
        title: a short heading for the card, e.g. "Issue a Temporary Access Pass".
        action: exactly what will happen, to whom, in one or two plain sentences.
        facts: (label, value) pairs shown on the card (account, lifetime, reason).
        requester_id: object id of the person who asked.
        subject_id: object id of the person acted on.
        approver_id: object id of the person who must decide (the requester
            for self-service).
        expires_at: aware UTC time after which the card is stale.
    """

    approval_id: str
    tool: str
    title: str
    action: str
    requester_id: str
    subject_id: str
    approver_id: str
    expires_at: datetime
    facts: list[tuple[str, str]] = field(default_factory=list)

    def to_payload(self) -> dict[str, Any]:
        """A JSON-serialisable dict (the interrupt value, the card's source)."""
        data = asdict(self)
        data["expires_at"] = self.expires_at.isoformat()
        data["facts"] = [list(f) for f in self.facts]
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ApprovalRequest:
        return cls(
            approval_id=str(data["approval_id"]),
            tool=str(data["tool"]),
            title=str(data["title"]),
            action=str(data["action"]),
            requester_id=str(data["requester_id"]),
            subject_id=str(data["subject_id"]),
            approver_id=str(data["approver_id"]),
            expires_at=datetime.fromisoformat(str(data["expires_at"])),
            facts=[(str(k), str(v)) for k, v in data.get("facts", [])],
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """The resume value: what the approver chose."""

    approved: bool
    decided_by: str
    comment: str = ""


class ApprovalDenied(Exception):
    """Raised by ``ctx.approve`` when the request was rejected; tools let it
    propagate and the registry answers the model 'the employee declined'."""


# -- storage -------------------------------------------------------------------
# The store functions (record, decide atomically, mark done/failed, expire a
# thread's pending requests) are filled in by the approvals work.

import sqlalchemy as sa  # noqa: E402

from tools.db import metadata  # noqa: E402

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("approval_id", sa.String(64), primary_key=True),
    sa.Column("thread_id", sa.String(640), nullable=False),
    sa.Column("tool", sa.String(64), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("facts", sa.Text, nullable=False),
    sa.Column("requester_id", sa.String(256), nullable=False),
    sa.Column("subject_id", sa.String(256), nullable=False),
    sa.Column("approver_id", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("interrupt_id", sa.String(128), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("decided_by", sa.String(256), nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Index("ix_approvals_thread_status", "thread_id", "status"),
)
"""One row per approval request; status moves only forward, by conditional UPDATE."""
