"""Files waiting for a ticket: kept per thread and person, once, for a day."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.db import create_engine, upgrade
from tools.settings import load_settings
from tools.tickets.pending import (
    MAX_PENDING_FILES,
    PENDING_TTL,
    add_pending_file,
    clear_pending_files,
    describe_size,
    pending_files,
    prune_pending_files,
)

THREAD = "tenant-1:a:chat-1"
NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
async def engine(app_database_url: str | None) -> AsyncIterator[AsyncEngine]:
    settings = load_settings(database_url=app_database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    created = create_engine(settings)
    await upgrade(created)
    yield created
    await created.dispose()


async def _add(engine: AsyncEngine, **changes: Any) -> bool:
    values: dict[str, Any] = {
        "thread_id": THREAD,
        "tenant_id": "tenant-1",
        "user_id": "alex",
        "activity_id": "act-1",
        "position": 0,
        "name": "screenshot.png",
        "content_type": "image/png",
        "data": b"\x89PNG" + b"\0" * 2044,
        "now": NOON,
    } | changes
    return await add_pending_file(engine, **values)


async def test_a_file_waits_for_its_sender_in_its_thread(engine: AsyncEngine) -> None:
    assert await _add(engine)

    [listed] = await pending_files(engine, thread_id=THREAD, user_id="alex", now=NOON)
    [loaded] = await pending_files(
        engine, thread_id=THREAD, user_id="alex", with_data=True, now=NOON
    )
    others = await pending_files(engine, thread_id=THREAD, user_id="dana", now=NOON)
    elsewhere = await pending_files(
        engine, thread_id="t:other", user_id="alex", now=NOON
    )

    assert (listed.name, listed.content_type, listed.size) == (
        "screenshot.png",
        "image/png",
        2048,
    )
    assert listed.data == b""
    assert loaded.data.startswith(b"\x89PNG")
    assert listed.label == "screenshot.png (2 KB)"
    assert listed.created_at == NOON
    assert others == elsewhere == []


async def test_a_re_sent_message_stores_its_files_once(engine: AsyncEngine) -> None:
    first = await _add(engine)
    again = await _add(engine)
    second_file = await _add(engine, position=1, name="second.png")

    files = await pending_files(engine, thread_id=THREAD, user_id="alex", now=NOON)
    assert (first, again, second_file) == (True, False, True)
    assert [f.name for f in files] == ["screenshot.png", "second.png"]


async def test_files_expire_after_a_day(engine: AsyncEngine) -> None:
    await _add(engine)
    later = NOON + PENDING_TTL

    assert (
        await pending_files(engine, thread_id=THREAD, user_id="alex", now=later) == []
    )
    assert await prune_pending_files(engine, now=later) == 1
    assert await prune_pending_files(engine, now=later) == 0


async def test_a_new_file_drops_the_expired_ones(engine: AsyncEngine) -> None:
    await _add(engine, activity_id="old")
    await _add(engine, activity_id="new", now=NOON + timedelta(days=2))

    files = await pending_files(
        engine, thread_id=THREAD, user_id="alex", now=NOON + timedelta(days=2)
    )
    assert await prune_pending_files(engine, now=NOON + timedelta(days=2)) == 0
    assert len(files) == 1


async def test_only_the_newest_files_wait(engine: AsyncEngine) -> None:
    for number in range(MAX_PENDING_FILES + 2):
        await _add(engine, activity_id=f"act-{number}", name=f"s{number}.png")

    files = await pending_files(engine, thread_id=THREAD, user_id="alex", now=NOON)

    assert [f.name for f in files] == [
        f"s{n}.png" for n in range(2, MAX_PENDING_FILES + 2)
    ]


async def test_cleared_files_are_gone(engine: AsyncEngine) -> None:
    await _add(engine)
    await _add(engine, position=1)
    first, second = await pending_files(
        engine, thread_id=THREAD, user_id="alex", now=NOON
    )

    assert await clear_pending_files(engine, [first.id]) == 1
    assert await clear_pending_files(engine, []) == 0
    left = await pending_files(engine, thread_id=THREAD, user_id="alex", now=NOON)
    assert [f.id for f in left] == [second.id]


@pytest.mark.parametrize(
    ("size", "said"),
    [(812, "812 bytes"), (120 * 1024, "120 KB"), (int(2.4 * 1024 * 1024), "2.4 MB")],
)
def test_sizes_read_at_a_glance(size: int, said: str) -> None:
    assert describe_size(size) == said


async def test_a_text_file_waits_without_its_secrets(engine: AsyncEngine) -> None:
    log = b"09:00 login failed for alex, password: Winter2024!\n"
    await _add(engine, name="sync.log", content_type="text/plain", data=log)

    [kept] = await pending_files(
        engine, thread_id=THREAD, user_id="alex", with_data=True, now=NOON
    )

    assert b"Winter2024" not in kept.data
    assert b"[redacted]" in kept.data
