"""Analytics events: no raw ids or secrets stored, never a failed reply, retention."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.analytics.events import (
    MAX_DETAIL_CHARS,
    alist_events,
    new_event,
    purge_older_than,
    record,
    record_knowledge_gap,
    record_satisfaction,
    record_turn,
)
from tools.analytics.gaps import OTHER, group_gaps
from tools.analytics.tables import analytics_events
from tools.db import create_engine, upgrade
from tools.settings import Settings, load_settings


@pytest.fixture
def settings(app_database_url: str | None) -> Settings:
    return load_settings(database_url=app_database_url)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    settings.prepare_data_dir()
    created = create_engine(settings)
    await upgrade(created)
    yield created
    await created.dispose()


async def _rows(engine: AsyncEngine) -> list[dict[str, object]]:
    async with engine.connect() as conn:
        result = await conn.execute(sa.select(analytics_events))
        return [dict(row) for row in result.mappings()]


async def test_a_row_holds_neither_the_user_id_nor_the_conversation_id(
    engine: AsyncEngine, settings: Settings
) -> None:
    await record_turn(
        engine,
        settings,
        tenant_id="tenant-1",
        conversation_id="19:abc@thread.v2",
        user_id="alex-object-id",
    )

    (row,) = await _rows(engine)
    stored = " ".join(str(v) for v in row.values())

    assert "alex-object-id" not in stored
    assert "19:abc@thread.v2" not in stored
    assert row["kind"] == "turn"


async def test_the_same_conversation_gets_the_same_hash_and_another_a_different_one(
    settings: Settings,
) -> None:
    def conversation(tenant: str, conv: str) -> str:
        event = new_event(settings, "turn", tenant_id=tenant, conversation_id=conv)
        return event.conversation

    assert conversation("t1", "c1") == conversation("t1", "c1")
    assert conversation("t1", "c1") != conversation("t2", "c1")
    assert conversation("t1", "c1") != conversation("t1", "c2")


def test_the_app_password_keys_the_hashes() -> None:
    local = load_settings()
    deployed = load_settings(app_password=SecretStr("s3cret-of-this-bot"))
    other = load_settings(app_password=SecretStr("another-bot"))

    def user(settings: Settings) -> str | None:
        return new_event(
            settings, "turn", tenant_id="t", conversation_id="c", user_id="alex"
        ).user_hash

    assert len({user(local), user(deployed), user(other)}) == 3


async def test_an_unanswered_question_is_stored_redacted_and_cut_short(
    engine: AsyncEngine, settings: Settings
) -> None:
    question = "vpn fails, my password is Summer2024! " + "and more words " * 30

    await record_knowledge_gap(
        engine,
        settings,
        tenant_id="t",
        conversation_id="c",
        user_id="alex",
        question=question,
    )

    (row,) = await _rows(engine)
    detail = str(row["detail"])
    assert "Summer2024" not in detail
    assert "[redacted]" in detail
    assert len(detail) <= MAX_DETAIL_CHARS
    assert detail.startswith("vpn fails")


async def test_a_write_that_fails_is_logged_and_does_not_raise(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.prepare_data_dir()
    engine = create_engine(settings)  # never migrated: the table is missing
    try:
        written = await record(
            engine, new_event(settings, "turn", tenant_id="t", conversation_id="c")
        )
    finally:
        await engine.dispose()

    assert written is False
    assert "analytics event turn lost" in caplog.text


async def test_a_rating_outside_one_to_five_is_dropped(
    engine: AsyncEngine, settings: Settings
) -> None:
    for rating in (0, 6, 4):
        await record_satisfaction(
            engine,
            settings,
            tenant_id="t",
            conversation_id="c",
            user_id="alex",
            rating=rating,
        )

    assert [row["value"] for row in await _rows(engine)] == [4]


async def test_purge_deletes_only_events_past_the_retention(
    engine: AsyncEngine, settings: Settings
) -> None:
    now = datetime.now(UTC)
    for age in (40, 31, 29, 0):
        await record(
            engine,
            new_event(
                settings,
                "turn",
                tenant_id="t",
                conversation_id=f"c{age}",
                at=now - timedelta(days=age),
            ),
        )

    deleted = await purge_older_than(engine, 30, now=now)
    left = await alist_events(engine, since=now - timedelta(days=365))

    assert deleted == 2
    assert len(left) == 2
    with pytest.raises(ValueError, match="1 day or more"):
        await purge_older_than(engine, 0)


def test_gaps_group_under_the_most_shared_word() -> None:
    topics = group_gaps(
        [
            "VPN drops every hour",
            "how do I connect the vpn from a hotel",
            "printer on floor 3 jams",
            "the printers will not print from the vpn",
            "hello?",
        ]
    )

    assert [(t.topic, t.count) for t in topics] == [
        ("vpn", 3),
        ("printer", 1),
        (OTHER, 1),
    ]
    assert topics[0].examples[0] == "the printers will not print from the vpn"
