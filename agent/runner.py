"""The one narrow call the host makes: run a turn for this requester in this thread.

CONTRACT STUB: the agent layer fills in the body; the signatures and the reply
types below are what ``bot/`` codes against and must stay as they are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tools.identity import Requester
from tools.services import Services
from tools.settings import Settings


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


def thread_id_for(requester: Requester, conversation_id: str) -> str:
    """The checkpointer thread of a conversation: tenant plus conversation."""
    return f"{requester.tenant_id}:{conversation_id}"


class Copilot:
    """The compiled graph with its checkpointer, ready to run turns."""

    async def arun_turn(
        self, *, requester: Requester, conversation_id: str, text: str
    ) -> TurnReply:
        """Run one turn: the employee's ``text`` in ``conversation_id``.

        Never raises for model or tool trouble: those end in a polite reply.
        Raises only for a broken checkpointer (the host apologises and logs).
        """
        raise NotImplementedError


@asynccontextmanager
async def open_copilot(settings: Settings, services: Services) -> AsyncIterator[Copilot]:
    """Open the checkpointer and the model, compile the graph, and yield a Copilot."""
    raise NotImplementedError
    yield Copilot()
