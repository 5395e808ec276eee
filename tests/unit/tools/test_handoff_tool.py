"""The hand-off tool through the registry: opens once inside hours, offers a
ticket with when agents are back otherwise; the offline model routes requests
for a person and the listed topics to it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fakes.manifest_tools import shipped_tools
from langchain_core.messages import HumanMessage, ToolMessage
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.offline import OfflineChatModel
from tools.audit import alist
from tools.conversation import CONVERSATION_KEY, Conversation
from tools.db import create_engine, upgrade
from tools.handoff import store
from tools.handoff.tool import handoff_to_person
from tools.identity import Requester
from tools.registry import USER_MESSAGE_KEY, ToolRegistry, load_manifest
from tools.settings import PROJECT_ROOT, Settings, load_settings

MANIFESTS = PROJECT_ROOT / "manifests" / "tools"
ALEX = Requester(object_id="oid-alex", tenant_id="tenant-1", name="Alex Wilber")


@dataclass
class _Services:
    """What the tool reads of the process: the settings and the app database."""

    settings: Settings
    db: AsyncEngine


@pytest.fixture
async def engine(app_database_url: str | None) -> AsyncIterator[AsyncEngine]:
    created = create_engine(load_settings(database_url=app_database_url))
    await upgrade(created)
    yield created
    await created.dispose()


async def _designate(engine: AsyncEngine) -> None:
    await store.set_channel(
        engine,
        tenant_id=ALEX.tenant_id,
        channel_id="19:agents@thread.tacv2",
        reference={"conversation": {"id": "19:agents@thread.tacv2"}},
        designated_by="oid-megan",
    )


async def _call(
    engine: AsyncEngine,
    settings: Settings,
    *,
    conversation_id: str = "a:conv-1",
    lines: list[tuple[str, str]] | None = None,
) -> ToolMessage:
    registry = ToolRegistry(services=_Services(settings, engine))
    registry.register(
        load_manifest(MANIFESTS / "handoff_to_person.yaml"), handoff_to_person
    )
    [tool] = registry.tools_for(ALEX)
    conversation = Conversation(
        lines=lines
        or [
            ("Alex Wilber", "my VPN drops every hour"),
            ("Alex Wilber", "I want to talk to a person"),
        ],
        tried=["Showed the article 'VPN: fix common errors'"],
        conversation_id=conversation_id,
    )
    configurable = {
        **ALEX.to_config(),
        "thread_id": f"{ALEX.tenant_id}:{conversation_id}",
        CONVERSATION_KEY: conversation.to_payload(),
    }
    call = {
        "type": "tool_call",
        "id": f"call-{uuid.uuid4().hex[:8]}",
        "name": "handoff_to_person",
        "args": {},
    }
    message = await tool.ainvoke(call, config={"configurable": configurable})
    assert isinstance(message, ToolMessage)
    return message


async def test_inside_hours_the_conversation_is_handed_off_once(
    engine: AsyncEngine,
) -> None:
    settings = load_settings(handoff_hours="always", handoff_pickup_minutes=15)
    await _designate(engine)
    await store.set_agent_status(
        engine,
        tenant_id=ALEX.tenant_id,
        agent_id="oid-megan",
        name="Megan Bowen",
        status="available",
    )
    before = datetime.now(UTC)

    first = await _call(engine, settings)
    again = await _call(engine, settings)

    assert first.artifact["handoff"] == again.artifact["handoff"]
    told = first.artifact[USER_MESSAGE_KEY]
    assert "Megan Bowen is available" in told and "15 minutes" in told
    assert "already waiting" in again.artifact[USER_MESSAGE_KEY]
    [waiting] = await store.queue(engine, ALEX.tenant_id)
    assert waiting.handoff_id == first.artifact["handoff"]
    assert waiting.conversation_id == "a:conv-1"
    assert waiting.summary == "my VPN drops every hour"
    assert waiting.category == "network" and waiting.reason == "asked"
    assert waiting.tried == ["Showed the article 'VPN: fix common errors'"]
    assert "I want to talk to a person" in waiting.transcript
    assert waiting.deadline_at is not None
    assert before + timedelta(minutes=15) <= waiting.deadline_at
    records = await alist(engine, tenant_id=ALEX.tenant_id)
    assert [(r.tool, r.outcome) for r in records] == [("handoff_to_person", "success")]


async def test_a_listed_topic_is_the_reason_on_the_agents_card(
    engine: AsyncEngine,
) -> None:
    settings = load_settings(handoff_hours="always", handoff_mode="hub")

    await _call(
        engine,
        settings,
        lines=[("Alex Wilber", "I want to report harassment by a colleague")],
    )

    [waiting] = await store.queue(engine, ALEX.tenant_id)
    assert waiting.reason == "topic: harassment"


async def test_outside_hours_nothing_is_opened_and_a_ticket_is_offered(
    engine: AsyncEngine,
) -> None:
    today = datetime.now(UTC).date()
    settings = load_settings(
        handoff_hours="mon-sun 00:00-24:00",
        handoff_holidays=f"{today},{today + timedelta(days=1)}",
    )
    await _designate(engine)
    back = (today + timedelta(days=2)).strftime("%A")

    message = await _call(engine, settings)

    assert message.artifact["escalate"] is True
    error = message.artifact["error"]
    assert f"back {back} 00:00 (UTC)" in error and "A ticket" in error
    assert str(message.content).startswith("Error: Nobody from IT support")
    assert await store.queue(engine) == []
    records = await alist(engine, tenant_id=ALEX.tenant_id)
    assert [(r.tool, r.outcome) for r in records] == [("handoff_to_person", "refused")]


async def test_without_an_agents_channel_nothing_is_opened(
    engine: AsyncEngine,
) -> None:
    message = await _call(engine, load_settings(handoff_hours="always"))

    assert message.artifact["escalate"] is True
    assert "not set up" in message.artifact["error"]
    assert await store.queue(engine) == []


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        ("I want to talk to a person", "handoff_to_person"),
        ("can I speak to a human", "handoff_to_person"),
        ("I want to report harassment", "handoff_to_person"),
        ("I want to report a security incident", "handoff_to_person"),
        ("connect me with a person please", "handoff_to_person"),
        ("that didnt help", "create_ticket"),
        ("escalate this to IT", "create_ticket"),
        ("how do I report phishing?", "search_knowledge"),
    ],
)
def test_the_offline_model_routes_requests_for_a_person_to_the_handoff(
    text: str, tool: str
) -> None:
    model = OfflineChatModel().bind_tools(shipped_tools())

    reply = model.invoke([HumanMessage(text)])

    assert [c["name"] for c in reply.tool_calls] == [tool]


async def test_the_offline_model_tells_when_agents_are_back_and_drafts_a_ticket(
    engine: AsyncEngine,
) -> None:
    today = datetime.now(UTC).date()
    settings = load_settings(
        handoff_hours="mon-sun 00:00-24:00",
        handoff_holidays=f"{today},{today + timedelta(days=1)}",
    )
    model = OfflineChatModel().bind_tools(shipped_tools())
    asked = HumanMessage("I want to talk to a person")
    call = model.invoke([asked])
    result = await _call(engine, settings)
    result.tool_call_id = str(call.tool_calls[0]["id"])

    reply = model.invoke([asked, call, result])

    assert str(reply.content).startswith("Nobody from IT support is available")
    assert [c["name"] for c in reply.tool_calls] == ["create_ticket"]
