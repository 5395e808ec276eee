"""The directory: people, managers, roles and recovery, embedded or on Microsoft Graph."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tools.directory.base import Directory
from tools.settings import Settings

logger = logging.getLogger(__name__)


@asynccontextmanager
async def open_directory(
    settings: Settings, engine: AsyncEngine, *, credential: Any = None
) -> AsyncIterator[Directory]:
    """Open the configured directory for the process's lifetime.

    The local directory is seeded from ``HELPDESK_DIRECTORY_SEED_FILE`` when it
    is empty (first start).

    Args:
        settings: chooses the backend (``HELPDESK_DIRECTORY_BACKEND``).
        engine: the app database (the local directory lives in it).
        credential: for Graph, a credential to use instead of the app's client
            secret (tests, managed identity).
    """
    directory: Directory
    if settings.directory_backend == "graph":
        from tools.directory.graph import GraphDirectory

        if credential is None:
            from azure.identity.aio import ClientSecretCredential

            secret = settings.graph_secret
            credential = ClientSecretCredential(
                str(settings.graph_tenant),
                str(settings.graph_client),
                secret.get_secret_value() if secret else "",
            )
        directory = GraphDirectory(
            credential,
            base_url=settings.graph_base_url,
            timeout_s=settings.graph_timeout_s,
            helpdesk_role_names=settings.helpdesk_role_names,
        )
    else:
        from tools.directory.local import LocalDirectory

        local = LocalDirectory(engine)
        await local.aseed_if_empty(settings.directory_seed_file)
        directory = local
    try:
        yield directory
    finally:
        await directory.aclose()
