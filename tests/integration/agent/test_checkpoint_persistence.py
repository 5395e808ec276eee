"""A conversation survives closing and reopening the checkpointer, on both backends."""

from __future__ import annotations

import uuid

import pytest
from fakes.agent_tools import make_services
from langchain_core.messages import AIMessage, HumanMessage

from agent.checkpoint import open_checkpointer
from agent.runner import open_copilot
from agent.trimming import CANCELLED_RESULT
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


async def test_conversation_continues_after_reopening(settings, requester):
    services = make_services(settings)

    async with open_copilot(settings, services) as copilot:
        first = await copilot.arun_turn(
            requester=requester,
            conversation_id="conv",
            text="How do I connect to the VPN on Windows?",
        )
    async with open_copilot(settings, services) as copilot:
        await copilot.arun_turn(
            requester=requester, conversation_id="conv", text="thanks"
        )
        config = copilot.config_for(requester, "conv")
        state = await copilot.graph.aget_state(config)

    assert first.citations
    messages = state.values["messages"]
    humans = [m.content for m in messages if isinstance(m, HumanMessage)]
    assert humans == ["How do I connect to the VPN on Windows?", "thanks"]
    assert messages[-1].content.startswith("You're welcome")
    tool_results = [m for m in messages if m.type == "tool"]
    assert tool_results[0].artifact["passages"][0]["chunk_id"] == "vpn.md#0"


async def test_dangling_tool_call_is_cancelled_on_the_next_turn(settings, requester):
    services = make_services(settings)
    async with open_copilot(settings, services) as copilot:
        config = copilot.config_for(requester, "conv")
        await copilot.graph.aupdate_state(
            config,
            {
                "messages": [
                    HumanMessage("install visio", id="h1"),
                    AIMessage(
                        "",
                        id="a1",
                        tool_calls=[
                            {"name": "request_software", "args": {}, "id": "v1"}
                        ],
                    ),
                ]
            },
            as_node="model",
        )

    async with open_copilot(settings, services) as copilot:
        reply = await copilot.arun_turn(
            requester=requester, conversation_id="conv", text="hello"
        )
        state = await copilot.graph.aget_state(config)

    assert reply.text
    kinds = [m.type for m in state.values["messages"]]
    assert kinds[:4] == ["human", "ai", "tool", "human"]
    assert state.values["messages"][2].tool_call_id == "v1"
    assert state.values["messages"][2].content == CANCELLED_RESULT


async def test_sqlite_checkpointer_uses_wal(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data")

    async with open_checkpointer(settings) as saver:
        async with saver.conn.execute("PRAGMA journal_mode") as cursor:
            mode = (await cursor.fetchone())[0]
        async with saver.conn.execute("PRAGMA busy_timeout") as cursor:
            busy = (await cursor.fetchone())[0]

    assert mode == "wal"
    assert busy >= 1000
    assert (tmp_path / "data" / "checkpoints.db").exists()
