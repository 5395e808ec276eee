"""The one narrow call the host makes: run a turn, or resume it with a decision.

The signatures and the reply types below are what ``bot/`` codes against.

A turn that reaches a tool needing approval pauses; its reply lists the
pending requests (one card each). A card's decision comes back through
:meth:`Copilot.aresume`, which claims it in the app database first, so that
exactly one click, by the right person, while the request is pending, resumes
the graph. A new message while requests wait expires them and moves on (T6).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphRecursionError
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, StateSnapshot
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.approvals import (
    APPROVAL_KEY,
    decision_payload,
    pending_approvals,
)
from agent.checkpoint import open_checkpointer
from agent.citations import apply_citations, passages_by_number, snippet
from agent.graph import STEP_LIMIT_REPLY, build_graph
from agent.models import GuardedModel, open_chat_model
from agent.offline import OFFLINE_FLAG, for_employee
from agent.transcript import HELPDESK_ORIGIN, ORIGIN_KEY
from agent.trimming import cancelled_results
from tools.approvals import (
    ApprovalRecord,
    ApprovalRequest,
    DecisionOutcome,
    claim_decision,
    expire,
    expire_thread,
    get_approval,
    note_interrupt,
)
from tools.identity import Requester
from tools.registry import PRIVATE_CHAT_KEY
from tools.secrets import OneTimeSecret
from tools.services import Services
from tools.settings import Settings

logger = logging.getLogger(__name__)

CONFIRM_LINE = "Please confirm on the card below."


@dataclass(frozen=True, slots=True)
class Citation:
    """A source the answer cites as ``[position]`` in its text."""

    position: int
    title: str
    source: str
    """URL when the article has one, else its file name."""
    snippet: str
    """A short excerpt (at most ~300 characters) shown in the citation pop-up."""

    @property
    def url(self) -> str | None:
        return self.source if self.source.startswith(("http://", "https://")) else None


@dataclass(frozen=True, slots=True)
class TurnReply:
    """What the host shows the employee after a turn."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    ai_generated: bool = True
    """Written by a model (true also for the offline model); Teams labels it."""
    offline: bool = False
    """Answered by the offline model (none configured, or the configured one down)."""
    approvals: list[ApprovalRequest] = field(default_factory=list)
    """Requests now waiting for a decision: the host shows one card each."""
    secrets: list[OneTimeSecret] = field(default_factory=list)
    """One-time secrets to show once, privately, then forget. Never log these."""
    searched: bool = False
    """The knowledge base was searched in this turn: with no citations, the
    question is one it could not answer (a knowledge gap)."""


@dataclass(frozen=True, slots=True)
class ResumeReply:
    """The result of a card decision.

    ``outcome`` says whether the decision was taken; only for ``"resumed"`` does
    ``reply`` carry the turn's continuation. For every other outcome the host
    tells the clicker in plain words (already handled, expired, not yours).
    """

    outcome: DecisionOutcome
    reply: TurnReply | None = None


SEARCH_TOOL = "search_knowledge"


def thread_id_for(requester: Requester, conversation_id: str) -> str:
    """The checkpointer thread of a conversation: tenant plus conversation."""
    return f"{requester.tenant_id}:{conversation_id}"


class Copilot:
    """The compiled graph with its checkpointer, ready to run turns.

    Args:
        graph: the compiled agent graph, with a checkpointer.
        settings: gives the step limit.
        model: the guarded model the graph calls; tells whether it is offline.
        services: the process's services: ``db`` holds the approvals,
            ``secrets`` the one-time secrets tools hand over. None (tests of
            the bare graph) means no approvals and no secrets.
    """

    def __init__(
        self,
        graph: CompiledStateGraph,
        *,
        settings: Settings,
        model: GuardedModel,
        services: Any = None,
    ) -> None:
        self.graph = graph
        self.settings = settings
        self.model = model
        self.services = services

    @property
    def _db(self) -> AsyncEngine | None:
        return getattr(self.services, "db", None)

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
        """Apply a card decision: once, by the right person, while still pending.

        ``requester`` is whoever clicked. The decision is claimed atomically in
        the app database, so a double click, a Teams re-send or another replica
        gets ``"already_decided"`` and nothing runs twice.

        Args:
            requester: the person who clicked, from the activity.
            conversation_id: the conversation the card was clicked in.
            approval_id: the request the card shows.
            approve: yes or no.
            comment: what the approver typed, if anything.
            private_chat: the click comes from a 1:1 chat (secrets may be shown).
            values: the card's editable fields as submitted (a ticket's draft);
                only the request's own fields are kept.

        Returns:
            The outcome, and for ``"resumed"`` the continuation of the turn.

        Raises:
            Only for a broken checkpointer or app database (the host apologises).
        """
        db = self._db
        thread_id = thread_id_for(requester, conversation_id)
        record = await get_approval(db, approval_id) if db is not None else None
        if record is None or record.thread_id != thread_id:
            logger.warning("decision for unknown approval in %s", conversation_id)
            return ResumeReply("unknown")
        if record.status != "pending":
            return ResumeReply(_settled_outcome(record))
        assert db is not None

        config = self.config_for(requester, conversation_id, private_chat=private_chat)
        snapshot = await self.graph.aget_state(config)
        waiting = next(
            (i for i, r in pending_approvals(snapshot) if r.approval_id == approval_id),
            None,
        )
        if waiting is None or record.expired_at(datetime.now(UTC)):
            await expire(db, approval_id)
            return ResumeReply(await self._outcome_now(db, approval_id))
        if requester.object_id != record.request.approver_id:
            logger.warning(
                "approval %s clicked by %s, not its approver",
                approval_id,
                requester.object_id,
            )
            return ResumeReply("not_yours")

        won = await claim_decision(
            db,
            approval_id,
            approved=approve,
            decided_by=requester.object_id,
            comment=comment,
            values=values,
        )
        if not won:
            return ResumeReply(await self._outcome_now(db, approval_id))
        logger.info(
            "approval %s %s by its approver",
            approval_id,
            "approved" if approve else "rejected",
        )

        # Tools act for the person who asked; the approver only decides.
        actor = requester
        if record.request.requester_id != requester.object_id:
            # TODO(approvers): resolve the original requester (name, roles)
            # from the directory; until then they act with no roles at all.
            actor = Requester(
                object_id=record.request.requester_id, tenant_id=requester.tenant_id
            )
        run_config = self.config_for(actor, conversation_id, private_chat=private_chat)
        payload = decision_payload(
            approval_id,
            approved=approve,
            decided_by=requester.object_id,
            comment=comment,
        )
        try:
            await self.graph.ainvoke(Command(resume={waiting.id: payload}), run_config)
        except GraphRecursionError:
            logger.error("resumed turn in %s ran past the recursion limit", thread_id)
            reply = TurnReply(
                text=STEP_LIMIT_REPLY,
                offline=self.model.is_offline,
                secrets=self._take_secrets(thread_id),
            )
            return ResumeReply("resumed", reply)

        reply = await self._reply_after_run(run_config, thread_id, resumed=record)
        return ResumeReply("resumed", reply)

    async def arun_turn(
        self,
        *,
        requester: Requester,
        conversation_id: str,
        text: str,
        private_chat: bool = False,
        from_helpdesk: bool = False,
    ) -> TurnReply:
        """Run one turn: the employee's ``text`` in ``conversation_id``.

        When approvals from an earlier turn still wait, the employee has moved
        on: they expire (their cards answer so), actions that were already
        approved and ran keep their results, and the rest are recorded as
        cancelled so that the model never sees a call without its result.

        Args:
            requester: who the turn acts for (from the activity, never the model).
            conversation_id: the host's conversation id.
            text: the employee's message.
            private_chat: the message comes from a 1:1 chat with the requester.
            from_helpdesk: ``text`` is the help desk's own instruction for the
                employee's conversation (a withdrawn hand-off's ticket), not
                something the employee said: transcripts and drafts leave it
                out.

        Returns:
            The reply; its ``approvals`` list the cards to show, its ``secrets``
            what to show once, privately.

        Never raises for model or tool trouble: those end in a polite reply.
        Raises only for a broken checkpointer (the host apologises and logs).
        """
        config = self.config_for(requester, conversation_id, private_chat=private_chat)
        thread_id = thread_id_for(requester, conversation_id)
        snapshot = await self.graph.aget_state(config)
        history: list[BaseMessage] = list((snapshot.values or {}).get("messages", []))

        carried: list[BaseMessage] = []
        if snapshot.next:
            # New input discards the paused step, with the results of the tool
            # tasks that did finish in it: carry those over explicitly.
            carried = _finished_results(snapshot)
            if self._db is not None:
                expired = await expire_thread(self._db, thread_id)
                if expired:
                    logger.info(
                        "expired %d pending approval(s) in %s", expired, thread_id
                    )

        human = HumanMessage(
            content=text,
            id=str(uuid.uuid4()),
            additional_kwargs={ORIGIN_KEY: HELPDESK_ORIGIN} if from_helpdesk else {},
        )
        inputs = {
            "messages": [*carried, *cancelled_results([*history, *carried]), human],
            "steps": 0,
            "offline": False,
        }
        try:
            await self.graph.ainvoke(inputs, config)
        except GraphRecursionError:
            # The model node ends turns at max_steps; this is the safety net.
            logger.error("turn in %s ran past the recursion limit", conversation_id)
            return TurnReply(
                text=STEP_LIMIT_REPLY,
                offline=self.model.is_offline,
                secrets=self._take_secrets(thread_id),
            )

        return await self._reply_after_run(config, thread_id, human_id=human.id)

    async def anote_employee_words(
        self, *, requester: Requester, conversation_id: str, lines: Sequence[str]
    ) -> None:
        """Add what the employee wrote outside a turn (to a person, while a
        hand-off waited) to the conversation, so that a ticket drafted from it
        carries those words too. No model runs."""
        if not lines:
            return
        config = self.config_for(requester, conversation_id)
        snapshot = await self.graph.aget_state(config)
        if snapshot.next:
            return  # a paused step: leave the thread as it is
        messages = [HumanMessage(content=line, id=str(uuid.uuid4())) for line in lines]
        await self.graph.aupdate_state(config, {"messages": messages}, as_node="model")

    def config_for(
        self, requester: Requester, conversation_id: str, *, private_chat: bool = False
    ) -> RunnableConfig:
        """The run config of a turn: its thread, and the requester tools act for.

        Args:
            requester: who the turn acts for (from the activity, never the model).
            conversation_id: the host's conversation id.
            private_chat: the turn comes from a 1:1 chat with the requester.
        """
        return {
            "configurable": {
                "thread_id": thread_id_for(requester, conversation_id),
                PRIVATE_CHAT_KEY: private_chat,
                **requester.to_config(),
            },
            # Two graph steps per model call, plus the step-limit reply.
            "recursion_limit": 2 * self.settings.max_steps + 4,
        }

    async def _reply_after_run(
        self,
        config: RunnableConfig,
        thread_id: str,
        *,
        human_id: str | None = None,
        resumed: ApprovalRecord | None = None,
    ) -> TurnReply:
        snapshot = await self.graph.aget_state(config)
        messages: list[BaseMessage] = list((snapshot.values or {}).get("messages", []))
        pending = pending_approvals(snapshot)
        secrets = self._take_secrets(thread_id)
        offline = bool((snapshot.values or {}).get("offline")) or self.model.is_offline
        if human_id is None:
            human_id = next(
                (m.id for m in reversed(messages) if isinstance(m, HumanMessage)), None
            )
        turn = _after(messages, human_id)
        searched = any(
            isinstance(m, ToolMessage) and m.name == SEARCH_TOOL for m in turn
        )

        if pending:
            if self._db is not None:
                for waiting, request in pending:
                    await note_interrupt(self._db, request.approval_id, waiting.id)
            approvals = [request for _, request in pending]
            finished = _result_for(snapshot, resumed) if resumed else None
            if resumed is not None and finished is not None:
                text = _partial_text(resumed, finished, approvals)
            else:
                text = _confirm_text(turn)
            return TurnReply(
                text=text,
                approvals=approvals,
                secrets=secrets,
                offline=offline,
                searched=searched,
            )

        reply = _reply_from(turn, offline=offline)
        return dataclasses.replace(reply, secrets=secrets, searched=searched)

    async def _outcome_now(self, db: AsyncEngine, approval_id: str) -> DecisionOutcome:
        # Another click, replica or a new message got there first: say which.
        record = await get_approval(db, approval_id)
        if record is None:
            return "unknown"
        if record.status == "pending":
            # Only the expiry can have stopped the claim of a pending request.
            await expire(db, approval_id)
            return "expired"
        return _settled_outcome(record)

    def _take_secrets(self, thread_id: str) -> list[OneTimeSecret]:
        drop = getattr(self.services, "secrets", None)
        return drop.take(thread_id) if drop is not None else []


@asynccontextmanager
async def open_copilot(
    settings: Settings, services: Services
) -> AsyncIterator[Copilot]:
    """Open the checkpointer and the model, compile the graph, and yield a Copilot."""
    async with (
        open_checkpointer(settings) as checkpointer,
        open_chat_model(settings) as model,
    ):
        graph = build_graph(
            model=model,
            registry=services.registry,
            settings=settings,
            checkpointer=checkpointer,
            approvals_db=getattr(services, "db", None),
        )
        yield Copilot(graph, settings=settings, model=model, services=services)


def _after(
    messages: Sequence[BaseMessage], message_id: str | None
) -> list[BaseMessage]:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].id == message_id:
            return list(messages[index + 1 :])
    return list(messages[-1:])


def _reply_from(turn: Sequence[BaseMessage], *, offline: bool) -> TurnReply:
    answer = next(
        (m for m in reversed(turn) if isinstance(m, AIMessage) and not m.tool_calls),
        None,
    )
    if answer is None:
        return TurnReply(text=STEP_LIMIT_REPLY, offline=offline)

    text, cited = apply_citations(_text_of(answer), passages_by_number(turn))
    citations = [
        Citation(position=c.position, title=c.title, source=c.source, snippet=c.snippet)
        for c in cited
    ]
    offline = offline or bool(answer.response_metadata.get(OFFLINE_FLAG))
    return TurnReply(text=text, citations=citations, offline=offline)


def _text_of(message: AIMessage) -> str:
    content: Any = message.content
    if isinstance(content, str):
        return content
    return "".join(
        part if isinstance(part, str) else str(part.get("text", "")) for part in content
    )


def _settled_outcome(record: ApprovalRecord) -> DecisionOutcome:
    return "expired" if record.status == "expired" else "already_decided"


def _finished_results(snapshot: StateSnapshot) -> list[BaseMessage]:
    """ToolMessages of the tool tasks that finished in a step still paused."""
    results: list[BaseMessage] = []
    for task in snapshot.tasks:
        if isinstance(task.result, dict):
            results.extend(
                m for m in task.result.get("messages", []) if isinstance(m, ToolMessage)
            )
    return results


def _result_for(snapshot: StateSnapshot, record: ApprovalRecord) -> ToolMessage | None:
    for message in _finished_results(snapshot):
        if message.response_metadata.get(APPROVAL_KEY) == record.request.approval_id:
            assert isinstance(message, ToolMessage)
            return message
    return None


def _confirm_text(turn: Sequence[BaseMessage]) -> str:
    asking = next(
        (m for m in reversed(turn) if isinstance(m, AIMessage) and m.tool_calls), None
    )
    said = _text_of(asking).strip() if asking is not None else ""
    return f"{said}\n\n{CONFIRM_LINE}" if said else CONFIRM_LINE


def _partial_text(
    record: ApprovalRecord, result: ToolMessage, waiting: Sequence[ApprovalRequest]
) -> str:
    title = record.request.title
    artifact = result.artifact if isinstance(result.artifact, dict) else {}
    told = snippet(for_employee(result), 300)
    if artifact.get("declined"):
        first = f"OK, I did not go ahead with: {title}. Nothing was changed."
    elif result.status == "error" or artifact.get("error"):
        first = f"{title} did not work. {told}".strip()
    else:
        first = told
    if len(waiting) == 1:
        rest = f"Still waiting for your confirmation: {waiting[0].title}."
    else:
        titles = "; ".join(r.title for r in waiting)
        rest = f"Still waiting for your confirmation: {titles}."
    return f"{first}\n\n{rest}"
