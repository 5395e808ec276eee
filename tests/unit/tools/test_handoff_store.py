"""The hand-off store: one hand-off per conversation, one winner per race, relay
messages in order and held until pickup, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.db import create_engine, upgrade
from tools.handoff.base import Handoff
from tools.handoff.store import (
    MAX_ATTEMPTS,
    add_message,
    agents,
    by_thread,
    due_messages,
    finish,
    get_channel,
    get_handoff,
    live_for_conversation,
    mark_message,
    note_card,
    open_handoff,
    overdue,
    queue,
    set_agent_status,
    set_channel,
    take,
    transcript_of,
)
from tools.settings import load_settings


@pytest.fixture
async def engine(app_database_url: str | None) -> AsyncIterator[AsyncEngine]:
    created = create_engine(load_settings(database_url=app_database_url))
    await upgrade(created)
    yield created
    await created.dispose()


async def _open(
    engine: AsyncEngine, conversation: str = "conv-1", **extra: Any
) -> tuple[Handoff, bool]:
    return await open_handoff(
        engine,
        tenant_id="tenant-1",
        employee_id="oid-alex",
        employee_name="Alex Wilber",
        conversation_id=conversation,
        reason="asked for a person",
        summary="VPN drops every hour",
        category="network",
        tried=["reset the VPN profile"],
        **extra,
    )


async def _say(
    engine: AsyncEngine, handoff: Handoff, key: str, *, to: str = "to_agent"
) -> bool:
    return await add_message(
        engine,
        handoff_id=handoff.handoff_id,
        direction=to,  # type: ignore[arg-type]
        author_id="oid-alex",
        author_name="Alex Wilber",
        text=f"message {key}",
        source_key=key,
    )


async def test_a_conversation_has_one_live_handoff_however_often_it_asks(
    engine: AsyncEngine,
) -> None:
    first, created = await _open(engine)
    again, created_again = await _open(engine)

    assert created and not created_again
    assert again.handoff_id == first.handoff_id
    assert first.handoff_id.startswith("ho_") and len(first.handoff_id) == 27
    assert first.status == "waiting" and first.tried == ["reset the VPN profile"]
    assert await live_for_conversation(engine, "tenant-1", "conv-1") == first


async def test_requests_sent_at_once_make_one_handoff(engine: AsyncEngine) -> None:
    results = await asyncio.gather(*[_open(engine, "conv-race") for _ in range(6)])

    assert sum(created for _, created in results) == 1
    assert len({h.handoff_id for h, _ in results}) == 1
    assert len(await queue(engine, "tenant-1")) == 1


async def test_two_agents_taking_at_once_one_wins(engine: AsyncEngine) -> None:
    handoff, _ = await _open(engine)

    won = await asyncio.gather(
        take(engine, handoff.handoff_id, agent_id="a1", agent_name="Megan"),
        take(engine, handoff.handoff_id, agent_id="a2", agent_name="Lee"),
    )

    assert sorted(won) == [False, True]
    taken = await get_handoff(engine, handoff.handoff_id)
    assert taken is not None and taken.status == "active"
    assert taken.agent_name == ("Megan" if won[0] else "Lee")
    assert taken.taken_at is not None and taken.taken_at.tzinfo is not None


async def test_a_handoff_ends_once_and_only_forward(engine: AsyncEngine) -> None:
    handoff, _ = await _open(engine)

    assert not await finish(engine, handoff.handoff_id, "closed")
    assert await finish(engine, handoff.handoff_id, "withdrawn", note="nobody")
    assert not await finish(engine, handoff.handoff_id, "withdrawn")
    assert not await take(engine, handoff.handoff_id, agent_id="a", agent_name="A")
    with pytest.raises(ValueError, match="returned, closed or withdrawn"):
        await finish(engine, handoff.handoff_id, "active")

    ended = await get_handoff(engine, handoff.handoff_id)
    assert ended is not None and ended.end_note == "nobody"
    assert await live_for_conversation(engine, "tenant-1", "conv-1") is None
    assert (await _open(engine))[1]  # a new request opens a new hand-off


async def test_the_card_thread_finds_its_handoff(engine: AsyncEngine) -> None:
    handoff, _ = await _open(engine)
    thread = "19:agents@thread.tacv2;messageid=1700000000000"

    await note_card(
        engine,
        handoff.handoff_id,
        channel_id="19:agents@thread.tacv2",
        thread_id=thread,
        card_activity_id="1700000000000",
    )

    found = await by_thread(engine, thread)
    assert found is not None and found.handoff_id == handoff.handoff_id
    assert found.card_activity_id == "1700000000000"
    assert await by_thread(engine, "19:other;messageid=1") is None


async def test_a_resent_activity_is_one_message(engine: AsyncEngine) -> None:
    handoff, _ = await _open(engine)

    assert await _say(engine, handoff, "act-1")
    assert not await _say(engine, handoff, "act-1")

    assert [m.text for m in await transcript_of(engine, handoff.handoff_id)] == [
        "message act-1"
    ]


async def test_messages_to_the_agent_wait_for_pickup_then_flow_in_order(
    engine: AsyncEngine,
) -> None:
    handoff, _ = await _open(engine)
    for key in ("a", "b", "c"):
        await _say(engine, handoff, key)

    assert await due_messages(engine) == []

    await take(engine, handoff.handoff_id, agent_id="a1", agent_name="Megan")
    await _say(engine, handoff, "reply-1", to="to_employee")
    await _say(engine, handoff, "reply-2", to="to_employee")
    delivered: list[str] = []
    for _ in range(4):
        due = await due_messages(engine)
        # One per lane at a time, and a claimed message is not handed out twice.
        assert len({(m.handoff_id, m.direction) for m in due}) == len(due)
        assert await due_messages(engine) == []
        for message in due:
            delivered.append(message.text)
            await mark_message(engine, message.seq, delivered=True)

    assert [t for t in delivered if "reply" not in t] == [
        "message a",
        "message b",
        "message c",
    ]
    assert [t for t in delivered if "reply" in t] == [
        "message reply-1",
        "message reply-2",
    ]


async def test_a_failed_send_holds_its_lane_until_it_is_retried(
    engine: AsyncEngine,
) -> None:
    handoff, _ = await _open(engine)
    await take(engine, handoff.handoff_id, agent_id="a1", agent_name="Megan")
    await _say(engine, handoff, "first")
    await _say(engine, handoff, "second")

    [first] = await due_messages(engine)
    await mark_message(engine, first.seq, delivered=False, error="connector 502")

    assert await due_messages(engine) == []
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert [m.text for m in await due_messages(engine, now=later)] == ["message first"]


async def test_a_message_that_keeps_failing_gives_way_to_the_next(
    engine: AsyncEngine,
) -> None:
    handoff, _ = await _open(engine)
    await take(engine, handoff.handoff_id, agent_id="a1", agent_name="Megan")
    await _say(engine, handoff, "doomed")
    await _say(engine, handoff, "next")

    now = datetime.now(UTC)
    for attempt in range(MAX_ATTEMPTS):
        now += timedelta(minutes=5)
        [due] = await due_messages(engine, now=now)
        assert due.text == "message doomed", attempt
        await mark_message(engine, due.seq, delivered=False, error="gone")

    [due] = await due_messages(engine, now=now + timedelta(minutes=5))
    assert due.text == "message next"


async def test_an_expired_lease_makes_a_message_due_again(engine: AsyncEngine) -> None:
    handoff, _ = await _open(engine)
    await take(engine, handoff.handoff_id, agent_id="a1", agent_name="Megan")
    await _say(engine, handoff, "lost")

    [claimed] = await due_messages(engine)
    assert await due_messages(engine) == []
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert [m.seq for m in await due_messages(engine, now=later)] == [claimed.seq]


async def test_the_agents_last_word_reaches_the_employee_after_closing(
    engine: AsyncEngine,
) -> None:
    handoff, _ = await _open(engine)
    await take(engine, handoff.handoff_id, agent_id="a1", agent_name="Megan")
    await _say(engine, handoff, "bye", to="to_employee")
    await _say(engine, handoff, "too-late")
    await finish(engine, handoff.handoff_id, "closed")

    assert [m.text for m in await due_messages(engine)] == ["message bye"]


async def test_overdue_lists_waiting_handoffs_past_their_deadline(
    engine: AsyncEngine,
) -> None:
    now = datetime.now(UTC)
    late, _ = await _open(engine, "conv-late", deadline_at=now - timedelta(minutes=1))
    taken, _ = await _open(engine, "conv-taken", deadline_at=now - timedelta(hours=1))
    await _open(engine, "conv-fresh", deadline_at=now + timedelta(minutes=9))
    await _open(engine, "conv-none")
    await take(engine, taken.handoff_id, agent_id="a1", agent_name="Megan")

    assert [h.handoff_id for h in await overdue(engine, now=now)] == [late.handoff_id]
    later = now + timedelta(minutes=10)
    assert len(await overdue(engine, now=later)) == 2
    assert [h.conversation_id for h in await queue(engine)] == [
        "conv-late",
        "conv-fresh",
        "conv-none",
    ]
    assert await queue(engine, "tenant-2") == []


async def test_agents_and_the_channel_are_remembered_per_tenant(
    engine: AsyncEngine,
) -> None:
    await set_agent_status(
        engine, tenant_id="t1", agent_id="a1", name="Megan", status="available"
    )
    await set_agent_status(
        engine, tenant_id="t1", agent_id="a2", name="Lee", status="available"
    )
    await set_agent_status(
        engine, tenant_id="t1", agent_id="a1", name="Megan B", status="away"
    )
    reference = {"conversation": {"id": "19:agents@thread.tacv2"}, "serviceUrl": "x"}
    await set_channel(
        engine,
        tenant_id="t1",
        channel_id="19:old@thread.tacv2",
        reference={},
        designated_by="a1",
    )
    await set_channel(
        engine,
        tenant_id="t1",
        channel_id="19:agents@thread.tacv2",
        reference=reference,
        designated_by="a2",
    )

    assert await agents(engine, "t1") == [
        ("a2", "Lee", "available"),
        ("a1", "Megan B", "away"),
    ]
    assert await agents(engine, "t2") == []
    assert await get_channel(engine, "t1") == ("19:agents@thread.tacv2", reference)
    assert await get_channel(engine, "t2") is None
