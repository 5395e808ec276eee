"""The directory: people, managers, roles and recovery, embedded or on Microsoft Graph."""

# CONTRACT STUB: the directory work replaces this with the real chooser
# (local directory in the app database, or Microsoft Graph) by settings.
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tools.directory.base import Directory


class _NotYetBuilt:
    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError("the directory backends are being built")


@asynccontextmanager
async def open_directory(settings: Any, engine: Any) -> AsyncIterator[Directory]:
    """Open the configured directory for the process's lifetime."""
    yield _NotYetBuilt()
