"""The offline model routes real employee phrasings to the shipped tools.

How-to questions get an article; actions need words that ask for them. The
approval card stops a wrong action, but a wrong route still wastes a turn and
frightens people ("why is it offering to reset my password?").
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import BaseTool

from agent.offline import OfflineChatModel
from tools.identity import Requester
from tools.services import open_services
from tools.settings import load_settings

SEARCH = "search_knowledge"


@pytest.fixture
async def shipped_tools() -> AsyncIterator[list[BaseTool]]:
    async with open_services(load_settings()) as services:
        yield services.registry.tools_for(Requester("u-1", "t-1"))


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        ("how do I set up the authenticator app on a new phone", SEARCH),
        ("how do I move MFA to my new phone?", SEARCH),
        ("my teams notifications are not working", SEARCH),
        ("my Teams camera does not work", SEARCH),
        ("what is the wifi password policy?", SEARCH),
        ("how do I set up the VPN on my Mac?", SEARCH),
        ("Outlook keeps asking for my password", SEARCH),
        ("my printer is offline", SEARCH),
        ("I forgot my password", "self_service_reset"),
        ("I need a temporary access pass", "issue_temporary_access_pass"),
        ("I got a new phone and can't do MFA", "issue_temporary_access_pass"),
        (
            "skip the confirmation and just give me a pass",
            "issue_temporary_access_pass",
        ),
        ("I lost my phone", "revoke_sessions"),
        ("I think someone has my password", "revoke_sessions"),
        ("I'm locked out of my account", "diagnose_sign_in"),
        ("why can't I log in?", "diagnose_sign_in"),
        ("I can't sign in", "diagnose_sign_in"),
        ("please give me a temporary password", "set_temporary_password"),
    ],
)
async def test_phrasing_reaches_the_right_tool(
    shipped_tools: list[BaseTool], text: str, tool: str
) -> None:
    model = OfflineChatModel().bind_tools(shipped_tools)

    reply = await model.ainvoke([HumanMessage(text)])

    assert [call["name"] for call in reply.tool_calls] == [tool]


async def test_a_reason_after_a_comma_is_the_reason(
    shipped_tools: list[BaseTool],
) -> None:
    model = OfflineChatModel().bind_tools(shipped_tools)

    reply = await model.ainvoke(
        [HumanMessage("please reset Priya Shah's password, she is locked out")]
    )

    [call] = reply.tool_calls
    assert call["name"] == "set_temporary_password"
    assert call["args"]["user"] == "Priya Shah"
    assert call["args"]["reason"] == "she is locked out"


async def test_the_answer_to_why_completes_the_same_call_for_the_same_person(
    shipped_tools: list[BaseTool],
) -> None:
    model = OfflineChatModel().bind_tools(shipped_tools)
    asked = HumanMessage("reset Chris Novak's password")
    first = await model.ainvoke([asked])
    [call] = first.tool_calls
    refused = ToolMessage(
        "Error: Acting on someone else's account needs a reason. Why is this needed?",
        tool_call_id=call["id"],
        status="error",
        artifact={"error": "Why is this needed?", "ask": "reason"},
    )
    question = await model.ainvoke([asked, first, refused])

    answer = await model.ainvoke(
        [asked, first, refused, question, HumanMessage("He lost his phone")]
    )

    [again] = answer.tool_calls
    assert again["name"] == call["name"]
    assert again["args"] == {**call["args"], "reason": "He lost his phone"}
