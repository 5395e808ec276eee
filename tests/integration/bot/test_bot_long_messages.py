"""A long message (a pasted log) is answered, not greeted, by the real agent."""

from __future__ import annotations

import pytest

from bot.chat import ChatSession, render
from tools.settings import load_settings

QUESTION = "How do I connect to the VPN? It keeps failing."
GREETING = "Here is what I can do"


def _with_log(size: int) -> str:
    line = "2024-05-01 10:00:00 vpn client: handshake timeout, retrying\n"
    log = (line * (size // len(line) + 1))[: size - len(QUESTION) - 20]
    return f"{QUESTION} Here is the log:\n{log}"


def _padded(size: int) -> str:
    return QUESTION + " please help" * ((size - len(QUESTION)) // 12)


@pytest.mark.parametrize("size", [20_000, 30_000], ids=["20KB", "30KB"])
async def test_a_long_question_gets_the_answer_it_asked_for(size: int) -> None:
    message = _padded(size)
    assert len(message) >= size - 12

    async with ChatSession(load_settings()) as chat:
        replies = await chat.say(message)

    text = "\n".join(render(r)[0] for r in replies)
    assert GREETING not in text
    assert "VPN" in text
    assert replies[0]["entities"][0]["citation"], "an answer from the articles"


@pytest.mark.parametrize("size", [20_000, 30_000], ids=["20KB", "30KB"])
async def test_a_question_with_a_pasted_log_is_not_greeted(size: int) -> None:
    async with ChatSession(load_settings()) as chat:
        replies = await chat.say(_with_log(size))

    text = "\n".join(render(r)[0] for r in replies)
    assert GREETING not in text
    assert not text.startswith("Sorry, something went wrong")
