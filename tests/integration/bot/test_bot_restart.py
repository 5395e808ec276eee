"""State that must outlive a process: threads, dedupe records, references."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from fakes.bot_harness import run_bot
from fakes.copilot import FakeCopilot

from bot.app import SERVICES_KEY
from bot.chat import ChatUser
from bot.connector import LocalConnector
from tools.db import get_reference
from tools.settings import Settings, load_settings


@pytest.fixture(params=["sqlite", "postgres"])
def durable_settings(request: pytest.FixtureRequest) -> Settings:
    if request.param == "postgres":
        return load_settings(database_url=request.getfixturevalue("postgres_url"))
    return load_settings()


async def test_a_conversation_survives_a_restart(
    durable_settings: Settings, connector: LocalConnector
) -> None:
    history = durable_settings.data_dir / "fake-threads.json"
    conversation = f"a:{uuid.uuid4().hex}"
    first_id = uuid.uuid4().hex

    async with run_bot(
        durable_settings, connector, FakeCopilot(history_file=history)
    ) as before:
        before.conversation_id = conversation
        await before.post(before.activity("my laptop is slow", activity_id=first_id))

    async with run_bot(
        durable_settings, connector, FakeCopilot(history_file=history)
    ) as after:
        after.conversation_id = conversation
        resent = await after.post(
            after.activity("my laptop is slow", activity_id=first_id)
        )
        await after.post(after.activity("it is a ThinkPad"))
        reference = await get_reference(
            after.app[SERVICES_KEY].db,
            tenant_id="local",
            user_object_id=after.user.id,
            conversation_id=conversation,
        )

    assert resent[0] == 200
    assert [m["text"] for m in connector.messages(conversation)] == [
        "Answer #1 in this thread: my laptop is slow [1]",
        "Did this fix it?",
        "Answer #2 in this thread: it is a ThinkPad [1]",
        "Did this fix it?",
    ]
    assert reference is not None
    assert reference["serviceUrl"] == connector.url
    assert reference["conversation"]["id"] == conversation


async def test_two_apps_on_one_sqlite_file_under_load_lose_no_turn(
    settings: Settings, connector: LocalConnector
) -> None:
    async with (
        run_bot(settings, connector, FakeCopilot(delay_s=0.05)) as one,
        run_bot(settings, connector, FakeCopilot(delay_s=0.05)) as two,
    ):
        posts = []
        for n in range(30):
            bot = (one, two)[n % 2]
            user = ChatUser(id=f"user-{n}", name=f"User {n}")
            posts.append(
                bot.post(
                    bot.activity(
                        f"question {n}", user=user, conversation_id=f"a:conv-{n}"
                    )
                )
            )
        results = await asyncio.gather(*posts)
        await one.settle()
        await two.settle()

    assert [status for status, _ in results] == [200] * 30
    assert len(one.copilot.calls) + len(two.copilot.calls) == 30
    texts = [m["text"] for m in connector.messages() if m["text"] != "Did this fix it?"]
    assert len(texts) == 30
    assert not [t for t in texts if not t.startswith("Answer #1")]
