"""Reading the answer to "Did this fix it?" and clicks on the 1-5 card."""

from __future__ import annotations

from typing import Any

import pytest

from bot.followup_cards import (
    FIXED_REPLY,
    RATE_ACTION,
    STUCK_REPLY,
    fix_question,
    for_the_model,
    read_rating,
    satisfaction_activity,
)
from tools.fix_answers import read_fix_answer, says_it_works

ASK = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (FIXED_REPLY, "fixed"),
        (STUCK_REPLY, "not_fixed"),
        ("that worked, thanks!", "fixed"),
        ("It’s working now 🎉", "fixed"),
        ("yes", "fixed"),
        ("Great, it works now", "fixed"),
        ("all good now", "fixed"),
        ("no", "not_fixed"),
        ("nope", "not_fixed"),
        ("didn't work", "not_fixed"),
        ("still not working", "not_fixed"),
        ("No, it didn't help", "not_fixed"),
        ("perfect", "fixed"),
        ("great, thanks", "fixed"),
        ("not really", "not_fixed"),
        ("👍", "fixed"),
        ("👍🏽", "fixed"),
        ("👎", "not_fixed"),
        ("👍 👎", None),
        # Anything more is a new message for the model.
        ("yes that worked but now Excel crashes", None),
        ("thanks", None),
        ("ok", None),
        ("yes but now Outlook crashes", None),
        ("no, I need Visio instead", None),
        ("how do I reset my password", None),
        ("", None),
    ],
)
def test_the_answer_to_did_this_fix_it_is_read_only_when_it_is_one(
    text: str, expected: str | None
) -> None:
    assert read_fix_answer(text) == expected


def test_a_bare_yes_is_not_taken_as_it_works() -> None:
    assert says_it_works("that did the trick")
    assert not says_it_works("yes"), "a bare yes may answer another question"
    assert not says_it_works("perfect")
    assert not says_it_works("👍")
    assert not says_it_works("no")


@pytest.mark.parametrize(
    ("said", "passed_on"),
    [
        ("no", STUCK_REPLY),
        ("nope", STUCK_REPLY),
        ("not really", STUCK_REPLY),
        ("👎", STUCK_REPLY),
        ("still broken, the error is 0x800", "still broken, the error is 0x800"),
    ],
)
def test_a_bare_no_reaches_the_model_as_the_suggested_reply(
    said: str, passed_on: str
) -> None:
    assert for_the_model(said) == passed_on


def test_the_question_offers_two_suggested_replies_that_read_back() -> None:
    asked = fix_question()

    replies = [a["value"] for a in asked["suggestedActions"]["actions"]]

    assert asked["text"] == "Did this fix it?"
    assert replies == [FIXED_REPLY, STUCK_REPLY]
    assert [read_fix_answer(r) for r in replies] == ["fixed", "not_fixed"]


def test_the_card_has_five_buttons_carrying_its_ask() -> None:
    card = satisfaction_activity(ASK)["attachments"][0]["content"]

    data = [action["data"] for action in card["actions"]]

    assert data == [
        {"action": RATE_ACTION, "ask": ASK, "rating": n} for n in range(1, 6)
    ]
    assert all(read_rating(d) is not None for d in data)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "4",
        {"action": RATE_ACTION, "ask": ASK, "rating": 0},
        {"action": RATE_ACTION, "ask": ASK, "rating": 6},
        {"action": RATE_ACTION, "ask": ASK, "rating": True},
        {"action": RATE_ACTION, "ask": ASK, "rating": 4.5},
        {"action": RATE_ACTION, "ask": ASK, "rating": "²"},  # a digit int() refuses
        {"action": RATE_ACTION, "ask": "../../etc", "rating": 4},
        {"action": RATE_ACTION, "ask": ASK.upper(), "rating": 4},
        {"action": "approve", "ask": ASK, "rating": 4},
    ],
)
def test_a_forged_or_broken_click_is_not_a_rating(value: Any) -> None:
    assert read_rating(value) is None


def test_a_rating_sent_as_text_is_read() -> None:
    rating = read_rating({"action": RATE_ACTION, "ask": ASK, "rating": "5"})

    assert rating is not None and rating.rating == 5
