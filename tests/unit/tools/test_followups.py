"""After an answer: "Did this fix it?" is answered once, about the latest answer;
the 1-5 card goes at most once per period, and is rated once, by its employee."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.analytics.followups import (
    FIX_WINDOW,
    aanswer_fix,
    aclaim_satisfaction,
    apurge_older_than,
    arate,
    aremember_answer,
    asources_of,
)
from tools.analytics.tables import answers, satisfaction_asks
from tools.db import create_engine, upgrade
from tools.settings import Settings, load_settings

TENANT = "tenant-1"
CHAT = "a:1to1-chat"


@pytest.fixture
def settings(app_database_url: str | None) -> Settings:
    return load_settings(database_url=app_database_url, satisfaction_every_days=30)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    settings.prepare_data_dir()
    created = create_engine(settings)
    await upgrade(created)
    yield created
    await created.dispose()


async def _answer(
    engine: AsyncEngine,
    settings: Settings,
    *,
    asks_fix: bool = True,
    activity_id: str = "msg-1",
    sources: tuple[str, ...] = ("vpn-windows.md", "https://kb.example.com/mfa"),
    conversation_id: str = CHAT,
) -> None:
    await aremember_answer(
        engine,
        settings,
        tenant_id=TENANT,
        conversation_id=conversation_id,
        activity_id=activity_id,
        sources=list(sources),
        asks_fix=asks_fix,
    )


async def _fix(
    engine: AsyncEngine,
    settings: Settings,
    answer: str = "fixed",
    *,
    now: datetime | None = None,
    conversation_id: str = CHAT,
) -> object:
    return await aanswer_fix(
        engine,
        settings,
        tenant_id=TENANT,
        conversation_id=conversation_id,
        answer=answer,  # type: ignore[arg-type]
        now=now,
    )


async def test_the_fix_question_is_answered_once_with_its_articles(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _answer(engine, settings)

    first = await _fix(engine, settings)
    again = await _fix(engine, settings, "not_fixed")

    assert first is not None
    assert first.sources == ("vpn-windows.md", "https://kb.example.com/mfa")  # type: ignore[attr-defined]
    assert again is None, "a second answer must not count twice"
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.select(answers.c.fix_answer))).scalars().all()
    assert stored == ["fixed"]


async def test_only_the_latest_answer_question_is_open(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _answer(engine, settings, activity_id="msg-1")
    await _answer(engine, settings, activity_id="msg-2", asks_fix=False)

    assert await _fix(engine, settings) is None, (
        "a later answer that asked nothing closes the earlier question"
    )


async def test_the_question_closes_after_its_window(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _answer(engine, settings)
    later = datetime.now(UTC) + FIX_WINDOW + timedelta(minutes=1)

    assert await _fix(engine, settings, now=later) is None
    assert await _fix(engine, settings) is not None


async def test_another_conversation_has_no_open_question(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _answer(engine, settings)

    assert await _fix(engine, settings, conversation_id="a:other-chat") is None


async def test_two_replies_at_once_claim_the_question_once(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _answer(engine, settings)

    results = await asyncio.gather(*(_fix(engine, settings) for _ in range(5)))

    assert sum(r is not None for r in results) == 1


async def test_feedback_finds_the_articles_of_the_answer_it_names(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _answer(engine, settings, activity_id="msg-1", sources=("a.md",))
    await _answer(engine, settings, activity_id="msg-2", sources=("b.md", "c.md"))

    assert await asources_of(engine, tenant_id=TENANT, activity_id="msg-1") == ["a.md"]
    assert await asources_of(engine, tenant_id=TENANT, activity_id="msg-2") == [
        "b.md",
        "c.md",
    ]
    assert await asources_of(engine, tenant_id="other", activity_id="msg-1") is None
    assert await asources_of(engine, tenant_id=TENANT, activity_id=None) is None


async def test_no_raw_conversation_id_is_stored(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _answer(engine, settings)
    await aclaim_satisfaction(
        engine,
        settings,
        tenant_id=TENANT,
        user_id="user-object-id",
        conversation_id=CHAT,
        reason="resolved",
    )

    async with engine.connect() as conn:
        rows = [
            *(await conn.execute(sa.select(answers))).all(),
            *(await conn.execute(sa.select(satisfaction_asks))).all(),
        ]
    stored = " ".join(str(value) for row in rows for value in row)
    assert CHAT not in stored and "user-object-id" not in stored


async def _claim(
    engine: AsyncEngine,
    settings: Settings,
    *,
    user: str = "user-1",
    now: datetime | None = None,
) -> str | None:
    return await aclaim_satisfaction(
        engine,
        settings,
        tenant_id=TENANT,
        user_id=user,
        conversation_id=CHAT,
        reason="resolved",
        now=now,
    )


async def test_the_card_goes_at_most_once_per_period(
    engine: AsyncEngine, settings: Settings
) -> None:
    now = datetime.now(UTC)

    first = await _claim(engine, settings, now=now)
    soon = await _claim(engine, settings, now=now + timedelta(days=29))
    other_user = await _claim(engine, settings, user="user-2", now=now)
    next_period = await _claim(engine, settings, now=now + timedelta(days=30))

    assert first is not None and other_user is not None
    assert soon is None
    assert next_period is not None and next_period != first


async def test_two_replicas_claiming_at_once_send_one_card(
    engine: AsyncEngine, settings: Settings
) -> None:
    results = await asyncio.gather(*(_claim(engine, settings) for _ in range(5)))

    assert sum(r is not None for r in results) == 1


async def test_zero_days_switches_the_card_off(app_database_url: str | None) -> None:
    settings = load_settings(database_url=app_database_url, satisfaction_every_days=0)
    settings.prepare_data_dir()
    engine = create_engine(settings)
    await upgrade(engine)
    try:
        assert await _claim(engine, settings) is None
    finally:
        await engine.dispose()


async def test_a_card_is_rated_once_by_its_own_employee(
    engine: AsyncEngine, settings: Settings
) -> None:
    ask = await _claim(engine, settings, user="user-1")
    assert ask is not None

    def rate(user: str, rating: int, ask_id: str = ask) -> object:
        return arate(
            engine,
            settings,
            ask_id=ask_id,
            tenant_id=TENANT,
            user_id=user,
            rating=rating,
        )

    assert await rate("user-2", 1) == "not_yours"
    assert await rate("user-1", 4) == "rated"
    assert await rate("user-1", 1) == "already_rated"
    assert await rate("user-1", 3, ask_id="0" * 32) == "unknown"
    with pytest.raises(ValueError, match="1 to 5"):
        await rate("user-1", 6)

    async with engine.connect() as conn:
        ratings = (await conn.execute(sa.select(satisfaction_asks.c.rating))).all()
    assert [r.rating for r in ratings] == [4]


async def test_retention_forgets_old_answers_and_asks(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _answer(engine, settings)
    await _claim(engine, settings)

    assert await apurge_older_than(engine, datetime.now(UTC) - timedelta(days=1)) == 0
    deleted = await apurge_older_than(engine, datetime.now(UTC) + timedelta(seconds=1))

    assert deleted == 3  # the answer, the ask and the employee's last-asked row
    assert await _fix(engine, settings) is None


async def test_the_daily_purge_forgets_events_answers_and_asks_once_a_day(
    engine: AsyncEngine, settings: Settings
) -> None:
    from tools.analytics import DailyPurge
    from tools.analytics.events import new_event, record

    old = datetime.now(UTC) - timedelta(days=3)
    await record(
        engine,
        new_event(settings, "turn", tenant_id=TENANT, conversation_id=CHAT, at=old),
    )
    await _answer(engine, settings)
    async with engine.begin() as conn:
        await conn.execute(answers.update().values(at=old))
    purge = DailyPurge(engine, days=2)

    first = await purge.run_once()
    await _answer(engine, settings)
    async with engine.begin() as conn:
        await conn.execute(answers.update().values(at=old))
    again = await purge.run_once()

    assert first == 2, "the old event and the old answer"
    assert again == 0, "at most one purge a day"
