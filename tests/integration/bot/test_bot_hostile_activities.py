"""Activities with hostile ids, NULs, wrong types, unknown invokes or too much
data: every one gets a JSON 4xx naming the field, or is cleaned and served.

Refusals happen before any handler runs: no turn, no reply, no row written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fakes.bot_harness import RunningBot, run_bot
from sqlalchemy import func, select

from bot.app import MAX_BODY_BYTES, SERVICES_KEY
from bot.chat import ChatSession, message_activity, render
from bot.connector import LocalConnector
from bot.inbound import MAX_CONVERSATION_ID, MAX_ID, MAX_TENANT_ID
from tools.db import conversation_references, processed_activities
from tools.settings import load_settings

Change = Callable[[dict[str, Any]], None]


@pytest.fixture
async def bot_on_each_database(
    app_database_url: str | None, connector: LocalConnector
) -> AsyncIterator[RunningBot]:
    settings = load_settings(database_url=app_database_url)
    async with run_bot(settings, connector) as running:
        yield running


async def _rows_written(bot: RunningBot) -> int:
    async with bot.app[SERVICES_KEY].db.connect() as conn:
        counts = [
            (await conn.execute(select(func.count()).select_from(table))).scalar()
            for table in (processed_activities, conversation_references)
        ]
    return sum(c or 0 for c in counts)


async def _assert_refused(bot: RunningBot, status: int, text: str, field: str) -> str:
    assert status == 400, text
    error = json.loads(text)["error"]
    assert f"'{field}'" in error
    await bot.settle()
    assert bot.copilot.calls == []
    assert bot.connector.calls == []
    assert await _rows_written(bot) == 0
    return str(error)


def _set(path: str, value: Any) -> Change:
    def change(activity: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        holder = activity
        for key in parents:
            holder = holder.setdefault(key, {})
        holder[last] = value

    return change


_ID_FIELDS = [
    ("id", MAX_ID),
    ("conversation.id", MAX_CONVERSATION_ID),
    ("from.id", MAX_ID),
    ("from.aadObjectId", MAX_ID),
    ("recipient.id", MAX_ID),
    ("replyToId", MAX_ID),
    ("conversation.tenantId", MAX_TENANT_ID),
    ("channelData.tenant.id", MAX_TENANT_ID),
]
_CONTROLS = {
    "nul": "\x00",
    "escape": "\x1b[2J",
    "newline": "\n",
    "rtl-override": "\u202e",
    "lone-surrogate": "\ud800",
}


@pytest.mark.parametrize("control", list(_CONTROLS.values()), ids=list(_CONTROLS))
@pytest.mark.parametrize("field", [f for f, _ in _ID_FIELDS])
async def test_an_id_with_a_control_character_gets_400_naming_it(
    bot: RunningBot, field: str, control: str
) -> None:
    activity = bot.activity("hello")
    _set(field, f"id-{control}-1")(activity)

    status, text = await bot.post(json.dumps(activity))

    error = await _assert_refused(bot, status, text, field)
    assert "control character" in error


@pytest.mark.parametrize(("field", "limit"), _ID_FIELDS, ids=[f for f, _ in _ID_FIELDS])
async def test_an_id_past_its_bound_gets_400_naming_it(
    bot: RunningBot, caplog: pytest.LogCaptureFixture, field: str, limit: int
) -> None:
    activity = bot.activity("hello")
    _set(field, "x" * 100_000)(activity)

    with caplog.at_level(logging.DEBUG):
        status, text = await bot.post(activity)

    error = await _assert_refused(bot, status, text, field)
    assert f"at most {limit}" in error
    assert max(len(r.getMessage()) for r in caplog.records) < 2_000


async def test_ids_at_their_bounds_are_served_on_each_database(
    bot_on_each_database: RunningBot,
) -> None:
    bot = bot_on_each_database
    activity = bot.activity("is the printer down?")
    for field, limit in _ID_FIELDS:
        if field != "replyToId":
            _set(field, "i" * limit)(activity)

    status, _ = await bot.post(activity)
    again, _ = await bot.post(activity)  # a re-send is still recognised

    assert (status, again) == (200, 200)
    await bot.settle()
    assert [c.text for c in bot.copilot.calls] == ["is the printer down?"]
    assert len(bot.connector.messages()) == 1  # the answer asks (it has a "?")


async def test_nul_is_dropped_from_text_and_card_values_on_each_database(
    bot_on_each_database: RunningBot,
) -> None:
    bot = bot_on_each_database
    activity = bot.activity("my printer\x00 is jammed\ud800")
    activity["from"]["name"] = "Alex\x00 Employee"

    status, _ = await bot.post(activity)
    await bot.settle()

    assert status == 200
    [call] = bot.copilot.calls
    assert call.text == "my printer is jammed\ufffd"
    assert [m["text"] for m in bot.connector.messages()][1:] == ["Did this fix it?"]


@pytest.mark.parametrize(
    ("change", "field", "wanted"),
    [
        (_set("type", 5), "type", "must be a string"),
        (_set("type", ["message"]), "type", "must be a string"),
        (_set("conversation", "c-1"), "conversation", "must be an object"),
        (_set("from", "someone"), "from", "must be an object"),
        (_set("conversation.id", 42), "conversation.id", "must be a string"),
        (_set("from.id", {"id": "x"}), "from.id", "must be a string"),
        (_set("id", 12345), "id", "must be a string"),
        (_set("replyToId", 7), "replyToId", "must be a string"),
        (_set("entities", "x"), "entities", "must be a list of objects"),
        (_set("entities", [5]), "entities", "must be a list of objects"),
        (_set("attachments", "x"), "attachments", "must be a list of objects"),
        (_set("attachments", [5]), "attachments", "must be a list of objects"),
        (_set("timestamp", "yesterday"), "timestamp", "ISO 8601"),
        (_set("timestamp", 5), "timestamp", "ISO 8601"),
        (_set("localTimestamp", "soon"), "localTimestamp", "ISO 8601"),
        (_set("membersAdded", "x"), "membersAdded", "must be a list of objects"),
    ],
    ids=[
        "type-number",
        "type-list",
        "conversation-string",
        "from-string",
        "conversation-id-number",
        "from-id-object",
        "id-number",
        "reply-to-number",
        "entities-string",
        "entities-numbers",
        "attachments-string",
        "attachments-numbers",
        "timestamp-words",
        "timestamp-number",
        "local-timestamp-words",
        "members-added-string",
    ],
)
async def test_a_field_of_the_wrong_type_gets_400_naming_it(
    bot: RunningBot, change: Change, field: str, wanted: str
) -> None:
    activity = bot.activity("hello")
    change(activity)

    status, text = await bot.post(activity)

    error = await _assert_refused(bot, status, text, field)
    assert wanted in error
    assert "is missing" not in error
    assert "deserialize" not in error.lower()
    assert "Error" not in error


async def test_a_body_over_the_limit_gets_a_json_413(bot: RunningBot) -> None:
    activity = bot.activity("x" * (MAX_BODY_BYTES + 10))

    status, text = await bot.post(activity)

    assert status == 413
    assert "larger than 1024 KB" in json.loads(text)["error"]
    await bot.settle()
    assert bot.copilot.calls == []


@pytest.mark.parametrize(
    "name",
    [
        "composeExtension/query",
        "task/fetch",
        "signin/verifyState",
        "config/fetch",
        "actionableMessage/executeAction",
        "application/search",
        "something/new",
        None,
    ],
)
async def test_an_invoke_the_bot_does_not_handle_gets_a_400(
    bot: RunningBot, name: str | None
) -> None:
    invoke = bot.activity(None)
    invoke.update(type="invoke", value={"anything": 1})
    if name is not None:
        invoke["name"] = name

    status, text = await bot.post(invoke)

    assert status == 400
    assert "this bot does not handle the invoke" in json.loads(text)["error"]
    await bot.settle()
    assert bot.copilot.calls == []
    assert bot.connector.messages() == []


async def test_an_action_execute_gets_the_universal_action_error_body(
    bot: RunningBot,
) -> None:
    invoke = bot.activity(None)
    invoke.update(
        type="invoke",
        name="adaptiveCard/action",
        value={
            "action": {"type": "Action.Execute", "verb": "approve", "data": {}},
            "trigger": "manual",
        },
    )

    status, text = await bot.post(invoke)

    assert status == 200
    answer = json.loads(text)
    assert answer["statusCode"] == 400
    assert answer["type"] == "application/vnd.microsoft.error"
    assert answer["value"]["code"] == "NotSupported"
    assert "adaptiveCard/action" in answer["value"]["message"]
    await bot.settle()
    assert bot.copilot.calls == []


async def test_nul_and_escapes_never_reach_a_ticket_on_postgres(
    fresh_postgres_url: str,
) -> None:
    settings = load_settings(database_url=fresh_postgres_url)

    async with ChatSession(settings) as chat:
        first = await chat.say("my vpn\x00 keeps dropping every hour\x1b[2J")
        assert not render(first[0])[0].startswith("Sorry, something went wrong")
        await chat.say("open a ticket")
        approve = dict(chat.choices[0])
        approve["field.short_description"] = (
            "VPN\x00 drops\u202e hourly\x1b]52;c;eA==\x07"
        )
        click = message_activity(
            service_url=chat.connector.url,
            conversation_id=chat.conversation_id,
            user=chat.user,
            text="",
            value=approve,
            reply_to_id=chat._choice_cards[0],
        )
        assert await chat.post(click) == 200
        [ticket] = await chat.services.tickets.alist(open_only=False)
        details = await chat.services.tickets.adetails(ticket.number)

    assert ticket.short_description == "VPN drops hourly"
    assert "my vpn keeps dropping every hour" in details.transcript
    stored = "".join(
        [
            details.transcript,
            ticket.description,
            *details.tried,
            *(label + url for label, url in details.links),
        ]
    )
    assert not any(ch in stored for ch in ("\x00", "\x1b", "\u202e"))
