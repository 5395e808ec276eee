"""The background loop every replica runs: ticket deliveries and ticket news.

Every ``HELPDESK_NOTIFY_POLL_S`` seconds (sooner after :meth:`BackgroundJobs.kick`)
it runs its steps in order: the ticket system's outbox
(:meth:`tools.tickets.base.OutboxWork.arun_due`, ServiceNow only), then the
:class:`bot.notify.Notifier`, so that a ticket that just got its number is
announced in the same pass. Each step claims its rows with a lease, so all
replicas can run this loop at once. A failing step is logged and the loop goes
on; shutdown lets the current pass finish for a moment, then cancels it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)

STEP_TIMEOUT_S = 120.0
"""A step that takes longer is abandoned for this pass (its leases run out)."""
STOP_GRACE_S = 10.0
"""How long shutdown waits for a pass in progress before cancelling it."""
_JITTER = 0.1
"""Replicas started together drift apart by up to this share of the interval."""

Step = Callable[[], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Job:
    """One step of the loop: a name for the logs and what to run."""

    name: str
    run: Step


class BackgroundJobs:
    """Runs ``jobs`` one after the other, every ``interval_s`` seconds.

    Args:
        jobs: the steps, in order.
        interval_s: seconds between two passes.
    """

    def __init__(self, jobs: Sequence[Job], *, interval_s: float) -> None:
        self.jobs = list(jobs)
        self.interval_s = interval_s
        self.passes = 0
        """Completed passes (tests wait on it)."""
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._passed = asyncio.Condition()

    def start(self) -> None:
        """Start the loop as a named task owned by this object."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="background-jobs")

    def kick(self) -> None:
        """Run the next pass now (a turn or webhook just raised an event)."""
        self._wake.set()

    async def run_once(self) -> dict[str, int]:
        """One pass over every job; failures are logged, never raised.

        Returns:
            What each job reported (how many rows it delivered), by name;
            a failed job is left out.
        """
        done: dict[str, int] = {}
        for job in self.jobs:
            try:
                async with asyncio.timeout(STEP_TIMEOUT_S):
                    done[job.name] = await job.run()
            except Exception:
                logger.exception("background job %s failed; trying again", job.name)
        return done

    async def wait_for_passes(self, count: int, *, wait_s: float = 10.0) -> None:
        """Wait until ``count`` passes have completed (tests).

        Raises:
            TimeoutError: fewer completed within ``wait_s`` seconds.
        """
        async with asyncio.timeout(wait_s), self._passed:
            await self._passed.wait_for(lambda: self.passes >= count)

    async def aclose(self) -> None:
        """Stop the loop: let a pass in progress finish briefly, then cancel it."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=STOP_GRACE_S)
        if not done:
            logger.warning("cancelling the background jobs at shutdown")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            done = await self.run_once()
            if any(done.values()):
                logger.debug("background pass: %s", done)
            self.passes += 1
            async with self._passed:
                self._passed.notify_all()
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._pause_s()):
                    await self._wake.wait()

    def _pause_s(self) -> float:
        spread = self.interval_s * _JITTER
        return max(0.0, self.interval_s + random.uniform(-spread, spread))
