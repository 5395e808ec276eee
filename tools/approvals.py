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

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
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
class CardField:
    """A value on the card that the person deciding may change before confirming.

    Attributes:
        id: the name the tool reads the value back by.
        label: what the card calls it.
        value: the tool's draft.
        choices: (value, title) pairs; when given, only these values count.
        multiline: a text box rather than a line.
        max_length: longest accepted text; longer input is cut.
        required: an emptied field keeps the draft instead.
    """

    id: str
    label: str
    value: str
    choices: list[tuple[str, str]] = field(default_factory=list)
    multiline: bool = False
    max_length: int = 500
    required: bool = True

    def to_payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["choices"] = [list(c) for c in self.choices]
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> CardField:
        return cls(
            id=str(data["id"]),
            label=str(data["label"]),
            value=str(data.get("value") or ""),
            choices=[(str(v), str(t)) for v, t in data.get("choices") or []],
            multiline=bool(data.get("multiline")),
            max_length=int(data.get("max_length") or 500),
            required=bool(data.get("required", True)),
        )


def clean_values(fields: list[CardField], raw: dict[str, Any]) -> dict[str, str]:
    """The card's values as the tool may use them: one per declared field.

    Anything not declared is dropped; a choice outside its list, an emptied
    required field or a non-string keeps the draft; text is cut to its limit.
    """
    values: dict[str, str] = {}
    for card_field in fields:
        given = raw.get(card_field.id)
        value = card_field.value
        if isinstance(given, str):
            given = given.replace("\r\n", "\n").strip()[: card_field.max_length]
            allowed = {v for v, _ in card_field.choices}
            if card_field.choices and given not in allowed:
                given = None
            if given is not None and (given or not card_field.required):
                value = given
        values[card_field.id] = value
    return values


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
        fields: values the decider may edit on the card (a ticket's draft);
            the tool reads the result from :attr:`Decision.values`.
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
    fields: list[CardField] = field(default_factory=list)

    def to_payload(self) -> dict[str, Any]:
        """A JSON-serialisable dict (the interrupt value, the card's source)."""
        data = asdict(self)
        data["expires_at"] = self.expires_at.isoformat()
        data["facts"] = [list(f) for f in self.facts]
        data["fields"] = [f.to_payload() for f in self.fields]
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
            fields=[CardField.from_payload(f) for f in data.get("fields") or []],
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """The resume value: what the approver chose."""

    approved: bool
    decided_by: str
    comment: str = ""
    approval_id: str = ""
    """The request decided; filled by the agent's hook (tools leave it out)."""
    values: dict[str, str] = field(default_factory=dict)
    """The card's fields as confirmed (see :func:`clean_values`)."""


class ApprovalDenied(Exception):
    """Raised by ``ctx.approve`` when the request was rejected; tools let it
    propagate and the registry answers the model 'the employee declined'."""


# -- storage -------------------------------------------------------------------

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.dialects import postgresql, sqlite  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from tools.db import as_utc, metadata  # noqa: E402

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
    sa.Column("fields", sa.Text, nullable=True),
    sa.Column("decided_values", sa.Text, nullable=True),
    sa.Index("ix_approvals_thread_status", "thread_id", "status"),
)
"""One row per approval request; status moves only forward, by conditional UPDATE."""


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """A stored request with where it stands."""

    request: ApprovalRequest
    thread_id: str
    status: ApprovalStatus
    interrupt_id: str | None = None
    decided_by: str | None = None
    comment: str | None = None
    decided_at: datetime | None = None
    values: dict[str, str] = field(default_factory=dict)
    """The card's fields as confirmed, once decided."""

    def expired_at(self, now: datetime) -> bool:
        """True when the card is stale at ``now`` (an aware datetime)."""
        return self.request.expires_at <= now


async def record_pending(
    engine: AsyncEngine, *, thread_id: str, request: ApprovalRequest
) -> ApprovalRecord:
    """Store ``request`` as pending unless it is already stored; return the row.

    Idempotent: the graph re-runs a paused tool from its start on resume, so
    the same request arrives again and must neither duplicate nor reset the row
    (its status, its expiry) that the first call wrote.

    Args:
        engine: the app database.
        thread_id: the conversation's thread.
        request: the request, with its ``approval_id`` filled in.

    Returns:
        The stored row, as first written or as it stands now.
    """
    values = {
        "approval_id": request.approval_id,
        "thread_id": thread_id,
        "tool": request.tool,
        "title": request.title,
        "action": request.action,
        "facts": json.dumps([list(f) for f in request.facts]),
        "requester_id": request.requester_id,
        "subject_id": request.subject_id,
        "approver_id": request.approver_id,
        "status": "pending",
        "created_at": _utc_now(),
        "expires_at": as_utc(request.expires_at),
        "fields": json.dumps([f.to_payload() for f in request.fields])
        if request.fields
        else None,
    }
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(approvals)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["approval_id"])
    )
    async with engine.begin() as conn:
        await conn.execute(statement)
        row = (
            await conn.execute(
                approvals.select().where(approvals.c.approval_id == request.approval_id)
            )
        ).one()
    return _record(row)


async def get_approval(engine: AsyncEngine, approval_id: str) -> ApprovalRecord | None:
    """The stored request ``approval_id``, or None when there is none."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                approvals.select().where(approvals.c.approval_id == approval_id)
            )
        ).one_or_none()
    return _record(row) if row is not None else None


async def pending_for_thread(
    engine: AsyncEngine, thread_id: str, *, now: datetime | None = None
) -> list[ApprovalRequest]:
    """The thread's requests still waiting for a decision, oldest first.

    A request past its expiry counts as gone even before it is marked expired.
    """
    now = now or _utc_now()
    query = (
        approvals.select()
        .where(approvals.c.thread_id == thread_id)
        .where(approvals.c.status == "pending")
        .order_by(approvals.c.created_at)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    requests = [_record(row).request for row in rows]
    return [r for r in requests if r.expires_at > now]


async def claim_decision(
    engine: AsyncEngine,
    approval_id: str,
    *,
    approved: bool,
    decided_by: str,
    comment: str = "",
    values: dict[str, str] | None = None,
) -> bool:
    """Decide a pending, unexpired request; True only for the one caller that won.

    A single conditional UPDATE, so double clicks, Teams re-sends and replicas
    sharing the database race safely: exactly one of them changes the row.
    ``values`` are the card's fields as submitted; only an approval keeps them,
    cleaned against the request's fields (:func:`clean_values`).
    """
    now = _utc_now()
    decided_values = None
    if approved:
        record = await get_approval(engine, approval_id)
        if record is not None and record.request.fields:
            decided_values = json.dumps(
                clean_values(record.request.fields, values or {})
            )
    statement = (
        approvals.update()
        .where(approvals.c.approval_id == approval_id)
        .where(approvals.c.status == "pending")
        .where(approvals.c.expires_at > now)
        .values(
            status="approved" if approved else "rejected",
            decided_at=now,
            decided_by=decided_by,
            comment=comment or None,
            decided_values=decided_values,
        )
    )
    return await _changed(engine, statement)


async def finish(engine: AsyncEngine, approval_id: str, *, succeeded: bool) -> bool:
    """Move an approved request to ``done`` or ``failed`` after the tool ran."""
    statement = (
        approvals.update()
        .where(approvals.c.approval_id == approval_id)
        .where(approvals.c.status == "approved")
        .values(status="done" if succeeded else "failed")
    )
    return await _changed(engine, statement)


async def expire(engine: AsyncEngine, approval_id: str) -> bool:
    """Mark one request expired if it is still pending; True when it was."""
    statement = (
        approvals.update()
        .where(approvals.c.approval_id == approval_id)
        .where(approvals.c.status == "pending")
        .values(status="expired")
    )
    return await _changed(engine, statement)


async def expire_thread(engine: AsyncEngine, thread_id: str) -> int:
    """Expire every pending request of a thread (the employee moved on).

    Returns:
        How many requests were still pending.
    """
    statement = (
        approvals.update()
        .where(approvals.c.thread_id == thread_id)
        .where(approvals.c.status == "pending")
        .values(status="expired")
    )
    async with engine.begin() as conn:
        result = await conn.execute(statement)
    return int(result.rowcount or 0)


async def note_interrupt(
    engine: AsyncEngine, approval_id: str, interrupt_id: str
) -> None:
    """Remember which graph interrupt waits for a request (for operators)."""
    statement = (
        approvals.update()
        .where(approvals.c.approval_id == approval_id)
        .where(approvals.c.interrupt_id.is_(None))
        .values(interrupt_id=interrupt_id)
    )
    async with engine.begin() as conn:
        await conn.execute(statement)


async def _changed(engine: AsyncEngine, statement: Any) -> bool:
    async with engine.begin() as conn:
        result = await conn.execute(statement)
    return int(result.rowcount or 0) == 1


def _record(row: Any) -> ApprovalRecord:
    request = ApprovalRequest(
        approval_id=row.approval_id,
        tool=row.tool,
        title=row.title,
        action=row.action,
        requester_id=row.requester_id,
        subject_id=row.subject_id,
        approver_id=row.approver_id,
        expires_at=as_utc(row.expires_at),
        facts=[(str(k), str(v)) for k, v in json.loads(row.facts or "[]")],
        fields=[CardField.from_payload(f) for f in json.loads(row.fields or "[]")],
    )
    return ApprovalRecord(
        request=request,
        thread_id=row.thread_id,
        status=row.status,
        interrupt_id=row.interrupt_id,
        decided_by=row.decided_by,
        comment=row.comment,
        decided_at=as_utc(row.decided_at) if row.decided_at is not None else None,
        values=json.loads(row.decided_values) if row.decided_values else {},
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)
