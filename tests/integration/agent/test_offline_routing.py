"""The offline model routes real employee phrasings to the shipped tools.

How-to questions get an article; actions need words that ask for them. The
approval card stops a wrong action, but a wrong route still wastes a turn and
frightens people ("why is it offering to reset my password?").
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from langchain_core.messages import HumanMessage
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
