"""The conversation checkpointer: SQLite in the data folder, or Postgres.

The choice follows ``settings.database_url``: a Postgres URL puts checkpoints
in that database (shared by every replica); anything else keeps them in
``{data_dir}/checkpoints.db``.

Warning:
    SQLite serves one machine. WAL and a busy timeout let several processes
    on it share the file, but replicas behind a load balancer need Postgres.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from tools.settings import Settings

logger = logging.getLogger(__name__)

SQLITE_FILE = "checkpoints.db"
SQLITE_BUSY_TIMEOUT_MS = 5000
POSTGRES_POOL_MAX = 10
POSTGRES_CONNECT_TIMEOUT_S = 10.0


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[BaseCheckpointSaver]:
    """Open the checkpointer the settings call for, with its tables set up.

    Args:
        settings: ``database_url`` (Postgres or not) and ``data_dir``.

    Yields:
        An async checkpointer; its connections close when the block exits.
    """
    url = settings.database_url or ""
    if url.startswith(("postgresql", "postgres:")):
        async with _open_postgres(_plain_postgres_url(url)) as saver:
            yield saver
    else:
        async with _open_sqlite(settings) as saver:
            yield saver


@asynccontextmanager
async def _open_sqlite(settings: Settings) -> AsyncIterator[AsyncSqliteSaver]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / SQLITE_FILE
    async with aiosqlite.connect(path) as conn:
        await conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        logger.info("checkpoints in SQLite at %s", path)
        yield saver


@asynccontextmanager
async def _open_postgres(url: str) -> AsyncIterator[AsyncPostgresSaver]:
    # autocommit and dict rows are what the saver expects; no prepared
    # statements, so a transaction-mode pgbouncer in front is safe.
    pool = AsyncConnectionPool(
        conninfo=url,
        min_size=1,
        max_size=POSTGRES_POOL_MAX,
        timeout=POSTGRES_CONNECT_TIMEOUT_S,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
    )
    await pool.open(wait=True, timeout=POSTGRES_CONNECT_TIMEOUT_S)
    try:
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        # Replicas starting together would race on CREATE TABLE (a unique
        # violation in pg_type): one sets up while the others wait.
        async with pool.connection() as lock:
            await _take_setup_lock(lock)
            try:
                await saver.setup()
            finally:
                await lock.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK_KEY,))
        logger.info("checkpoints in Postgres")
        yield saver
    finally:
        await pool.close()


SETUP_LOCK_TIMEOUT_S = 120.0
_SETUP_LOCK_KEY = 0x4845_4C51
"""Postgres advisory lock of the checkpointer's set-up (the app database's
migrations use the key before it)."""


async def _take_setup_lock(conn: Any) -> None:
    """Take the set-up lock by polling, never by a blocking wait.

    The saver's set-up builds indexes ``CONCURRENTLY``, which waits for every
    running statement to end; a replica blocked in ``pg_advisory_lock`` would
    be one, and the two would wait for each other forever.
    """
    deadline = asyncio.get_running_loop().time() + SETUP_LOCK_TIMEOUT_S
    while True:
        cursor = await conn.execute(
            "SELECT pg_try_advisory_lock(%s) AS taken", (_SETUP_LOCK_KEY,)
        )
        row = await cursor.fetchone()
        if row and row["taken"]:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(
                "another replica has been setting up the checkpoint tables for "
                f"{SETUP_LOCK_TIMEOUT_S:.0f} s; check it, or the database's locks"
            )
        await asyncio.sleep(0.2)


def _plain_postgres_url(url: str) -> str:
    """Drop a SQLAlchemy driver suffix (``postgresql+asyncpg://``) for psycopg."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql{sep}{rest}" if scheme.startswith("postgres") else url
