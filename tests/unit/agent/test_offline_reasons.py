"""The offline model reads why an employee asks from the way they ask.

A purpose said with the request ("I need Project to plan the office move")
is the justification the approver reads, so the employee is not asked for it
again; a place ("add me to the VPN group") or a person ("for Dana Park") is
no purpose.
"""

from __future__ import annotations

from typing import Any

import pytest
from fakes.manifest_tools import shipped_tool
from langchain_core.messages import HumanMessage

from agent.offline import OfflineChatModel


@pytest.fixture(scope="module")
def model() -> OfflineChatModel:
    return OfflineChatModel().bind_tools([shipped_tool("request_item")])


def _justification(model: OfflineChatModel, text: str) -> Any:
    [call] = model.respond([HumanMessage(text)]).tool_calls
    assert call["name"] == "request_item"
    return call["args"].get("justification")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(
            "I need Microsoft Project to plan the office move",
            "to plan the office move",
            id="to-do",
        ),
        pytest.param(
            "can I get Visio for diagrams of our sales process",
            "for diagrams of our sales process",
            id="for-what",
        ),
        pytest.param(
            "I need access to finance reports for the audit",
            "for the audit",
            id="after-the-place",
        ),
        pytest.param(
            "I need a new laptop so I can run the models",
            "so I can run the models",
            id="so-i-can",
        ),
        pytest.param(
            "I need Visio because I draw the floor plans",
            "I draw the floor plans",
            id="because",
        ),
    ],
)
def test_a_purpose_said_with_the_request_is_its_justification(
    model: OfflineChatModel, text: str, reason: str
) -> None:
    assert _justification(model, text) == reason


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("add me to the VPN group", id="a-place"),
        pytest.param("I need access to the finance reports", id="access-to"),
        pytest.param("request Power BI Pro for Dana Park", id="a-person"),
        pytest.param("I need a laptop for my manager", id="a-relation"),
        pytest.param("I need a headset for calls", id="one-word"),
        pytest.param("I want to request Visio", id="want-to"),
    ],
)
def test_a_place_or_a_person_is_no_justification(
    model: OfflineChatModel, text: str
) -> None:
    assert _justification(model, text) is None
