"""One turn at a time per conversation, so two runs never share a thread.

A card click and a new message, or two quick messages, would otherwise run the
graph twice on one checkpoint thread at the same time; the later checkpoint
would silently drop the other's messages.

Warning:
    This orders turns within one process. Across replicas, ordering rests on
    Teams delivering one user's messages one by one; the approval claim in the
    app database still keeps every action to exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class ConversationGate:
    """Per-conversation locks that exist only while someone holds or waits."""

    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _users: dict[str, int] = field(default_factory=dict)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Wait for the conversation's previous turn, then run this one alone."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)
