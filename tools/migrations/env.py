"""Alembic environment: runs on the connection :func:`tools.db.upgrade` passes in,
or, from the ``alembic`` command line, on an async engine built from the URL."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from tools.db import metadata
from tools.settings import to_async_url

config = context.config


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


def _main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or run `helpdesk db upgrade`")
    asyncio.run(_run_from_url(url))


if context.is_offline_mode():
    raise NotImplementedError("offline (SQL script) migrations are not supported")
_main()
