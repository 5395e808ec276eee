"""The one narrow call the host makes: run a turn for this requester in this thread.

The signatures and the reply types below are what ``bot/`` codes against.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphRecursionError
from langgraph.graph.state import CompiledStateGraph

from agent.checkpoint import open_checkpointer
from agent.citations import apply_citations, passages_by_number
from agent.graph import STEP_LIMIT_REPLY, build_graph
from agent.models import GuardedModel, open_chat_model
from agent.offline import OFFLINE_FLAG
from agent.trimming import cancelled_results
from tools.approvals import ApprovalRequest, DecisionOutcome
from tools.identity import Requester
from tools.secrets import OneTimeSecret
from tools.services import Services
from tools.settings import Settings

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class ResumeReply:
    """The result of a card decision.

    ``outcome`` says whether the decision was taken; only for ``"resumed"`` does
    ``reply`` carry the turn's continuation. For every other outcome the host
    tells the clicker in plain words (already handled, expired, not yours).
    """

    outcome: DecisionOutcome
    reply: TurnReply | None = None


def thread_id_for(requester: Requester, conversation_id: str) -> str:
    """The checkpointer thread of a conversation: tenant plus conversation."""
    return f"{requester.tenant_id}:{conversation_id}"


class Copilot:
    """The compiled graph with its checkpointer, ready to run turns.

    Args:
        graph: the compiled agent graph, with a checkpointer.
        settings: gives the step limit.
        model: the guarded model the graph calls; tells whether it is offline.
    """

    def __init__(
        self, graph: CompiledStateGraph, *, settings: Settings, model: GuardedModel
    ) -> None:
        self.graph = graph
        self.settings = settings
        self.model = model

    async def aresume(
        self,
        *,
        requester: Requester,
        conversation_id: str,
        approval_id: str,
        approve: bool,
        comment: str = "",
        private_chat: bool = False,
    ) -> ResumeReply:
        """Apply a card decision: once, by the right person, while still pending.

        CONTRACT STUB (approvals work fills it in). ``requester`` is whoever
        clicked. The decision is claimed atomically in the app database, so a
        double click, a Teams re-send or another replica gets
        ``"already_decided"`` and nothing runs twice.
        """
        raise NotImplementedError

    async def arun_turn(
        self,
        *,
        requester: Requester,
        conversation_id: str,
        text: str,
        private_chat: bool = False,
    ) -> TurnReply:
        """Run one turn: the employee's ``text`` in ``conversation_id``.

        Never raises for model or tool trouble: those end in a polite reply.
        Raises only for a broken checkpointer (the host apologises and logs).
        """
        config = self.config_for(requester, conversation_id)
        snapshot = await self.graph.aget_state(config)
        history: list[BaseMessage] = list((snapshot.values or {}).get("messages", []))

        human = HumanMessage(content=text, id=str(uuid.uuid4()))
        inputs = {
            "messages": [*cancelled_results(history), human],
            "steps": 0,
            "offline": False,
        }
        try:
            state = await self.graph.ainvoke(inputs, config)
        except GraphRecursionError:
            # The model node ends turns at max_steps; this is the safety net.
            logger.error("turn in %s ran past the recursion limit", conversation_id)
            return TurnReply(text=STEP_LIMIT_REPLY, offline=self.model.is_offline)

        turn = _after(state["messages"], human.id)
        return _reply_from(
            turn, offline=bool(state.get("offline")) or self.model.is_offline
        )

    def config_for(self, requester: Requester, conversation_id: str) -> RunnableConfig:
        """The run config of a turn: its thread, and the requester tools act for.

        Args:
            requester: who the turn acts for (from the activity, never the model).
            conversation_id: the host's conversation id.
        """
        return {
            "configurable": {
                "thread_id": thread_id_for(requester, conversation_id),
                **requester.to_config(),
            },
            # Two graph steps per model call, plus the step-limit reply.
            "recursion_limit": 2 * self.settings.max_steps + 4,
        }


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
        )
        yield Copilot(graph, settings=settings, model=model)


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
