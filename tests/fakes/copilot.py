"""A scripted stand-in for :class:`agent.runner.Copilot`, for the host's tests.

It answers with the text it was given and a fixed citation, counts its calls,
keeps each thread's history (in a JSON file when given one, so that a thread
survives a restart like a checkpointed graph does), and can be slowed down or
made to fail.

Texts listed in ``plans`` ask for an approval instead: the request is written
to the real approvals table (so that the host can redraw it), and ``aresume``
claims the decision with a conditional UPDATE, like the agent does, and then
"acts" by appending to ``acted``. A new turn in a thread expires the thread's
pending requests (the employee moved on, field case T6).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.runner import Citation, ResumeReply, TurnReply, thread_id_for
from tools.approvals import ApprovalRequest, approvals
from tools.identity import Requester
from tools.secrets import OneTimeSecret, SecretValue

KB_CITATION = Citation(
    position=1,
    title="Fix VPN connection problems",
    source="https://kb.example.com/vpn",
    snippet="Restart the VPN client, then sign in again with your work account.",
)


@dataclass
class Call:
    requester: Requester
    conversation_id: str
    text: str
    private_chat: bool = False

    @property
    def thread_id(self) -> str:
        return thread_id_for(self.requester, self.conversation_id)


@dataclass(frozen=True)
class Plan:
    """What the fake asks to confirm when it sees a planned text.

    Attributes:
        title, action: the card's heading and sentence.
        approver_id: who must decide (None: the requester).
        subject_id: who is acted on (None: the requester).
        secret: a one-time secret to hand out after approval, if any.
        lifetime: how long the card stays valid.
        count: how many requests one turn asks for.
    """

    title: str = "Issue a Temporary Access Pass"
    action: str = "Create a one-time Temporary Access Pass for your account."
    approver_id: str | None = None
    subject_id: str | None = None
    secret: str | None = None
    lifetime: timedelta = timedelta(minutes=15)
    count: int = 1


@dataclass
class Decided:
    """One action the fake performed after an approval (or a rejection)."""

    approval_id: str
    approved: bool
    decided_by: str
    comment: str


@dataclass
class FakeCopilot:
    """Answers ``Answer #n in this thread: <text> [1]``.

    Attributes:
        delay_s: how long each turn takes.
        fail_with: raised by every turn when set.
        history_file: where thread histories persist (None: memory only).
        cite: include the KB citation.
        plans: texts that ask for an approval, and what they ask.
        engine: the app database (set by :func:`copilot_factory`).
    """

    delay_s: float = 0.0
    fail_with: BaseException | None = None
    history_file: Path | None = None
    cite: bool = True
    plans: dict[str, Plan] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    threads: dict[str, list[str]] = field(default_factory=dict)
    resumes: list[dict[str, Any]] = field(default_factory=list)
    acted: list[Decided] = field(default_factory=list)
    engine: AsyncEngine | None = None

    def __post_init__(self) -> None:
        if self.history_file is not None and self.history_file.exists():
            self.threads = json.loads(self.history_file.read_text("utf-8"))
        self._plan_of: dict[str, Plan] = {}

    async def arun_turn(
        self,
        *,
        requester: Requester,
        conversation_id: str,
        text: str,
        private_chat: bool = False,
    ) -> TurnReply:
        call = Call(requester, conversation_id, text, private_chat)
        self.calls.append(call)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_with is not None:
            raise self.fail_with
        await self._expire_pending(call.thread_id)
        plan = self.plans.get(text)
        if plan is not None:
            requests = [
                await self._ask(plan, requester, call.thread_id)
                for _ in range(plan.count)
            ]
            return TurnReply(text="I can do that once you confirm.", approvals=requests)

        history = self.threads.setdefault(call.thread_id, [])
        history.append(text)
        if self.history_file is not None:
            self.history_file.write_text(json.dumps(self.threads), "utf-8")
        if not self.cite:
            return TurnReply(text=f"Answer #{len(history)} in this thread: {text}")
        return TurnReply(
            text=f"Answer #{len(history)} in this thread: {text} [1]",
            citations=[KB_CITATION],
        )

    async def aresume(
        self,
        *,
        requester: Requester,
        conversation_id: str,
        approval_id: str,
        approve: bool,
        comment: str = "",
        private_chat: bool = False,
        values: dict[str, str] | None = None,
    ) -> ResumeReply:
        self.resumes.append(
            {
                "requester": requester,
                "conversation_id": conversation_id,
                "approval_id": approval_id,
                "approve": approve,
                "comment": comment,
                "private_chat": private_chat,
                "values": values or {},
            }
        )
        engine = self._engine()
        thread_id = thread_id_for(requester, conversation_id)
        query = sa.select(approvals).where(approvals.c.approval_id == approval_id)
        async with engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None or row["thread_id"] != thread_id:
            return ResumeReply("unknown")
        if row["approver_id"] != requester.object_id:
            return ResumeReply("not_yours")
        if row["status"] == "expired":
            return ResumeReply("expired")
        expires_at = row["expires_at"].replace(tzinfo=UTC)
        now = datetime.now(UTC)
        if row["status"] == "pending" and expires_at <= now:
            await self._set_status(approval_id, "pending", "expired")
            return ResumeReply("expired")

        status = "approved" if approve else "rejected"
        claimed = await self._set_status(
            approval_id, "pending", status, decided_by=requester.object_id, now=now
        )
        if not claimed:
            return ResumeReply("already_decided")
        self.acted.append(Decided(approval_id, approve, requester.object_id, comment))
        if not approve:
            return ResumeReply("resumed", TurnReply(text="OK, I cancelled that."))

        plan = self._plan_of[approval_id]
        secrets = []
        if plan.secret is not None:
            secrets.append(
                OneTimeSecret(
                    label="Temporary Access Pass",
                    value=SecretValue(plan.secret),
                    subject_id=row["subject_id"],
                    expires_at=now + timedelta(hours=1),
                    instructions="Sign in with it at https://aka.ms/mysecurityinfo",
                )
            )
        return ResumeReply(
            "resumed", TurnReply(text="Done: the pass is ready.", secrets=secrets)
        )

    def _engine(self) -> AsyncEngine:
        assert self.engine is not None, "start the fake through copilot_factory"
        return self.engine

    async def _ask(
        self, plan: Plan, requester: Requester, thread_id: str
    ) -> ApprovalRequest:
        now = datetime.now(UTC)
        request = ApprovalRequest(
            approval_id=uuid.uuid4().hex,
            tool="issue_temporary_access_pass",
            title=plan.title,
            action=plan.action,
            requester_id=requester.object_id,
            subject_id=plan.subject_id or requester.object_id,
            approver_id=plan.approver_id or requester.object_id,
            expires_at=now + plan.lifetime,
            facts=[("Account", plan.subject_id or requester.object_id)],
        )
        self._plan_of[request.approval_id] = plan
        async with self._engine().begin() as conn:
            await conn.execute(
                approvals.insert().values(
                    approval_id=request.approval_id,
                    thread_id=thread_id,
                    tool=request.tool,
                    title=request.title,
                    action=request.action,
                    facts=json.dumps([list(f) for f in request.facts]),
                    requester_id=request.requester_id,
                    subject_id=request.subject_id,
                    approver_id=request.approver_id,
                    status="pending",
                    created_at=now,
                    expires_at=request.expires_at,
                )
            )
        return request

    async def _expire_pending(self, thread_id: str) -> None:
        if self.engine is None:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                approvals.update()
                .where(approvals.c.thread_id == thread_id)
                .where(approvals.c.status == "pending")
                .values(status="expired")
            )

    async def _set_status(
        self,
        approval_id: str,
        old: str,
        new: str,
        *,
        decided_by: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        values: dict[str, Any] = {"status": new}
        if decided_by is not None:
            values.update(decided_by=decided_by, decided_at=now)
        async with self._engine().begin() as conn:
            result = await conn.execute(
                approvals.update()
                .where(approvals.c.approval_id == approval_id)
                .where(approvals.c.status == old)
                .values(**values)
            )
        return bool(result.rowcount)


def copilot_factory(copilot: FakeCopilot) -> Any:
    """A ``copilot_factory`` for :func:`bot.app.create_app` that yields ``copilot``."""

    @asynccontextmanager
    async def factory(_settings: Any, services: Any) -> AsyncIterator[FakeCopilot]:
        copilot.engine = services.db
        yield copilot

    return factory
