"""Knowledge search: the contract, the embedded engine, Azure AI Search, ingestion.

:func:`open_backend` picks the backend the settings name; :func:`seed_if_empty`
fills an empty knowledge base with the shipped demo articles on first start,
as the collection ``demo`` (see :mod:`tools.knowledge.collection`).
"""

from __future__ import annotations

import logging

from tools.knowledge.base import KnowledgeBackend
from tools.settings import Settings

logger = logging.getLogger(__name__)

EMBEDDED_FOLDER = "knowledge"
"""The embedded index lives in this folder under ``settings.data_dir``."""


async def open_backend(settings: Settings) -> KnowledgeBackend:
    """Open the knowledge backend that ``settings.knowledge_backend`` names.

    Raises:
        ConfigError: the Azure backend is chosen but not fully configured, or
            the embedded one's data folder cannot be written.
    """
    if settings.knowledge_backend == "azure":
        from tools.knowledge.azure import AzureSearchKnowledge

        return AzureSearchKnowledge.from_settings(settings)

    import asyncio

    from tools.knowledge.embedded import EmbeddedKnowledge

    data_dir = await asyncio.to_thread(settings.prepare_data_dir)
    folder = data_dir / EMBEDDED_FOLDER
    return await asyncio.to_thread(EmbeddedKnowledge, folder)


async def seed_if_empty(backend: KnowledgeBackend, settings: Settings) -> None:
    """Ingest ``settings.kb_seed_dir`` as collection ``demo`` when the knowledge
    base holds nothing.

    A missing seed folder is logged (naming ``HELPDESK_KB_SEED_DIR``) and
    skipped: the product still runs, with an empty knowledge base.
    """
    from tools.knowledge.collection import SEED_COLLECTION
    from tools.knowledge.ingest import ingest_path

    if await backend.acount() > 0:
        return
    seed = settings.kb_seed_dir
    if not seed.is_dir():
        logger.warning(
            "HELPDESK_KB_SEED_DIR: %s is not a folder; starting with an empty "
            "knowledge base (ingest articles with helpdesk kb ingest)",
            seed,
        )
        return
    report = await ingest_path(backend, seed, collection=SEED_COLLECTION)
    logger.info("seeded the knowledge base from %s: %s", seed, report.summary())
