"""The graph driven by a scripted model: tools, errors, limits, citations."""

from __future__ import annotations

import pytest
from fakes.agent_tools import make_services
from fakes.scripted_model import ScriptedChatModel, tool_call
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from agent.graph import build_graph
from agent.models import GuardedModel
from agent.offline import OFFLINE_NOTE, OfflineChatModel
from agent.runner import Copilot
from tools.identity import Requester
from tools.settings import load_settings

ALICE = Requester(object_id="u-alice", tenant_id="t-1", name="Alice")


def _copilot(script, *, fallback=None, **overrides):
    settings = load_settings(**overrides)
    services = make_services(settings)
    scripted = ScriptedChatModel(script=list(script))
    model = GuardedModel(scripted, fallback=fallback)
    graph = build_graph(
        model=model,
        registry=services.registry,
        settings=settings,
        checkpointer=InMemorySaver(),
    )
    return Copilot(graph, settings=settings, model=model), scripted, services


async def _turn(copilot, text, conversation="conv-1", requester=ALICE):
    return await copilot.arun_turn(
        requester=requester, conversation_id=conversation, text=text
    )


async def test_tool_call_round_trip_with_requester_from_config():
    copilot, scripted, _ = _copilot(
        [
            tool_call("ticket_status", {"ticket_number": 42}),
            AIMessage("Your ticket is in progress."),
        ]
    )

    reply = await _turn(copilot, "status of ticket 42?")

    assert reply.text == "Your ticket is in progress."
    assert not reply.offline
    second_call = scripted.calls[1]
    assert isinstance(second_call[0], SystemMessage)
    result = second_call[-1]
    assert isinstance(result, ToolMessage)
    assert result.content == "Ticket INC0000042 for Alice is In progress."
    assert "ticket_status" in scripted.bound[0]


async def test_model_cannot_supply_the_requester():
    copilot, scripted, _ = _copilot(
        [
            tool_call("ticket_status", {"ticket_number": 1, "requester": "u-bob"}),
            AIMessage("done"),
        ]
    )

    await _turn(copilot, "status of ticket 1")

    assert "for Alice" in scripted.calls[1][-1].content


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(
            tool_call("ticket_status", {"ticket_number": 404}),
            "Error: There is no ticket 404.",
            id="tool-error",
        ),
        pytest.param(
            tool_call("crashing_tool", {}),
            "Error: crashing_tool failed unexpectedly",
            id="tool-crash",
        ),
        pytest.param(
            tool_call("no_such_tool", {}),
            "Error: there is no tool named 'no_such_tool'",
            id="unknown-tool",
        ),
        pytest.param(
            tool_call("request_software", {"software": "Microsoft Visio"}),
            "Error: That needs your confirmation, which I cannot ask for here.",
            id="side-effect-not-run-without-a-way-to-ask",
        ),
    ],
)
async def test_tool_trouble_becomes_text_the_model_sees(call, expected):
    copilot, scripted, _ = _copilot([call, AIMessage("Sorry, that did not work.")])

    reply = await _turn(copilot, "do it")

    assert reply.text == "Sorry, that did not work."
    assert expected in scripted.calls[1][-1].content


async def test_step_limit_ends_in_a_polite_reply():
    script = [
        tool_call("ticket_status", {"ticket_number": n}, f"c{n}") for n in range(5)
    ]
    copilot, scripted, _ = _copilot(script, max_steps=3)

    reply = await _turn(copilot, "loop forever")

    assert len(scripted.calls) == 3
    assert reply.text.startswith("I couldn't finish that in the steps I'm allowed.")
    assert "Ticket INC0000002" in reply.text
    assert "contact the IT help desk" in reply.text


async def test_citations_mapped_from_the_turns_search():
    copilot, _, _ = _copilot(
        [
            tool_call("search_knowledge", {"query": "vpn printer offline"}),
            AIMessage("For the VPN use the app [2]. Restart the printer [1]. [9]"),
        ]
    )

    reply = await _turn(copilot, "vpn and printer?")

    assert reply.text == "For the VPN use the app [1]. Restart the printer [2]."
    assert [c.position for c in reply.citations] == [1, 2]
    assert reply.citations[0].url == "https://kb.example.com/vpn"
    assert reply.citations[1].title == "Printer shows as offline"


async def test_history_carries_into_the_next_turn():
    copilot, scripted, _ = _copilot([AIMessage("first"), AIMessage("second")])

    await _turn(copilot, "one")
    await _turn(copilot, "two")

    texts = [m.content for m in scripted.calls[1] if isinstance(m, HumanMessage)]
    assert texts == ["one", "two"]


async def test_threads_are_separate_per_conversation_and_tenant():
    copilot, scripted, _ = _copilot([AIMessage("a"), AIMessage("b")])
    other_tenant = Requester(object_id="u-alice", tenant_id="t-2")

    await _turn(copilot, "one")
    await _turn(copilot, "two", requester=other_tenant)

    assert [type(m).__name__ for m in scripted.calls[1]] == [
        "SystemMessage",
        "HumanMessage",
    ]


async def test_model_failure_falls_back_to_offline_and_is_marked():
    copilot, _, _ = _copilot([ConnectionError("boom")], fallback=OfflineChatModel())

    reply = await _turn(copilot, "hello")

    assert reply.offline
    assert reply.text.endswith(OFFLINE_NOTE)


async def test_offline_model_end_to_end_answers_with_citations():
    settings = load_settings()
    services = make_services(settings)
    model = GuardedModel(OfflineChatModel())
    graph = build_graph(
        model=model,
        registry=services.registry,
        settings=settings,
        checkpointer=InMemorySaver(),
    )
    copilot = Copilot(graph, settings=settings, model=model)

    reply = await _turn(copilot, "How do I connect to the VPN on Windows?")

    assert reply.offline
    assert "GlobalConnect" in reply.text
    assert reply.citations[0].title == "Connect to the company VPN"
    assert "[1]" in reply.text
