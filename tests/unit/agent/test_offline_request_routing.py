"""The offline model routes requests for access and for IT work, not by one word.

"access" appears in several tools (a Temporary Access Pass, giving access
back), so a request for access went to whichever scored on it; and a request
for work that no tool does ("please set up a project code") went to a
knowledge search that cannot do it. Faults, access that stopped working and
how-to questions still get the article first.
"""

from __future__ import annotations

import pytest
from fakes.manifest_tools import shipped_tools
from langchain_core.messages import HumanMessage

from agent.offline import OfflineChatModel

SEARCH = "search_knowledge"
TICKET = "create_ticket"


@pytest.fixture(scope="module")
def model() -> OfflineChatModel:
    return OfflineChatModel().bind_tools(shipped_tools())


def _first_tool(model: OfflineChatModel, text: str) -> str | None:
    reply = model.respond([HumanMessage(text)])
    return reply.tool_calls[0]["name"] if reply.tool_calls else None


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        ("give me access to Confluence", "request_item"),
        ("I need access to Confluence", "request_item"),
        ("can I get access to the Jira board?", "request_item"),
        ("please grant me access to the planning site", "request_item"),
        ("access to the audit folder please", "request_item"),
        ("remove my access to Confluence", "return_access"),
        ("I need a temporary access pass", "issue_temporary_access_pass"),
        ("I lost access to the shared drive", SEARCH),
        ("access denied when I open the audit folder", SEARCH),
        ("how do I get access to the finance share?", SEARCH),
    ],
)
def test_a_request_for_access_goes_to_the_request_tool(
    model: OfflineChatModel, text: str, tool: str
) -> None:
    assert _first_tool(model, text) == tool


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        ("please set up a cost code for the new client", TICKET),
        ("could you please restart the build server", TICKET),
        ("please log the installation of the TVs we bought", TICKET),
        ("kindly extend the contractor accounts until March", TICKET),
        ("can you create a mailing list for the design team", TICKET),
        ("Outlook keeps crashing when I open attachments", SEARCH),
        ("please help, Outlook keeps crashing", SEARCH),
        ("how do I set up the VPN on my Mac?", SEARCH),
        ("could you tell me how to install the VPN client", SEARCH),
    ],
)
def test_a_request_for_work_no_tool_does_drafts_a_ticket(
    model: OfflineChatModel, text: str, tool: str
) -> None:
    assert _first_tool(model, text) == tool
