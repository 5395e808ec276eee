"""A scripted stand-in for :class:`agent.runner.Copilot`, for the host's tests.

It answers with the text it was given and a fixed citation, counts its calls,
keeps each thread's history (in a JSON file when given one, so that a thread
survives a restart like a checkpointed graph does), and can be slowed down or
made to fail.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.runner import Citation, TurnReply, thread_id_for
from tools.identity import Requester

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

    @property
    def thread_id(self) -> str:
        return thread_id_for(self.requester, self.conversation_id)


@dataclass
class FakeCopilot:
    """Answers ``Answer #n in this thread: <text> [1]``.

    Attributes:
        delay_s: how long each turn takes.
        fail_with: raised by every turn when set.
        history_file: where thread histories persist (None: memory only).
        cite: include the KB citation.
    """

    delay_s: float = 0.0
    fail_with: BaseException | None = None
    history_file: Path | None = None
    cite: bool = True
    calls: list[Call] = field(default_factory=list)
    threads: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.history_file is not None and self.history_file.exists():
            self.threads = json.loads(self.history_file.read_text("utf-8"))

    async def arun_turn(
        self, *, requester: Requester, conversation_id: str, text: str
    ) -> TurnReply:
        call = Call(requester, conversation_id, text)
        self.calls.append(call)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_with is not None:
            raise self.fail_with
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


def copilot_factory(copilot: FakeCopilot) -> Any:
    """A ``copilot_factory`` for :func:`bot.app.create_app` that yields ``copilot``."""

    @asynccontextmanager
    async def factory(_settings: Any, _services: Any) -> AsyncIterator[FakeCopilot]:
        yield copilot

    return factory
