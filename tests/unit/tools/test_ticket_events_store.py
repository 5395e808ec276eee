"""The ticket events store: times it cannot hold in UTC, parking and waking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.db import create_engine, save_reference, upgrade
from tools.settings import load_settings
from tools.tickets.base import TicketEvent
from tools.tickets.events import (
    claim_due,
    event_status,
    get_event,
    record_event,
    settle,
)

_WEST = timezone(-timedelta(hours=23, minutes=59))
_EAST = timezone(timedelta(hours=23, minutes=59))


@pytest.fixture
async def engine(app_database_url: str | None) -> AsyncIterator[AsyncEngine]:
    created = create_engine(load_settings(database_url=app_database_url))
    await upgrade(created)
    yield created
    await created.dispose()


def _event(event_id: str, *, at: datetime | None = None) -> TicketEvent:
    return TicketEvent(
        event_id=event_id,
        kind="resolved",
        reference="INC0001001",
        number="INC0001001",
        caller_id="oid-alex",
        tenant_id="tenant-1",
        text="Replaced the VPN profile.",
        conversation_id="conv-1",
        at=at,
    )


@pytest.mark.parametrize(
    "at",
    [
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=_WEST),
        datetime(1, 1, 1, tzinfo=_EAST),
    ],
    ids=["past-9999-in-utc", "before-year-1-in-utc"],
)
async def test_a_time_with_no_utc_equivalent_is_stored_as_the_recording_time(
    engine: AsyncEngine, at: datetime
) -> None:
    before = datetime.now(UTC)

    stored = await record_event(engine, _event("e-1", at=at))
    event = await get_event(engine, "e-1")

    assert stored is True
    assert event is not None and event.at is not None
    assert before - timedelta(seconds=1) <= event.at <= datetime.now(UTC)


async def test_a_time_with_an_offset_is_kept_as_the_same_moment(
    engine: AsyncEngine,
) -> None:
    at = datetime(2026, 3, 2, 16, 30, tzinfo=timezone(timedelta(hours=2)))

    await record_event(engine, _event("e-1", at=at))
    event = await get_event(engine, "e-1")

    assert event is not None
    assert event.at == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


async def test_a_muted_event_is_kept_but_never_claimed(engine: AsyncEngine) -> None:
    assert await record_event(engine, _event("e-1"), muted=True)

    assert await claim_due(engine) == []
    assert await event_status(engine, "e-1") == "muted"
    assert await record_event(engine, _event("e-1")) is False  # a replay


async def test_a_parked_event_waits_for_the_caller_to_write_again(
    engine: AsyncEngine,
) -> None:
    await record_event(engine, _event("e-1"))
    [due] = await claim_due(engine)
    await settle(engine, "e-1", "parked", error="no conversation")
    later = datetime.now(UTC) + timedelta(days=1)

    still_parked = await claim_due(engine, now=later)
    woken = await save_reference(
        engine,
        tenant_id="tenant-1",
        user_object_id="oid-alex",
        conversation_id="conv-2",
        reference={"conversation": {"id": "conv-2"}},
    )
    [again] = await claim_due(engine)

    assert still_parked == []
    assert woken == 1
    assert again.event.event_id == due.event.event_id
    assert again.attempts == 1


async def test_someone_elses_message_does_not_wake_the_news(
    engine: AsyncEngine,
) -> None:
    await record_event(engine, _event("e-1"))
    await claim_due(engine)
    await settle(engine, "e-1", "parked")

    woken = [
        await save_reference(
            engine,
            tenant_id=tenant,
            user_object_id=user,
            conversation_id="conv-9",
            reference={},
        )
        for tenant, user in [("tenant-1", "oid-beth"), ("tenant-2", "oid-alex")]
    ]

    assert woken == [0, 0]
    assert await event_status(engine, "e-1") == "parked"
