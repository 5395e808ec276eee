"""What a Teams user sees: answers, re-sends, mentions, card submits, empty text."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from fakes.bot_harness import RunningBot, run_bot
from fakes.copilot import FakeCopilot

from bot.connector import LocalConnector
from tools.settings import Settings, load_settings


def _ai_entity(message: dict) -> dict:
    return next(e for e in message["entities"] if e["@type"] == "Message")


async def test_a_question_gets_an_answer_with_citations_ai_label_and_feedback(
    bot: RunningBot,
) -> None:
    status, _ = await bot.post(bot.activity("my VPN keeps dropping"))

    assert status == 200
    [reply, question] = await bot.connector.wait_for_messages(2)
    assert reply["text"] == "Answer #1 in this thread: my VPN keeps dropping [1]"
    assert question["text"] == "Did this fix it?", "a cited answer asks"
    assert [a["value"] for a in question["suggestedActions"]["actions"]] == [
        "Yes, that fixed it",
        "No, I'm still stuck",
    ]
    entity = _ai_entity(reply)
    assert entity["additionalType"] == ["AIGeneratedContent"]
    assert entity["citation"][0]["appearance"]["url"] == "https://kb.example.com/vpn"
    assert reply["channelData"]["feedbackLoopEnabled"] is True
    assert reply["replyToId"]


async def test_the_requester_comes_from_the_activity(bot: RunningBot) -> None:
    await bot.post(bot.activity("hi there"))

    [call] = bot.copilot.calls
    assert call.requester.object_id == bot.user.id
    assert call.requester.tenant_id == "local"
    assert call.requester.name == "Local User"
    assert call.requester.roles == frozenset()


async def test_teams_resending_a_slow_turn_gets_one_turn_and_one_reply(
    settings: Settings, connector: LocalConnector
) -> None:
    copilot = FakeCopilot(delay_s=1.0)
    async with run_bot(settings, connector, copilot) as bot:
        activity = bot.activity("reset my password", activity_id="1700000000001")

        first = asyncio.create_task(bot.post(activity))
        await asyncio.sleep(0.2)
        resends = await asyncio.gather(bot.post(activity), bot.post(activity))
        assert await first == (200, "")
        await bot.settle()

    assert [status for status, _ in resends] == [200, 200]
    assert len(copilot.calls) == 1
    assert [m["text"] for m in connector.messages()] == [
        "Answer #1 in this thread: reset my password [1]",
        "Did this fix it?",
    ]


async def test_two_app_instances_on_one_database_share_the_dedupe(
    settings: Settings, connector: LocalConnector
) -> None:
    async with (
        run_bot(settings, connector) as one,
        run_bot(settings, connector) as two,
    ):
        activity = one.activity("is the printer down?", activity_id="42")
        results = await asyncio.gather(one.post(activity), two.post(activity))

    assert [status for status, _ in results] == [200, 200]
    assert len(one.copilot.calls) + len(two.copilot.calls) == 1
    assert len(connector.messages()) == 1


async def test_the_bots_own_mention_is_stripped_before_the_agent_sees_the_text(
    bot: RunningBot,
) -> None:
    activity = bot.activity(
        "\r\n<at>Helpdesk</at> my VPN is broken, ask <at>Dana Park</at>",
        conversation_type="groupChat",
    )
    activity["entities"] = [
        {
            "type": "mention",
            "text": "<at>Helpdesk</at>",
            "mentioned": {"id": activity["recipient"]["id"], "name": "Helpdesk"},
        },
        {"type": "mention", "mentioned": {"id": "29:dana", "name": "Dana Park"}},
    ]

    status, _ = await bot.post(activity)

    assert status == 200
    assert [c.text for c in bot.copilot.calls] == ["my VPN is broken, ask Dana Park"]


@pytest.mark.parametrize(
    "text",
    ["<at>Helpdesk</at>&nbsp;", "<at>Helpdesk</at>&nbsp;&nbsp;\r\n", "&nbsp;"],
    ids=["mention-nbsp", "mention-nbsp-newline", "nbsp-only"],
)
async def test_a_bare_mention_with_entities_asks_for_a_description(
    bot: RunningBot, text: str
) -> None:
    activity = bot.activity(text, conversation_type="groupChat")
    activity["entities"] = [
        {
            "type": "mention",
            "text": "<at>Helpdesk</at>",
            "mentioned": {"id": activity["recipient"]["id"], "name": "Helpdesk"},
        }
    ]

    status, _ = await bot.post(activity)

    assert status == 200
    assert bot.copilot.calls == []
    [reply] = bot.connector.messages()
    assert "describe the problem in words" in reply["text"]


async def test_a_leading_mention_of_the_bots_name_without_an_entity_is_stripped(
    bot: RunningBot,
) -> None:
    activity = bot.activity(
        "<at>Helpdesk</at>&nbsp;my printer says &quot;offline&quot;",
        conversation_type="groupChat",
    )

    status, _ = await bot.post(activity)

    assert status == 200
    assert [c.text for c in bot.copilot.calls] == ['my printer says "offline"']


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        ({"action": "approve", "approval": "REQ-1"}, "I can't use that card."),
        (None, "I couldn't read your choice from that card."),
    ],
    ids=["with-value", "value-dropped-by-teams"],
)
async def test_a_card_submit_never_reaches_the_model(
    bot: RunningBot, value, answer: str
) -> None:
    activity = bot.activity("", value=value)
    activity["replyToId"] = "card-activity-1"

    status, _ = await bot.post(activity)

    assert status == 200
    assert bot.copilot.calls == []
    [reply] = bot.connector.messages()
    assert reply["text"].startswith(answer)


@pytest.mark.parametrize(
    ("text", "attachments", "mentions_screenshot"),
    [
        (None, [{"contentType": "image/png", "contentUrl": "https://x/1.png"}], True),
        ("   ", [], False),
        ("\U0001f62d", [], False),
        ("", [], False),
    ],
    ids=["image-only", "blank", "lone-emoji", "empty"],
)
async def test_messages_without_words_ask_for_a_description(
    bot: RunningBot, text, attachments, mentions_screenshot
) -> None:
    activity = bot.activity(text)
    if attachments:
        activity["attachments"] = attachments

    status, _ = await bot.post(activity)

    assert status == 200
    assert bot.copilot.calls == []
    [reply] = bot.connector.messages()
    assert "describe the problem in words" in reply["text"]
    assert "screenshot" in reply["text"]
    assert ("can't read images" in reply["text"]) is mentions_screenshot


async def test_a_foreign_tenant_is_refused_and_nothing_is_written(
    connector: LocalConnector,
) -> None:
    from sqlalchemy import func, select

    from bot.app import SERVICES_KEY
    from tools.db import conversation_references, processed_activities

    settings = load_settings(allowed_tenants="contoso-tenant")
    async with run_bot(settings, connector) as bot:
        status, _ = await bot.post(bot.activity("reset my password"))
        async with bot.app[SERVICES_KEY].db.connect() as conn:
            counts = [
                (await conn.execute(select(func.count()).select_from(t))).scalar()
                for t in (processed_activities, conversation_references)
            ]

    assert status == 200
    assert bot.copilot.calls == []
    assert counts == [0, 0]
    [reply] = connector.messages()
    assert "only serves Contoso employees" in reply["text"]


async def test_one_user_in_two_tenants_gets_two_separate_threads(
    bot: RunningBot,
) -> None:
    from bot.chat import ChatUser

    for tenant in ("tenant-a", "tenant-b"):
        user = ChatUser(id="same-object-id", name="Sam", tenant_id=tenant)
        await bot.post(bot.activity("hello", user=user))

    threads = {c.thread_id for c in bot.copilot.calls}
    assert threads == {
        f"tenant-a:{bot.conversation_id}",
        f"tenant-b:{bot.conversation_id}",
    }
    texts = [m["text"] for m in bot.connector.messages()]
    assert texts == ["Answer #1 in this thread: hello [1]", "Did this fix it?"] * 2


async def test_a_new_user_is_greeted_once(bot: RunningBot) -> None:
    update = {
        "type": "conversationUpdate",
        "id": "update-1",
        "channelId": "msteams",
        "serviceUrl": bot.connector.url,
        "from": {"id": bot.user.id, "name": bot.user.name},
        "recipient": {"id": "28:helpdesk-local", "name": "Helpdesk"},
        "conversation": {"id": bot.conversation_id, "conversationType": "personal"},
        "channelData": {"tenant": {"id": "local"}},
        "membersAdded": [{"id": "28:helpdesk-local"}],
    }

    assert (await bot.post(update))[0] == 200
    update["id"] = "update-2"
    assert (await bot.post(update))[0] == 200

    [greeting] = bot.connector.messages()
    assert greeting["text"].startswith("Hi Local! I'm Helpdesk")
    assert bot.copilot.calls == []


async def test_a_failing_turn_apologises_with_a_correlation_id_and_no_5xx(
    settings: Settings, connector: LocalConnector, caplog: pytest.LogCaptureFixture
) -> None:
    copilot = FakeCopilot(fail_with=RuntimeError("checkpointer exploded"))
    async with run_bot(settings, connector, copilot) as bot:
        with caplog.at_level(logging.ERROR, logger="bot.handler"):
            status, _ = await bot.post(bot.activity("what is my quota?"))

    assert status == 200
    [reply] = connector.messages()
    assert "Sorry, something went wrong" in reply["text"]
    correlation_id = reply["text"].rstrip(".").rsplit(" ", 1)[-1]
    assert any(correlation_id in r.getMessage() and r.exc_info for r in caplog.records)
    assert "checkpointer" not in reply["text"]


async def test_a_turn_past_the_deadline_answers_http_early_and_replies_later(
    connector: LocalConnector,
) -> None:
    settings = load_settings(turn_deadline_s=0.3)
    copilot = FakeCopilot(delay_s=2.0)
    async with run_bot(settings, connector, copilot) as bot:
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, _ = await bot.post(bot.activity("slow question"))
        elapsed = loop.time() - started

        assert status == 200
        assert elapsed < 1.5
        assert connector.messages() == []
        [reply] = await connector.wait_for_messages(1, wait_s=10)

    assert reply["text"] == "Answer #1 in this thread: slow question [1]"
    assert connector.typing_count() >= 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"text": "hi"}', "'type' is missing"),
        (b'{"type": "message"}', "'conversation.id' is missing"),
    ],
    ids=["bad-json", "array", "no-type", "no-conversation"],
)
async def test_bad_requests_get_400_with_a_clear_message(
    bot: RunningBot, body: bytes, reason: str
) -> None:
    status, text = await bot.post(body)

    assert status == 400
    assert reason in text
    assert bot.copilot.calls == []


async def test_feedback_is_acknowledged(bot: RunningBot) -> None:
    invoke = bot.activity(None)
    invoke.update(
        type="invoke",
        name="message/submitAction",
        replyToId="answer-1",
        value={
            "actionName": "feedback",
            "actionValue": {"reaction": "like", "feedback": "{}"},
        },
    )

    status, _ = await bot.post(invoke)

    assert status == 200
    assert bot.connector.messages() == []


async def test_health_and_readiness(
    settings: Settings, connector: LocalConnector
) -> None:
    from fakes.bot_services import FakeKnowledge

    knowledge = FakeKnowledge(chunks=7)
    async with run_bot(settings, connector, knowledge=knowledge) as bot:
        assert await bot.get("/healthz") == (200, {"status": "alive"})
        assert await bot.get("/readyz") == (
            200,
            {
                "status": "ready",
                "enabled_tools": 1,
                "knowledge_chunks": 7,
                "warnings": [],
            },
        )
        knowledge.down = True
        status, body = await bot.get("/readyz")

    assert status == 503
    assert "knowledge index unavailable" in body["error"]


async def test_an_empty_knowledge_base_is_ready_with_a_warning(
    settings: Settings, connector: LocalConnector
) -> None:
    from fakes.bot_services import FakeKnowledge

    async with run_bot(settings, connector, knowledge=FakeKnowledge(chunks=0)) as bot:
        status, body = await bot.get("/readyz")

    assert status == 200
    assert body["knowledge_chunks"] == 0
    [warning] = body["warnings"]
    assert "knowledge base is empty" in warning
    assert "helpdesk kb ingest" in warning


async def test_without_an_enabled_tool_the_bot_is_not_ready(
    settings: Settings, connector: LocalConnector
) -> None:
    from fakes.bot_services import FAKE_TOOL

    disabled = FAKE_TOOL.model_copy(update={"enabled": False})
    async with run_bot(settings, connector, tools=(disabled,)) as bot:
        status, body = await bot.get("/readyz")

    assert status == 503
    assert "no tool is enabled" in body["error"]
    assert "HELPDESK_MANIFESTS_DIR" in body["error"]


class _OverlapCopilot(FakeCopilot):
    """Counts how many turns run at once in each conversation."""

    def __init__(self) -> None:
        super().__init__(delay_s=0.3)
        self.running: dict[str, int] = {}
        self.most: dict[str, int] = {}

    async def arun_turn(self, **kwargs: Any) -> Any:
        key = kwargs["conversation_id"]
        self.running[key] = self.running.get(key, 0) + 1
        self.most[key] = max(self.most.get(key, 0), self.running[key])
        try:
            return await super().arun_turn(**kwargs)
        finally:
            self.running[key] -= 1


async def test_one_conversation_runs_one_turn_at_a_time(
    settings: Settings, connector: LocalConnector
) -> None:
    copilot = _OverlapCopilot()
    async with run_bot(settings, connector, copilot) as bot:
        posts = [
            bot.post(bot.activity(text, activity_id=f"a{i}", conversation_id=conv))
            for i, (text, conv) in enumerate(
                [("first", "conv-1"), ("second", "conv-1"), ("other", "conv-2")]
            )
        ]
        statuses = await asyncio.gather(*posts)
        await bot.settle()

    assert [status for status, _ in statuses] == [200, 200, 200]
    assert copilot.most == {"conv-1": 1, "conv-2": 1}
    answers = [m for m in connector.messages() if m["text"].startswith("Answer")]
    assert len(answers) == 3
    started = {c.conversation_id for c in copilot.calls}
    assert started == {"conv-1", "conv-2"}
