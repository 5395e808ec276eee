"""Ticket news cards and the "did this fix it?" click."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.cards import ADAPTIVE_CARD
from bot.chat import render
from bot.ticket_news import (
    FIXED,
    NOT_FIXED,
    REPLY,
    TicketChoice,
    decided_news_activity,
    news_activity,
    news_summary,
    read_ticket_choice,
    read_ticket_reply,
)
from tools.tickets.base import EventKind, TicketEvent

AT = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def _event(kind: EventKind, text: str = "", **fields: Any) -> TicketEvent:
    values: dict[str, Any] = {
        "event_id": f"INC0001001:{kind}:1",
        "kind": kind,
        "reference": "INC0001001",
        "number": "INC0001001",
        "caller_id": "user-1",
        "tenant_id": "tenant-1",
        "text": text,
        "author": "Alex Tech",
        "at": AT,
    }
    values.update(fields)
    return TicketEvent(**values)


def _card(activity: dict[str, Any]) -> dict[str, Any]:
    [attachment] = activity["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD
    return attachment["content"]


def _words(activity: dict[str, Any]) -> str:
    return render(activity)[0]


KINDS: list[EventKind] = [
    "created",
    "commented",
    "question",
    "resolved",
    "closed",
    "reopened",
    "state_changed",
]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_a_schema_1_5_card_with_a_plain_summary(kind: EventKind) -> None:
    activity = news_activity(_event(kind, "Some words from IT."))

    card = _card(activity)
    assert activity["type"] == "message"
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.5"
    assert activity["summary"]
    assert "{{" not in activity["summary"]
    assert card["fallbackText"] == activity["summary"]
    assert "INC0001001" in activity["summary"]
    assert "INC0001001" in _words(activity)


def test_created_gives_the_new_number_and_the_old_reference() -> None:
    event = _event("created", reference="HD-7F3K2Q", number="INC0010042")

    words = _words(news_activity(event))

    assert "Your ticket now has the number **INC0010042**." in words
    assert "It was HD-7F3K2Q until now." in words
    assert news_summary(event) == "Your ticket now has the number INC0010042."


def test_a_comment_names_the_technician_and_quotes_them() -> None:
    event = _event("commented", "Please restart the laptop and try again.")

    words = _words(news_activity(event))

    assert "Alex Tech wrote:" in words
    assert "Please restart the laptop and try again." in words
    assert "Alex Tech wrote on INC0001001." in news_summary(event)


@pytest.mark.parametrize("kind", ["question", "commented"])
def test_a_question_or_comment_has_a_reply_box_for_the_ticket(kind: EventKind) -> None:
    event = _event(kind, "Which building are you in?")
    activity = news_activity(event)

    words = _words(activity)
    assert "Which building are you in?" in words
    card = _card(activity)
    [box] = [e for e in card["body"] if e["type"] == "Input.Text"]
    [send] = card["actions"]
    assert send["data"] == {
        "action": REPLY,
        "ticket": "INC0001001",
        "event": event.event_id,
    }
    typed = read_ticket_reply(
        {**send["data"], box["id"]: "  Building 4, password: Hunter2!  "}
    )
    assert typed is not None
    assert typed.text == "Building 4, password: [redacted]"


def test_a_resolution_shows_the_note_and_asks_with_two_buttons() -> None:
    event = _event("resolved", "Replaced the VPN profile.")

    activity = news_activity(event)

    words, choices = render(activity)
    assert "Replaced the VPN profile." in words
    assert "Did this fix it?" in words
    actions = _card(activity)["actions"]
    assert [a["type"] for a in actions] == ["Action.Submit", "Action.Submit"]
    assert [a["title"] for a in actions] == ["Yes, close it", "No, reopen it"]
    assert choices == [
        {"action": FIXED, "ticket": "INC0001001", "event": event.event_id},
        {"action": NOT_FIXED, "ticket": "INC0001001", "event": event.event_id},
    ]
    assert [read_ticket_choice(c) for c in choices] == [
        TicketChoice("INC0001001", event.event_id, fixed=True),
        TicketChoice("INC0001001", event.event_id, fixed=False),
    ]


@pytest.mark.parametrize(
    "kind", [k for k in KINDS if k not in ("resolved", "question", "commented")]
)
def test_only_news_that_asks_something_has_buttons(kind: EventKind) -> None:
    assert "actions" not in _card(news_activity(_event(kind, "x")))


def test_a_ticket_still_without_number_is_named_by_its_reference() -> None:
    event = _event("commented", "On it.", number=None, reference="HD-7F3K2Q")

    assert "Ticket HD-7F3K2Q" in _words(news_activity(event))


def test_times_are_card_date_functions_in_the_readers_zone() -> None:
    card_text = str(_card(news_activity(_event("closed"))))

    assert "{{DATE(2026-03-02T14:30:00Z, SHORT)}}" in card_text
    assert "{{TIME(2026-03-02T14:30:00Z)}}" in card_text


def test_the_notification_preview_hides_secrets() -> None:
    event = _event("commented", "Your temporary password: Xk29-pLm7-Qa")

    summary = news_summary(event)

    assert "Xk29-pLm7-Qa" not in summary
    assert "[redacted]" in summary


def test_a_long_comment_is_cut_on_the_card_and_in_the_preview() -> None:
    event = _event("commented", "word " * 2000)

    activity = news_activity(event)

    assert len(activity["summary"]) <= 150
    assert max(len(t) for t in _words(activity).splitlines()) <= 2000


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="no-value"),
        pytest.param("ticket_fixed", id="bare-string"),
        pytest.param({"action": "approve", "approval": "a1"}, id="approval-card"),
        pytest.param(
            {"action": "ticket_maybe", "ticket": "INC1", "event": "e"},
            id="other-action",
        ),
        pytest.param({"action": FIXED, "event": "e1"}, id="no-ticket"),
        pytest.param({"action": FIXED, "ticket": "INC1"}, id="no-event"),
        pytest.param({"action": FIXED, "ticket": "", "event": "e1"}, id="empty-ticket"),
        pytest.param(
            {"action": FIXED, "ticket": 1001, "event": "e1"}, id="number-ticket"
        ),
        pytest.param(
            {"action": FIXED, "ticket": "I" * 65, "event": "e1"}, id="long-ticket"
        ),
        pytest.param(
            {"action": FIXED, "ticket": "INC1", "event": "e" * 129}, id="long-event"
        ),
        pytest.param({"action": FIXED, "ticket": "INC 1", "event": "e1"}, id="space"),
        pytest.param(
            {"action": FIXED, "ticket": "INC1\n", "event": "e1"}, id="newline"
        ),
        pytest.param(
            {"action": FIXED, "ticket": "<at>x</at>", "event": "e1"}, id="markup"
        ),
    ],
)
def test_read_ticket_choice_accepts_only_our_buttons(value: Any) -> None:
    assert read_ticket_choice(value) is None


def test_read_ticket_choice_ignores_fields_teams_merges_in() -> None:
    value = {
        "action": NOT_FIXED,
        "ticket": "INC0001001",
        "event": "itsm:9d2f:4",
        "comment": "typed in another input",
    }

    assert read_ticket_choice(value) == TicketChoice(
        "INC0001001", "itsm:9d2f:4", fixed=False
    )


@pytest.mark.parametrize(
    ("fixed", "line"),
    [
        (True, "Jo Doe confirmed this fixed it"),
        (False, "Jo Doe said this did not fix it"),
    ],
    ids=["yes", "no"],
)
def test_the_decided_card_keeps_the_note_and_loses_the_buttons(
    fixed: bool, line: str
) -> None:
    event = _event("resolved", "Replaced the VPN profile.")
    choice = TicketChoice("INC0001001", event.event_id, fixed=fixed)

    activity = decided_news_activity(choice, event=event, by="Jo Doe", at=AT)

    words = _words(activity)
    assert "Replaced the VPN profile." in words
    assert line in words
    assert "Did this fix it?" not in words
    assert "actions" not in _card(activity)


def test_the_decided_card_without_the_event_names_the_ticket() -> None:
    choice = TicketChoice("INC0001001", "gone", fixed=True)

    words = _words(decided_news_activity(choice))

    assert "Ticket INC0001001" in words
    assert "You confirmed this fixed it" in words
