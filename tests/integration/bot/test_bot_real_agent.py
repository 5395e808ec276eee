"""The host with the real agent (offline model) and embedded backends, end to end."""

from __future__ import annotations

from agent.checkpoint import open_checkpointer
from bot.chat import ChatSession, render
from tools.settings import load_settings


async def test_a_first_run_on_an_empty_data_dir_answers_with_sources() -> None:
    settings = load_settings()
    assert not settings.data_dir.exists()

    async with ChatSession(settings) as chat:
        replies = await chat.say("How do I connect to the VPN?")

    [answer, question] = replies
    assert question["text"] == "Did this fix it?"
    entity = answer["entities"][0]
    assert entity["additionalType"] == ["AIGeneratedContent"]
    assert entity["citation"], "the offline model cites the knowledge base"
    assert answer["channelData"]["feedbackLoopEnabled"] is True
    assert "Sources:\n  [1]" in render(answer)[0]


async def test_the_thread_continues_after_a_restart() -> None:
    settings = load_settings()

    async with ChatSession(settings) as first:
        await first.say("How do I connect to the VPN?")
    async with ChatSession(settings, conversation_id=first.conversation_id) as again:
        replies = await again.say("and how do I reset my password?")

    answer = replies[0]
    assert "password" in answer["text"].lower()
    assert not answer["text"].startswith("Sorry, something went wrong")
    async with open_checkpointer(settings) as saver:
        saved = await saver.aget_tuple(
            {
                "configurable": {
                    "thread_id": f"{again.user.tenant_id}:{again.conversation_id}",
                    "checkpoint_ns": "",
                }
            }
        )
    assert saved is not None
    said = [
        m.content
        for m in saved.checkpoint["channel_values"]["messages"]
        if m.type == "human"
    ]
    assert said == ["How do I connect to the VPN?", "and how do I reset my password?"]
