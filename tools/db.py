"""The app database: engine factory, migrations, and the bot's small repository.

SQLite (embedded default) runs through ``aiosqlite`` in WAL mode with a busy
timeout; Postgres runs through ``asyncpg``. The schema lives in Alembic
migrations under ``tools/migrations`` and :func:`upgrade` applies them.

Warning:
    SQLite serialises writers. Two processes on one file work (a busy writer
    waits up to :data:`SQLITE_BUSY_TIMEOUT_MS`), but several replicas behind a
    load balancer need Postgres.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tools.errors import BackendUnavailable, ConfigError, InvalidInput
from tools.settings import Settings

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 15_000
"""How long a SQLite writer waits for another one before giving up."""
POSTGRES_CONNECT_TIMEOUT_S = 10.0
MIGRATION_LOCK_TIMEOUT_S = 120.0
"""How long a process waits for another one that is migrating the schema."""
_MIGRATION_LOCK_KEY = 0x4845_4C50  # "HELP": the Postgres advisory lock id
_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

metadata = sa.MetaData()

processed_activities = sa.Table(
    "processed_activities",
    metadata,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_processed_activities_received_at", "received_at"),
)
"""Activity ids already handled (dedupe of Teams re-sends), shared by replicas."""

conversation_references = sa.Table(
    "conversation_references",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("user_object_id", sa.String(256), nullable=False),
    sa.Column("conversation_id", sa.String(512), nullable=False),
    sa.Column("reference", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("unreachable_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint(
        "tenant_id", "user_object_id", "conversation_id", name="uq_conversation_ref"
    ),
)
"""Where to reach a user proactively: the Bot Framework conversation reference."""


def create_engine(settings: Settings) -> AsyncEngine:
    """Create the async engine of the app database.

    Args:
        settings: gives ``app_database_url``.

    Returns:
        An engine; SQLite connections get WAL mode, a busy timeout and
        foreign keys on every connect.
    """
    url = settings.app_database_url
    try:
        if url.startswith("sqlite"):
            engine = create_async_engine(
                url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
            )
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            return engine
        return create_async_engine(
            url,
            pool_pre_ping=True,
            connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT_S},
        )
    except (sa.exc.ArgumentError, ImportError) as exc:
        # Settings check the scheme; this catches what only SQLAlchemy knows.
        raise ConfigError(
            "HELPDESK_DATABASE_URL: SQLAlchemy cannot use this URL "
            f"({type(exc).__name__}); use sqlite:///path/to/helpdesk.db or "
            "postgresql://user:password@host:5432/database"
        ) from exc


def describe(engine: AsyncEngine) -> str:
    """Where the app database is, for messages: ``host:port/db`` or the file.

    Never includes the user or the password.
    """
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    port = url.port or 5432
    return f"{url.host or 'localhost'}:{port}/{url.database or ''}"


def unreachable(engine: AsyncEngine, exc: BaseException) -> BackendUnavailable:
    """The one-line error for an app database that cannot be reached."""
    return BackendUnavailable(
        f"cannot reach the app database at {describe(engine)}: {_reason(exc)}; "
        "check HELPDESK_DATABASE_URL"
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {POSTGRES_CONNECT_TIMEOUT_S:g} s"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig
    # Driver messages name the host, database and user, never the password.
    return " ".join(str(exc).split()) or type(exc).__name__


_CONNECT_ERRORS = (OSError, sa.exc.DBAPIError)


@asynccontextmanager
async def connect(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Open a connection, turning a database that cannot be reached into one error.

    Only the connect step is translated; errors of the statements run on the
    connection reach the caller unchanged.

    Raises:
        BackendUnavailable: the server refuses, does not answer, or the
            database (or the SQLite file) does not exist.
    """
    try:
        conn = await engine.connect().start()
    except _CONNECT_ERRORS as exc:
        raise unreachable(engine, exc) from exc
    try:
        yield conn
    finally:
        await conn.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _alembic_config(connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _run_upgrade(sync_connection: Any, revision: str) -> None:
    before = _heads(sync_connection)
    command.upgrade(_alembic_config(sync_connection), revision)
    after = _heads(sync_connection)
    if after != before:
        logger.info("app database migrated from %s to %s", before or "empty", after)
    else:
        logger.debug("app database already at %s", after)


def _heads(sync_connection: Any) -> str:
    return ",".join(MigrationContext.configure(sync_connection).get_current_heads())


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; safe when several processes start at once.

    Postgres serialises migrators with an advisory lock held for the migration's
    transaction; SQLite with an exclusive file lock beside the database file.

    Raises:
        BackendUnavailable: the database cannot be reached or stays locked.
        InvalidInput: ``revision`` names no migration.
    """
    if engine.dialect.name == "sqlite":
        lock_path = _sqlite_lock_path(engine)
        try:
            lock = await asyncio.wait_for(
                asyncio.to_thread(_acquire_file_lock, lock_path),
                timeout=MIGRATION_LOCK_TIMEOUT_S,
            )
        except TimeoutError as exc:
            raise BackendUnavailable(
                f"app database {describe(engine)} stayed locked by another "
                f"migrating process for {MIGRATION_LOCK_TIMEOUT_S:g} s"
            ) from exc
        except OSError as exc:
            raise unreachable(engine, exc) from exc
        try:
            await _upgrade_in_transaction(engine, revision)
        finally:
            lock.close()  # closing the file releases the lock
        return

    await _upgrade_in_transaction(engine, revision, advisory_lock=True)


async def _upgrade_in_transaction(
    engine: AsyncEngine, revision: str, *, advisory_lock: bool = False
) -> None:
    async with connect(engine) as conn:
        try:
            if advisory_lock:
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": _MIGRATION_LOCK_KEY},
                )
            await conn.run_sync(_run_upgrade, revision)
            await conn.commit()
        except CommandError as exc:
            raise InvalidInput(
                f"cannot upgrade the app database to revision {revision!r}: "
                f"{exc}; use head, or a revision id from tools/migrations/versions"
            ) from exc
        except (OSError, sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise BackendUnavailable(
                f"app database migration failed at {describe(engine)}: "
                f"{_reason(exc)}; check HELPDESK_DATABASE_URL"
            ) from exc


def _sqlite_lock_path(engine: AsyncEngine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return Path(database).with_name(Path(database).name + ".migrate.lock")


def _acquire_file_lock(path: Path | None) -> Any:
    if path is None:
        return _NoLock()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


class _NoLock:
    def close(self) -> None:
        pass


def as_utc(value: datetime) -> datetime:
    """A stored time in UTC: SQLite hands back naive datetimes, and every time
    the app stores is UTC; Postgres hands back aware ones in the session's zone.

    Raises:
        OverflowError: an aware time whose offset pushes it outside years 1 to
            9999 in UTC.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


async def claim_activity(engine: AsyncEngine, key: str) -> bool:
    """Record ``key`` as handled; True only for the first claimant anywhere.

    The unique key makes this atomic across processes and replicas that share
    the database.

    Args:
        engine: the app database.
        key: tenant + conversation + activity id (or another once-only key).

    Returns:
        True when this call inserted the key, False when it was already there.
    """
    try:
        async with engine.begin() as conn:
            await conn.execute(
                processed_activities.insert().values(key=key, received_at=_now())
            )
    except IntegrityError:
        return False
    return True


async def prune_activities(
    engine: AsyncEngine, *, older_than: timedelta, prefix: str = ""
) -> int:
    """Forget handled activity keys older than ``older_than``.

    Args:
        engine: the app database.
        older_than: age past which Teams no longer re-sends (hours suffice).
        prefix: only keys starting with this (keeps once-only markers).

    Returns:
        The number of keys removed.
    """
    cutoff = _now() - older_than
    statement = processed_activities.delete().where(
        processed_activities.c.received_at < cutoff
    )
    if prefix:
        statement = statement.where(processed_activities.c.key.startswith(prefix))
    async with engine.begin() as conn:
        result = await conn.execute(statement)
    return int(result.rowcount or 0)


async def save_reference(
    engine: AsyncEngine,
    *,
    tenant_id: str,
    user_object_id: str,
    conversation_id: str,
    reference: dict[str, Any],
) -> int:
    """Insert or refresh the conversation reference of a user in a conversation.

    A message from the user means the bot can reach them again: the mark of
    an unreachable conversation is cleared, and ticket news that found no
    conversation to go to (parked) becomes due again, in the same
    transaction, so that the next pass of any replica's notifier sends it
    where the user can be reached now (see :mod:`bot.notify`).

    Returns:
        How many parked ticket events became due.
    """
    # Imported here: the ticket tables are defined on this module's metadata.
    from tools.tickets.events import wake_parked

    values = {
        "tenant_id": tenant_id,
        "user_object_id": user_object_id,
        "conversation_id": conversation_id,
        "reference": json.dumps(reference, sort_keys=True),
        "updated_at": _now(),
    }
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(conversation_references).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["tenant_id", "user_object_id", "conversation_id"],
        # A message from the user means the bot can reach them here again.
        set_={
            "reference": values["reference"],
            "updated_at": values["updated_at"],
            "unreachable_at": None,
        },
    )
    async with engine.begin() as conn:
        await conn.execute(statement)
        return await wake_parked(conn, tenant_id=tenant_id, caller_id=user_object_id)


async def mark_unreachable(
    engine: AsyncEngine,
    tenant_id: str,
    user_object_id: str,
    conversation_id: str,
) -> bool:
    """Remember that the bot can no longer post in this conversation.

    Teams answers 403 or 404 once the user removed the app or the bot left
    the chat; proactive messages then skip this reference until the user
    writes here again (:func:`save_reference` clears the mark).

    Returns:
        True when a stored reference was marked.
    """
    table = conversation_references
    statement = (
        table.update()
        .where(table.c.tenant_id == tenant_id)
        .where(table.c.user_object_id == user_object_id)
        .where(table.c.conversation_id == conversation_id)
        .values(unreachable_at=_now())
    )
    async with engine.begin() as conn:
        result = await conn.execute(statement)
    return int(result.rowcount or 0) > 0


async def get_reference(
    engine: AsyncEngine,
    *,
    tenant_id: str,
    user_object_id: str,
    conversation_id: str | None = None,
) -> dict[str, Any] | None:
    """The stored reference, or the user's most recent one without a conversation.

    Returns:
        The reference as Bot Framework JSON, or None when none is stored.
    """
    table = conversation_references
    query = (
        sa.select(table.c.reference)
        .where(table.c.tenant_id == tenant_id)
        .where(table.c.user_object_id == user_object_id)
        .order_by(table.c.updated_at.desc())
        .limit(1)
    )
    if conversation_id is not None:
        query = query.where(table.c.conversation_id == conversation_id)
    async with engine.connect() as conn:
        raw = (await conn.execute(query)).scalar_one_or_none()
    return json.loads(raw) if raw is not None else None


async def ping(conn: AsyncConnection) -> None:
    """Run a trivial query (readiness checks)."""
    await conn.execute(sa.text("SELECT 1"))
