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


@pytest.mark.parametrize(
    "text",
    ["<at>Helpdesk</at>&nbsp;", "<at>Helpdesk</at>\u00a0 &#160;", "&nbsp;\r\n"],
    ids=["entity", "nbsp-char-and-number", "nbsp-only"],
)
def test_non_breaking_spaces_after_the_mention_leave_nothing(text: str) -> None:
    mentions = [Mention(id=BOT, name="Helpdesk", text="<at>Helpdesk</at>")]

    assert clean_text(text, mentions, BOT) == ""


def test_entities_are_decoded_in_what_is_left() -> None:
    text = "<at>Helpdesk</at> error &quot;0x80070005&quot; &amp; <at>O&#39;Brien</at>"
    mentions = [Mention(id=BOT, name="Helpdesk", text="<at>Helpdesk</at>")]

    assert clean_text(text, mentions, BOT) == 'error "0x80070005" & O\'Brien'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<at>Helpdesk</at> printer jammed", "printer jammed"),
        ("&nbsp;<at>helpdesk</at>&nbsp;printer jammed", "printer jammed"),
        ("printer jammed, ask <at>Helpdesk</at>", "printer jammed, ask Helpdesk"),
        ("<at>Dana Park</at> printer jammed", "Dana Park printer jammed"),
    ],
    ids=["leading", "leading-after-nbsp-any-case", "not-leading", "someone-else"],
)
def test_a_leading_mention_of_the_bots_name_without_an_entity_is_removed(
    text: str, expected: str
) -> None:
    assert clean_text(text, [], BOT, bot_name="Helpdesk") == expected


def test_a_leading_mention_an_entity_gives_to_someone_else_is_kept() -> None:
    mentions = [Mention(id="29:someone", name="Helpdesk", text=None)]

    text = "<at>Helpdesk</at> can you look?"

    assert clean_text(text, mentions, BOT, bot_name="Helpdesk") == (
        "Helpdesk can you look?"
    )


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
