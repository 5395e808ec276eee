"""Owned background tasks: every task has a name, an owner and a shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

SHUTDOWN_GRACE_S = 20.0
"""How long shutdown waits for running turns before cancelling them."""


class TaskOwner:
    """Keeps running tasks referenced, logs their failures, and closes them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Start ``coro`` as a task named ``name`` that this owner keeps."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "background task %s failed", task.get_name(), exc_info=task.exception()
            )

    def __len__(self) -> int:
        return len(self._tasks)

    async def join(self, wait_s: float | None = None) -> None:
        """Wait for the running tasks (tests and benchmarks use this)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=wait_s)

    async def aclose(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Let running tasks finish within ``grace_s``, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in pending:
            logger.warning("cancelling %s at shutdown", task.get_name())
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace_s)
