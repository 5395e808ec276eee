"""The offline model routes ticket requests with the shipped tool manifests."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.manifest_tools import shipped_tools
from langchain_core.messages import HumanMessage

from agent.offline import OfflineChatModel


@pytest.fixture(scope="module")
def model() -> OfflineChatModel:
    return OfflineChatModel().bind_tools(shipped_tools())


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        (
            "the printer on floor 3 jams all the time, open a ticket",
            "create_ticket",
            {},
        ),
        ("my screen shows this error, open a ticket", "create_ticket", {}),
        ("show my open tickets", "list_my_tickets", {}),
        ("show my closed tickets too", "list_my_tickets", {"include_closed": True}),
        ("show the ticket queue", "list_my_tickets", {"queue": True}),
        ("any news on INC0001234?", "ticket_status", {"number": "INC0001234"}),
        ("add to inc0001234 that it also happens at home", "comment_on_ticket", None),
        ("reopen INC0001234, it's broken again", "update_ticket", None),
        ("close my ticket", "update_ticket", {"action": "close"}),
        ("add to my ticket that it is a Dell U2720Q", "comment_on_ticket", None),
        ("add to INC0001001 that my VPN also fails", "comment_on_ticket", None),
        ("is my ticket done?", "ticket_status", {}),
        ("status of 1001", "ticket_status", {"number": "1001"}),
        ("cancel my ticket", "update_ticket", {"action": "cancel"}),
        ("my docking station is dead, open a ticket", "create_ticket", {}),
        ("I want a ticket for my VPN not connecting", "create_ticket", {}),
        ("that didnt help", "create_ticket", {}),
        ("how do I open a ticket?", "search_knowledge", None),
        ("hello again", None, None),
    ],
)
def test_ticket_requests_reach_the_ticket_tools(
    model: OfflineChatModel, text: str, tool: str | None, args: dict[str, Any] | None
) -> None:
    reply = model.invoke([HumanMessage(text)])

    assert [c["name"] for c in reply.tool_calls] == ([tool] if tool else [])
    if args is not None:
        assert reply.tool_calls[0]["args"] == args
