"""The terminal chat shows ticket news that arrives between questions."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

from fakes.bot_services import services_factory
from fakes.copilot import FakeCopilot, copilot_factory
from fakes.ticket_feed import ticket_event

from bot.chat import PROMPT, ChatSession, run_chat, terminal_notice
from bot.ticket_news import FIXED, NOT_FIXED
from tools.settings import load_settings
from tools.tickets.events import record_event


async def _typed(queue: asyncio.Queue[str]) -> AsyncIterator[str]:
    while (line := await queue.get()) != "":
        yield line


async def test_news_between_questions_is_shown_as_it_arrives() -> None:
    session = ChatSession(
        load_settings(notify_poll_s=0.1),
        app_options={
            "services_factory": services_factory(),
            "copilot_factory": copilot_factory(FakeCopilot()),
        },
    )
    typed: asyncio.Queue[str] = asyncio.Queue()
    answers: asyncio.Queue[str] = asyncio.Queue()
    news: asyncio.Queue[str] = asyncio.Queue()

    async with session as chat:
        talk = asyncio.create_task(
            run_chat(chat, _typed(typed), answers.put_nowait, notice=news.put_nowait)
        )
        await typed.put("my vpn drops")
        answer = await asyncio.wait_for(answers.get(), 10)

        event = ticket_event(
            "resolved", caller_id=chat.user.id, conversation_id=chat.conversation_id
        )
        await record_event(chat.services.db, event)
        shown = await asyncio.wait_for(news.get(), 10)
        choices = list(chat.choices)
        await typed.put("")
        await talk

    assert [answer] == [
        "helpdesk> Answer #1 in this thread: my vpn drops [1]\n"
        "Sources:\n  [1] Fix VPN connection problems "
        "<https://kb.example.com/vpn>"
    ]
    assert news.empty()
    assert shown.startswith("helpdesk> Ticket INC0001001\nYour ticket was resolved")
    assert "Did this fix it?\n  1. Yes, close it  2. No, reopen it" in shown
    assert [c["action"] for c in choices] == [FIXED, NOT_FIXED]


def test_a_notice_clears_the_prompt_line_and_draws_it_again() -> None:
    out = io.StringIO()

    terminal_notice(stream=out)("helpdesk> INC0001001 was resolved.")

    assert out.getvalue() == (f"\r\x1b[Khelpdesk> INC0001001 was resolved.\n{PROMPT}")
