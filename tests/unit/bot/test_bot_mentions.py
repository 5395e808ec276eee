"""Mention markup: the bot's own mention goes, other people keep their names."""

from __future__ import annotations

import pytest

from bot.inbound import Mention
from bot.mentions import clean_text, has_words

BOT = "28:bot-id"


def test_the_field_case_text_reaches_the_agent_clean() -> None:
    mentions = [
        Mention(id=BOT, name="Helpdesk", text="<at>Helpdesk</at>"),
        Mention(id="29:dana", name="Dana Park", text=None),
    ]

    text = "\r\n<at>Helpdesk</at> my VPN is broken, ask <at>Dana Park</at>"

    assert clean_text(text, mentions, BOT) == "my VPN is broken, ask Dana Park"


def test_a_bot_mention_without_text_is_removed_by_name() -> None:
    mentions = [Mention(id=BOT, name="Helpdesk", text=None)]

    assert clean_text("<at>Helpdesk</at>  printer\njammed", mentions, BOT) == (
        "printer jammed"
    )


def test_another_users_mention_named_like_the_bot_is_kept() -> None:
    mentions = [Mention(id="29:someone", name="Helpdesk", text="<at>Helpdesk</at>")]

    assert clean_text("ask <at>Helpdesk</at>", mentions, BOT) == "ask Helpdesk"


@pytest.mark.parametrize("text", [None, "", "  \r\n "], ids=["none", "empty", "space"])
def test_no_text_gives_empty(text: str | None) -> None:
    assert clean_text(text, [], BOT) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [("\U0001f62d", False), ("?!", False), ("vpn", True), ("42", True)],
    ids=["emoji", "punctuation", "word", "digits"],
)
def test_has_words(text: str, expected: bool) -> None:
    assert has_words(text) is expected
