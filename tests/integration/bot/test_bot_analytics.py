"""What a conversation leaves in the analytics: turns, tool calls, a knowledge
gap, a ticket, a hand-off and Teams feedback, with hashed ids and no words of
the employee but the redacted unanswered question; ``helpdesk report`` reads
them back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bot.chat import ChatSession, message_activity
from bot.cli import main
from tools.analytics import alist_events
from tools.analytics.tables import analytics_events
from tools.settings import load_settings


async def test_a_conversation_is_counted_without_personal_data(capsys) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(handoff_hours="always")
    async with ChatSession(settings) as chat:
        await chat.say("how do I connect to the VPN on Windows?")
        [answer] = [c for c in chat.connector.calls if c.activity.get("entities")]
        await chat.say(
            "the espresso machine in the kitchen leaks, my password is Hunter2!"
        )
        await chat.say("1")  # the drafted ticket, confirmed
        feedback = message_activity(
            service_url=chat.connector.url,
            conversation_id=chat.conversation_id,
            user=chat.user,
            text=None,
            reply_to_id=answer.activity_id,  # the answer the thumb is on
        )
        feedback.update(
            type="invoke",
            name="message/submitAction",
            value={"actionName": "feedback", "actionValue": {"reaction": "like"}},
        )
        assert await chat.post(feedback) == 200

        events = await alist_events(
            chat.services.db, since=datetime.now(UTC) - timedelta(hours=1)
        )
        kinds = [e.kind for e in events]
        assert kinds.count("turn") == 2  # the card click is not a message
        assert {"tool_call", "knowledge_gap", "ticket_opened", "feedback"} <= set(kinds)
        [gap] = [e for e in events if e.kind == "knowledge_gap"]
        assert "espresso" in (gap.detail or "") and "Hunter2" not in (gap.detail or "")

        async with chat.services.db.connect() as conn:
            rows = (await conn.execute(sa.select(analytics_events))).all()
        stored = " ".join(str(value) for row in rows for value in row)
        for personal in (chat.user.id, chat.user.name, chat.conversation_id, "Hunter2"):
            assert personal not in stored

    # The command runs its own event loop, as from a terminal.
    assert await asyncio.to_thread(main, ["report", "--since", "1d"]) == 0
    out = capsys.readouterr().out
    assert "escalated" in out.lower() and "espresso" in out


async def test_a_tool_rightly_saying_no_is_not_counted_as_a_failure() -> None:
    """Alex already has Visio: the request tool says so, which is the tool
    working. A hand-off with no one set up to take it is a failure."""
    async with ChatSession(load_settings()) as chat:
        await chat.say("I need Visio")
        await chat.say("I want to talk to a person")
        events = await alist_events(
            chat.services.db, since=datetime.now(UTC) - timedelta(hours=1)
        )

    said_no = [e for e in events if e.tool == "request_item"]
    assert [(e.kind, e.detail) for e in said_no] == [("tool_call", "refused")]
    handoff = [e for e in events if e.tool == "handoff_to_person"]
    assert [e.kind for e in handoff] == ["tool_failed"]
