"""Watching registered MCP servers: a server that goes away is marked
unhealthy, and every replica withdraws its tools on its next turn; when it
answers again its tools return.

Run by the bot's background loop; each process checks at most every
:data:`CHECK_EVERY_S` per server. The stored status changes (and the registry
revision with it) only when the health changes, so a steady server costs one
tool listing per interval and no registry rebuild.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from tools.custom import store
from tools.custom.loading import parse
from tools.custom.mcp import check_health
from tools.errors import InvalidInput

logger = logging.getLogger(__name__)

CHECK_EVERY_S = 30.0


class HealthWatch:
    """Checks registered MCP servers; one per process."""

    def __init__(self, services: Any, *, every_s: float = CHECK_EVERY_S) -> None:
        self.services = services
        self.every_s = every_s
        self._checked: dict[str, float] = {}

    async def run_once(self) -> int:
        """Check the servers that are due; returns how many changed health."""
        changed = 0
        now = time.monotonic()
        for row in await store.all_tools(self.services.db):
            if row.kind != "mcp" or not row.enabled:
                continue
            if now - self._checked.get(row.name, -1e9) < self.every_s:
                continue
            self._checked[row.name] = now
            try:
                server = parse(row.source or "").server
            except InvalidInput:
                continue
            if server is None:
                continue
            health = await check_health(server)
            if await store.set_health(
                self.services.db, row.name, healthy=health.ok, note=health.reason
            ):
                changed += 1
                log = logger.info if health.ok else logger.warning
                log(
                    "MCP server %s is now %s %s", row.name, health.status, health.reason
                )
        return changed
