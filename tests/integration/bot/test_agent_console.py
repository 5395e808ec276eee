"""``helpdesk agent`` beside ``helpdesk chat``: two terminals, one data folder.

An :class:`AgentSession` and a :class:`ChatSession` run two bots in this
process on one app database, as two terminals on one laptop do. The card the
employee's bot posts reaches the agent's connector because the channel's
stored reference is the agent terminal's; the relay crosses both ways.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.agent_console import AgentSession, run_agent
from bot.chat import ChatSession, render
from tools.handoff import store
from tools.settings import load_settings

WAIT_S = 30.0


def _texts(activities: list[dict[str, Any]]) -> list[str]:
    return [render(a)[0] for a in activities]


async def _news_with(session: ChatSession, wanted: str) -> list[str]:
    """What arrives at ``session`` on its own, until a message holds ``wanted``."""
    seen: list[str] = []

    async def collect() -> None:
        seen.extend(_texts(await session.news()))
        while not any(wanted in t for t in seen):
            seen.extend(_texts(await session.wait_for_news()))

    await asyncio.wait_for(collect(), WAIT_S)
    return seen


async def test_an_agent_takes_a_handoff_talks_and_hands_back(
    app_database_url: str | None,
) -> None:
    settings = load_settings(database_url=app_database_url, handoff_hours="always")
    async with AgentSession(settings) as agent, ChatSession(settings) as chat:
        assert agent.user.name == "Sam Rivera"
        opened = " ".join(_texts(await agent.start()))
        assert "Hand-offs will arrive in this channel" in opened
        assert "Nothing is waiting" in opened

        await chat.say("my monitor flickers")
        assert await chat.say("I want to talk to a person")

        cards = await _news_with(agent, "Take")
        assert any("monitor flickers" in t.lower() for t in cards)
        [card] = agent.cards
        assert card.activity_id in agent.waiting
        queue = " ".join(_texts(await agent.in_channel("queue")))
        assert f"{chat.user.name} (" in queue

        await agent.take(1)
        assert card.activity_id not in agent.waiting, "the card was redrawn"
        assert any(
            "Sam Rivera from IT support has joined" in t
            for t in await _news_with(chat, "has joined")
        )

        await agent.write("Try another cable, please")
        assert "**Sam Rivera (IT support):** Try another cable, please" in (
            await _news_with(chat, "another cable")
        )

        assert await chat.say("that fixed it") == [], "held for the agent"
        assert f"**{chat.user.name}:** that fixed it" in (
            await _news_with(agent, "that fixed it")
        )

        ended = _texts(await agent.write("hand back"))
        assert any("Handed back to the copilot by Sam Rivera" in t for t in ended)
        assert any(
            "You're back with the copilot" in t
            for t in await _news_with(chat, "back with the copilot")
        )
        handoff = await store.get_handoff(chat.services.db, card.handoff_id)
        assert handoff is not None and handoff.status == "returned"
        assert await chat.say("how do I connect to the vpn"), "the copilot answers"


async def test_the_console_opens_the_desk_and_explains_a_missing_handoff() -> None:
    async with AgentSession(load_settings()) as agent:
        shown: list[str] = []

        async def lines() -> Any:
            for line in ("hello", "take 3", "away", "/quit", "never read"):
                yield line

        await run_agent(agent, lines(), shown.append, echo=True)

    text = "\n".join(shown)
    assert "Hand-offs will arrive in this channel" in text
    assert "take a hand-off first" in text
    assert "no hand-off card 3 (cards: none yet)" in text
    assert "Sam Rivera: away." in text
    assert "never read" not in text
