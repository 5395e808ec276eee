"""The back-end services of one process, opened together and closed together.

Built once at start-up from the settings and handed to the agent and the bot.
Each field is an interface with an embedded and a production implementation,
chosen by configuration alone.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from tools.directory.base import Directory
from tools.knowledge.base import KnowledgeBackend
from tools.registry import ToolRegistry
from tools.secrets import SecretDrop
from tools.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything outside the graph that a turn may touch."""

    settings: Settings
    db: AsyncEngine
    knowledge: KnowledgeBackend
    registry: ToolRegistry
    directory: Directory
    secrets: SecretDrop = field(default_factory=SecretDrop)


@asynccontextmanager
async def open_services(
    settings: Settings, *, migrate: bool = True, seed_knowledge: bool = True
) -> AsyncIterator[Services]:
    """Open the app database, the knowledge backend and the tool registry.

    Args:
        settings: the process settings.
        migrate: bring the app database schema up to date first.
        seed_knowledge: ingest the demo articles when the embedded knowledge
            base is empty (first run).
    """
    from tools.builtin import BUILTIN_TOOLS
    from tools.db import create_engine, upgrade
    from tools.directory import open_directory
    from tools.knowledge import open_backend, seed_if_empty

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings)
    try:
        if migrate:
            await upgrade(engine)
        knowledge = await open_backend(settings)
        try:
            if seed_knowledge:
                await seed_if_empty(knowledge, settings)
            async with open_directory(settings, engine) as directory:
                services = Services(
                    settings, engine, knowledge, ToolRegistry(None), directory
                )
                services.registry.services = services
                services.registry.load_dir(
                    settings.manifests_dir / "tools", BUILTIN_TOOLS
                )
                yield services
        finally:
            await knowledge.aclose()
    finally:
        await engine.dispose()
