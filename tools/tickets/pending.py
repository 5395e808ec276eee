"""Files an employee sent in a chat, kept in the app database until a ticket takes them.

The bot downloads a screenshot when it arrives, but the ticket it belongs to
may be opened or named only a few messages later, possibly on another replica
or after a restart. So the file waits here, keyed by the conversation's
thread and the person who sent it, and the ticket tools pick it up: they show
it on their approval card and add it to the ticket once confirmed.

A file waits at most :data:`PENDING_TTL`; at most :data:`MAX_PENDING_FILES`
wait per person and thread (the oldest make room). A message re-sent by Teams
stores nothing twice: a file is keyed by its message and its place in it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tools.db import as_utc
from tools.redact import redact
from tools.tickets.tables import pending_attachments

logger = logging.getLogger(__name__)

PENDING_TTL = timedelta(days=1)
"""How long a file waits for a ticket before it is dropped."""
MAX_PENDING_FILES = 10
"""Files one person may have waiting in one thread; older ones make room."""

_t = pending_attachments


@dataclass(frozen=True, slots=True)
class PendingFile:
    """A file waiting for a ticket.

    Attributes:
        id: the row's id, to clear it once it is on a ticket.
        name: the file name as the employee sees it.
        content_type: the checked type (``image/png``, ``application/pdf`` …).
        size: bytes.
        created_at: when it arrived.
        data: the bytes; empty when listed without them.
    """

    id: int
    name: str
    content_type: str
    size: int
    created_at: datetime
    data: bytes = b""

    @property
    def label(self) -> str:
        """How a card shows it: ``screenshot.png (120 KB)``."""
        return f"{self.name} ({describe_size(self.size)})"


def describe_size(size: int) -> str:
    """A size in words a person reads at a glance: ``812 bytes``, ``120 KB``, ``2.4 MB``."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


async def add_pending_file(
    engine: AsyncEngine,
    *,
    thread_id: str,
    tenant_id: str,
    user_id: str,
    activity_id: str,
    position: int,
    name: str,
    content_type: str,
    data: bytes,
    now: datetime | None = None,
) -> bool:
    """Keep one downloaded file for the thread until a ticket tool takes it.

    Also drops files past their time, and this person's oldest waiting files
    beyond :data:`MAX_PENDING_FILES`.

    Args:
        engine: the app database.
        thread_id: the conversation's thread (tenant and conversation).
        tenant_id: the sender's tenant.
        user_id: the sender's object id; only they can put it on a ticket.
        activity_id: the message that carried it.
        position: its place among that message's files.
        name: the file name to show and store.
        content_type: its checked type.
        data: the bytes, already checked for size and type; text is
            redacted before it is stored.
        now: the current time (tests); defaults to the clock.

    Returns:
        True when stored; False when this message's file was stored before
        (Teams re-sent the message).
    """
    now = now or datetime.now(UTC)
    if content_type.startswith("text/"):
        # A pasted log may hold a password; it never waits here, nor reaches
        # a ticket, in the clear.
        data = redact(data.decode("utf-8", errors="replace")).encode("utf-8")
    values = {
        "thread_id": thread_id,
        "tenant_id": tenant_id,
        "user_id": user_id,
        "activity_id": activity_id,
        "position": position,
        "name": name,
        "content_type": content_type,
        "size": len(data),
        "data": data,
        "created_at": now,
        "expires_at": now + PENDING_TTL,
    }
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(_t)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["thread_id", "activity_id", "position"])
    )
    async with engine.begin() as conn:
        await conn.execute(_t.delete().where(_t.c.expires_at <= now))
        stored = int((await conn.execute(statement)).rowcount or 0) == 1
        if stored:
            await _keep_newest(conn, thread_id=thread_id, user_id=user_id)
    return stored


async def _keep_newest(conn: AsyncConnection, *, thread_id: str, user_id: str) -> None:
    mine = (_t.c.thread_id == thread_id, _t.c.user_id == user_id)
    keep = (
        (
            await conn.execute(
                sa.select(_t.c.id)
                .where(*mine)
                .order_by(_t.c.id.desc())
                .limit(MAX_PENDING_FILES)
            )
        )
        .scalars()
        .all()
    )
    result = await conn.execute(_t.delete().where(*mine, _t.c.id.not_in(list(keep))))
    if result.rowcount:
        logger.info("dropped %d older waiting file(s) in a thread", result.rowcount)


async def pending_files(
    engine: AsyncEngine,
    *,
    thread_id: str,
    user_id: str,
    with_data: bool = False,
    now: datetime | None = None,
) -> list[PendingFile]:
    """The files this person sent in this thread that wait for a ticket, oldest first.

    Args:
        engine: the app database.
        thread_id: the conversation's thread.
        user_id: the sender's object id.
        with_data: also read the bytes (to attach them); a card needs only
            names and sizes.
        now: the current time (tests); files past their time are left out.
    """
    now = now or datetime.now(UTC)
    columns = [_t.c.id, _t.c.name, _t.c.content_type, _t.c.size, _t.c.created_at]
    if with_data:
        columns.append(_t.c.data)
    query = (
        sa.select(*columns)
        .where(
            _t.c.thread_id == thread_id,
            _t.c.user_id == user_id,
            _t.c.expires_at > now,
        )
        .order_by(_t.c.id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        PendingFile(
            id=int(row.id),
            name=row.name,
            content_type=row.content_type,
            size=int(row.size),
            created_at=as_utc(row.created_at),
            data=bytes(row.data) if with_data else b"",
        )
        for row in rows
    ]


async def clear_pending_files(engine: AsyncEngine, ids: Sequence[int]) -> int:
    """Forget files that are on a ticket now (or can never be); returns how many."""
    if not ids:
        return 0
    async with engine.begin() as conn:
        result = await conn.execute(_t.delete().where(_t.c.id.in_(list(ids))))
    return int(result.rowcount or 0)


async def prune_pending_files(
    engine: AsyncEngine, *, now: datetime | None = None
) -> int:
    """Drop every file past its time; returns how many were dropped."""
    now = now or datetime.now(UTC)
    async with engine.begin() as conn:
        result = await conn.execute(_t.delete().where(_t.c.expires_at <= now))
    return int(result.rowcount or 0)
