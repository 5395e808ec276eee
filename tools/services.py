"""The back-end services of one process, opened together and closed together.

Built once at start-up from the settings and handed to the agent and the bot.
Each field is an interface with an embedded and a production implementation,
chosen by configuration alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tools.assets.catalog import Catalog
from tools.directory.base import Directory
from tools.errors import ConfigError
from tools.knowledge.base import KnowledgeBackend
from tools.registry import ToolRegistry
from tools.secrets import SecretDrop
from tools.settings import Settings
from tools.tickets.base import TicketSystem

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
    tickets: TicketSystem | None = None
    """The service desk; None only in tests that build services by hand."""
    catalog: Catalog | None = None
    """The asset catalogue (``manifests/catalog.yaml``); None when there is none."""


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

    Raises:
        ConfigError: the data folder cannot be written, or the manifests
            folder holds no tool manifests.
        BackendUnavailable: the app database cannot be reached.
    """
    from tools.builtin import BUILTIN_TOOLS
    from tools.custom.loading import build as build_registered
    from tools.db import create_engine, upgrade
    from tools.directory import open_directory
    from tools.knowledge import open_backend, seed_if_empty
    from tools.tickets import open_tickets

    tools_dir = tool_manifests_dir(settings)
    catalog = load_asset_catalog(settings)
    await asyncio.to_thread(settings.prepare_data_dir)
    engine = create_engine(settings)
    try:
        if migrate:
            await upgrade(engine)
        knowledge = await open_backend(settings)
        try:
            if seed_knowledge:
                await seed_if_empty(knowledge, settings)
            async with (
                open_directory(settings, engine) as directory,
                open_tickets(settings, engine) as tickets,
            ):
                services = Services(
                    settings,
                    engine,
                    knowledge,
                    ToolRegistry(None),
                    directory,
                    tickets=tickets,
                    catalog=catalog,
                )
                services.registry.services = services
                services.registry.load_dir(tools_dir, BUILTIN_TOOLS)
                if catalog is not None:
                    _name_catalogue_items(services.registry, catalog)
                services.registry.loader = lambda row: build_registered(row, services)
                yield services
        finally:
            await knowledge.aclose()
    finally:
        await engine.dispose()


def tool_manifests_dir(settings: Settings) -> Path:
    """The folder of tool manifests, ``HELPDESK_MANIFESTS_DIR/tools``.

    Raises:
        ConfigError: the folder is missing or holds no ``*.yaml`` manifest; a
            bot without tools would start and then help nobody.
    """
    folder = settings.manifests_dir / "tools"
    if not folder.is_dir():
        problem = f"{settings.manifests_dir} has no tools folder"
    elif not any(folder.glob("*.yaml")):
        problem = f"{folder} holds no tool manifests (*.yaml)"
    else:
        return folder
    raise ConfigError(
        f"HELPDESK_MANIFESTS_DIR: {problem}; set it to the folder that holds "
        "tools/ and teams/ (the project's manifests folder), or unset it"
    )


def load_asset_catalog(settings: Settings) -> Catalog | None:
    """The asset catalogue, ``HELPDESK_MANIFESTS_DIR/catalog.yaml``, if there is one.

    Raises:
        ConfigError: the file is there but invalid; the message names the
            item and the field.
    """
    from tools.assets.catalog import load_catalog
    from tools.errors import InvalidInput

    path = settings.manifests_dir / "catalog.yaml"
    if not path.is_file():
        logger.info("no asset catalogue at %s: asset requests are off", path)
        return None
    try:
        return load_catalog(path)
    except InvalidInput as exc:
        raise ConfigError(f"{path}: the asset catalogue is invalid:\n{exc}") from exc


def _name_catalogue_items(registry: ToolRegistry, catalog: Catalog) -> None:
    """Give the request tool one example per catalogue item ("I need Figma"),
    so a request by the item's name reaches it whatever the model."""
    manifest = registry.manifests.get("request_item")
    if manifest is None:
        return
    named = [f"I need {item.name}" for item in catalog.items()]
    named += [f"I need {item.id.replace('-', ' ')}" for item in catalog.items()]
    examples = list(dict.fromkeys([*manifest.examples, *named]))
    registry.register(manifest.model_copy(update={"examples": examples}))
