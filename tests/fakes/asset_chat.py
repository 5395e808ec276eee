"""Asset-request conversations in tests: notifier passes, approval cards and
Alex's request for Microsoft Project, shared by the embedded and Graph tests."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.app import NOTIFIER_KEY
from bot.chat import ChatSession, render


async def deliver(*chats: ChatSession) -> None:
    """One notifier pass in each bot process: what is due goes out now."""
    for chat in chats:
        await chat._app[NOTIFIER_KEY].run_once()


def texts(chat: ChatSession) -> list[str]:
    return [render(m)[0] for m in chat.connector.messages()]


def _newest_card(chat: ChatSession) -> tuple[str, dict[str, Any]] | None:
    """The newest approval card in ``chat``: its activity id and Approve data."""
    for call in reversed(chat.connector.calls):
        for attachment in call.activity.get("attachments") or []:
            for action in attachment.get("content", {}).get("actions") or []:
                data = action.get("data") or {}
                if data.get("action") == "asset_approve":
                    return call.activity_id, data
    return None


async def approval_card(chat: ChatSession) -> tuple[str, dict[str, Any]]:
    """The newest approval card in ``chat``: its activity id and Approve data.

    Waits a little for one: every bot process runs a notifier, and another
    process's pass may be the one that sends it.
    """
    for _ in range(100):
        found = _newest_card(chat)
        if found is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("no approval card arrived")


async def ask_for_project(alex: ChatSession) -> None:
    asked = await alex.say("I need Microsoft Project")
    assert "Why do you need Microsoft Project Plan 3?" in render(asked[0])[0]
    card = await alex.say("to plan the Q1 product launch")
    assert "Request Microsoft Project Plan 3" in render(card[-1])[0]
    done = await alex.say("1")
    assert "waiting for Dana Park to approve it" in render(done[-1])[0]
