"""The hand-off card, its redrawn forms, its clicks, and the hub's event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.handoff import HANDOFF_INITIATE, TRANSCRIPT_TYPE, channel_of, initiate_event
from bot.handoff_cards import (
    HandoffClick,
    ended_card,
    read_click,
    taken_card,
    waiting_card,
)
from tools.handoff.base import Handoff

HANDOFF = Handoff(
    handoff_id="ho_0123456789abcdef01234567",
    tenant_id="t1",
    employee_id="local-user",
    employee_name="Alex Employee",
    conversation_id="a:chat",
    status="waiting",
    reason="asked for a person",
    summary="Second monitor flickers on the dock",
    category="hardware",
    tried=["Showed the article on monitor flicker"],
    transcript="Alex Employee: my monitor flickers\nHelpdesk: try the cable",
    created_at=datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
)


def _card(activity: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = activity["attachments"][0]["content"]
    return content


def _submits(activity: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        a["data"] for a in _card(activity)["actions"] if a["type"] == "Action.Submit"
    ]


def test_the_waiting_card_shows_who_what_and_since_when_with_take_and_transcript() -> (
    None
):
    activity = waiting_card(HANDOFF)
    text = str(_card(activity)["body"])
    for shown in ("Alex Employee", "hardware", "Second monitor", "monitor flicker"):
        assert shown in text
    assert "{{DATE(2026-12-04T09:30:00Z" in text
    assert _submits(activity) == [
        {"action": "handoff_take", "handoff": HANDOFF.handoff_id}
    ]
    [show] = [a for a in _card(activity)["actions"] if a["type"] == "Action.ShowCard"]
    assert "try the cable" in str(show["card"])


def test_a_long_transcript_keeps_its_end() -> None:
    long = Handoff(**{**_fields(HANDOFF), "transcript": "x" * 10_000 + " the end"})
    [show] = [
        a
        for a in _card(waiting_card(long))["actions"]
        if a["type"] == "Action.ShowCard"
    ]
    body = show["card"]["body"][0]["text"]
    assert body.endswith("the end") and len(body) < 7000


def test_a_taken_card_has_no_take_button_and_ended_cards_no_buttons() -> None:
    taken = taken_card(HANDOFF, "Sam Rivera")
    assert "Taken by Sam Rivera" in str(_card(taken)["body"])
    assert [d["action"] for d in _submits(taken)] == ["handoff_back", "handoff_close"]
    ended = ended_card(HANDOFF, "Withdrawn: nobody took it in time")
    assert _submits(ended) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"action": "handoff_take", "handoff": "ho_1"},
            HandoffClick("handoff_take", "ho_1"),
        ),
        (
            {"action": "handoff_close", "handoff": "ho_1"},
            HandoffClick("handoff_close", "ho_1"),
        ),
        ({"action": "approve", "approval": "ap_1"}, None),
        ({"action": "handoff_take"}, None),
        ({"action": "handoff_take", "handoff": "x" * 65}, None),
        ("handoff_take", None),
        (None, None),
    ],
    ids=["take", "close", "approval", "no-id", "id-too-long", "not-a-dict", "none"],
)
def test_read_click(value: Any, expected: HandoffClick | None) -> None:
    assert read_click(value) == expected


def test_the_hub_event_carries_the_context_and_the_transcript() -> None:
    event = initiate_event(HANDOFF, email="alex@contoso.example")
    assert (event["type"], event["name"]) == ("event", HANDOFF_INITIATE)
    assert event["value"]["emailAddress"] == "alex@contoso.example"
    [attachment] = event["attachments"]
    assert attachment["contentType"] == TRANSCRIPT_TYPE
    activities = attachment["content"]["activities"]
    assert [(a["from"]["name"], a["text"]) for a in activities] == [
        ("Alex Employee", "my monitor flickers"),
        ("Helpdesk", "try the cable"),
    ]


def test_channel_of_a_thread() -> None:
    assert channel_of("19:abc@thread.tacv2;messageid=17") == "19:abc@thread.tacv2"
    assert channel_of("19:abc@thread.tacv2") == "19:abc@thread.tacv2"


def _fields(handoff: Handoff) -> dict[str, Any]:
    return {name: getattr(handoff, name) for name in handoff.__slots__}
