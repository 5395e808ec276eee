"""Approvals on the real checkpointers and app databases, SQLite and Postgres.

Two Copilot instances on the same databases stand in for two replicas.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack

import psycopg
import pytest
import sqlalchemy as sa
from fakes.agent_tools import make_services
from langchain_core.messages import ToolMessage

from agent.checkpoint import SQLITE_FILE
from agent.runner import open_copilot
from tools.db import create_engine, upgrade
from tools.identity import Requester
from tools.settings import load_settings


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request, tmp_path):
    if request.param == "sqlite":
        return load_settings(data_dir=tmp_path / "data")
    url = request.getfixturevalue("postgres_url")
    return load_settings(data_dir=tmp_path / "data", database_url=url)


@pytest.fixture
def requester():
    # A fresh tenant per test keeps thread ids apart on the shared database.
    return Requester(object_id="u-1", tenant_id=f"t-{uuid.uuid4()}", name="Ana")


async def _services(stack: AsyncExitStack, settings):
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings)
    stack.push_async_callback(engine.dispose)
    await upgrade(engine)
    return make_services(settings, db=engine, recovery=True)


async def _turn(copilot, requester, text):
    return await copilot.arun_turn(
        requester=requester, conversation_id="conv", text=text, private_chat=True
    )


async def _decide(copilot, requester, approval_id, approve=True):
    return await copilot.aresume(
        requester=requester,
        conversation_id="conv",
        approval_id=approval_id,
        approve=approve,
        private_chat=True,
    )


async def test_approval_survives_a_restart_and_acts_once(settings, requester):
    async with AsyncExitStack() as stack:
        services = await _services(stack, settings)
        async with open_copilot(settings, services) as copilot:
            paused = await _turn(copilot, requester, "I lost my phone")
        approval_id = paused.approvals[0].approval_id

        async with open_copilot(settings, services) as copilot:
            done = await _decide(copilot, requester, approval_id)
            again = await _decide(copilot, requester, approval_id)

    assert done.outcome == "resumed"
    assert done.reply.text.startswith("All sign-in sessions were revoked.")
    assert again.outcome == "already_decided"
    assert [a.tool for a in services.acted] == ["revoke_sessions"]


async def test_two_replicas_racing_resume_once(settings, requester):
    async with AsyncExitStack() as stack:
        first_services = await _services(stack, settings)
        second_services = await _services(stack, settings)
        first = await stack.enter_async_context(open_copilot(settings, first_services))
        second = await stack.enter_async_context(
            open_copilot(settings, second_services)
        )
        paused = await _turn(first, requester, "I lost my phone")
        approval_id = paused.approvals[0].approval_id

        results = await asyncio.gather(
            _decide(first, requester, approval_id),
            _decide(second, requester, approval_id),
            _decide(second, requester, approval_id),
        )

    assert sorted(r.outcome for r in results) == [
        "already_decided",
        "already_decided",
        "resumed",
    ]
    assert len(first_services.acted) + len(second_services.acted) == 1


async def test_walking_away_leaves_a_healthy_thread(settings, requester):
    async with AsyncExitStack() as stack:
        services = await _services(stack, settings)
        copilot = await stack.enter_async_context(open_copilot(settings, services))
        paused = await _turn(copilot, requester, "I lost my phone")

        answer = await _turn(
            copilot, requester, "How do I connect to the VPN on Windows?"
        )
        late = await _decide(copilot, requester, paused.approvals[0].approval_id)
        again = await _turn(copilot, requester, "I lost my phone")
        state = await copilot.graph.aget_state(copilot.config_for(requester, "conv"))

    assert "GlobalConnect" in answer.text
    assert late.outcome == "expired"
    assert len(again.approvals) == 1
    assert again.approvals[0].approval_id != paused.approvals[0].approval_id
    assert services.acted == []
    messages = state.values["messages"]
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    calls = [c["id"] for m in messages if m.type == "ai" for c in m.tool_calls]
    # Only the newest call, still waiting for its card, has no result yet.
    assert [c for c in calls if c not in answered] == [calls[-1]]


async def test_a_secret_reaches_the_reply_once_and_no_store(settings, requester):
    async with AsyncExitStack() as stack:
        services = await _services(stack, settings)
        copilot = await stack.enter_async_context(open_copilot(settings, services))
        paused = await _turn(
            copilot, requester, "I'm locked out and need a temporary access pass"
        )
        result = await _decide(copilot, requester, paused.approvals[0].approval_id)
        await _turn(copilot, requester, "thanks")
        value = result.reply.secrets[0].value.reveal()

        stored = await _everything_stored(settings, services.db)

    assert len(result.reply.secrets) == 1
    assert value.encode() not in stored
    assert paused.approvals[0].approval_id.encode() in stored  # the search works


async def _everything_stored(settings, engine) -> bytes:
    """Every byte of the checkpoints and of the app database's tables."""
    chunks: list[bytes] = []
    async with engine.connect() as conn:
        for table in ("approvals", "audit_events"):
            rows = (await conn.execute(sa.text(f"SELECT * FROM {table}"))).all()
            chunks.append(repr(rows).encode())
    if settings.database_url is None:
        folder = settings.data_dir
        for name in (
            SQLITE_FILE,
            f"{SQLITE_FILE}-wal",
            "helpdesk.db",
            "helpdesk.db-wal",
        ):
            path = folder / name
            if path.exists():
                chunks.append(path.read_bytes())
        return b"\n".join(chunks)

    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            cursor = await conn.execute(f"SELECT * FROM {table}")
            for row in await cursor.fetchall():
                for cell in row:
                    chunks.append(
                        bytes(cell)
                        if isinstance(cell, (bytes, memoryview))
                        else repr(cell).encode()
                    )
    return b"\n".join(chunks)
