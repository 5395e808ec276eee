"""What a caller sees for activities the bot will not act on: unsafe reply
addresses, malformed bodies, other content types and activity types it ignores.

Every refusal happens before any handler runs: no turn, no reply, no row
written, and no connection or name lookup aimed off this machine.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes.bot_harness import RunningBot
from fakes.outbound import OutboundAttempts
from sqlalchemy import func, select

from bot.app import MAX_JSON_DEPTH, SERVICES_KEY
from tools.db import conversation_references, processed_activities


async def _rows_written(bot: RunningBot) -> int:
    async with bot.app[SERVICES_KEY].db.connect() as conn:
        counts = [
            (await conn.execute(select(func.count()).select_from(table))).scalar()
            for table in (processed_activities, conversation_references)
        ]
    return sum(c or 0 for c in counts)


async def _assert_nothing_happened(bot: RunningBot, outbound: OutboundAttempts) -> None:
    await bot.settle()
    assert bot.copilot.calls == []
    assert bot.connector.calls == []
    assert await _rows_written(bot) == 0
    assert outbound.outside() == []


_NOT_LOOPBACK = "local mode replies only to a loopback serviceUrl"
_NOT_A_URL = "'serviceUrl' must be an absolute http or https URL"


@pytest.mark.parametrize(
    ("service_url", "reason"),
    [
        ("http://169.254.169.254/", _NOT_LOOPBACK),
        ("http://169.254.169.254/latest/meta-data/", _NOT_LOOPBACK),
        ("https://smba.trafficmanager.net/teams/", _NOT_LOOPBACK),
        ("http://10.0.0.5:3978/", _NOT_LOOPBACK),
        ("http://[fd00::1]:8080/", _NOT_LOOPBACK),
        ("http://metadata.google.internal/", _NOT_LOOPBACK),
        ("http://localhost.attacker.example/", _NOT_LOOPBACK),
        ("http://2130706433/", _NOT_LOOPBACK),
        ("http://[::ffff:169.254.169.254]/", _NOT_LOOPBACK),
        ("http://127.0.0.1@169.254.169.254/", _NOT_A_URL),
        ("http://127.0.0.1\\@169.254.169.254/", _NOT_A_URL),
        ("ftp://127.0.0.1/", _NOT_A_URL),
        ("file:///etc/passwd", _NOT_A_URL),
        ("127.0.0.1:3978", _NOT_A_URL),
        ("not a url", _NOT_A_URL),
        (42, "'serviceUrl' must be a string"),
        (None, "'serviceUrl' is missing"),
        ("", "'serviceUrl' is missing"),
    ],
    ids=[
        "metadata",
        "metadata-path",
        "teams-connector",
        "private-ip",
        "private-ipv6",
        "metadata-name",
        "localhost-prefix",
        "decimal-ip",
        "mapped-ipv6",
        "userinfo",
        "backslash",
        "ftp",
        "file",
        "no-scheme",
        "words",
        "number",
        "missing",
        "empty",
    ],
)
async def test_local_mode_refuses_a_reply_address_off_this_machine(
    bot: RunningBot, outbound: OutboundAttempts, service_url: Any, reason: str
) -> None:
    activity = bot.activity("reset my password")
    if service_url is None:
        del activity["serviceUrl"]
    else:
        activity["serviceUrl"] = service_url

    status, text = await bot.post(activity)

    assert status == 400
    assert reason in json.loads(text)["error"]
    await _assert_nothing_happened(bot, outbound)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_local_mode_replies_to_a_loopback_address(
    bot: RunningBot, outbound: OutboundAttempts, host: str
) -> None:
    activity = bot.activity("is the printer down?")
    activity["serviceUrl"] = f"http://{host}:{bot.connector.port}/"

    status, _ = await bot.post(activity)

    assert status == 200
    [reply] = await bot.connector.wait_for_messages(1)
    assert reply["text"] == "Answer #1 in this thread: is the printer down? [1]"
    assert outbound.outside() == []


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


async def test_a_hugely_nested_body_gets_400_not_500(
    bot: RunningBot, outbound: OutboundAttempts
) -> None:
    status, text = await bot.post(b"[" * 100_000 + b"]" * 100_000)

    assert status == 400
    assert json.loads(text)["error"] == (
        f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels"
    )
    await _assert_nothing_happened(bot, outbound)


async def test_an_activity_nesting_past_the_limit_gets_400(
    bot: RunningBot, outbound: OutboundAttempts
) -> None:
    activity = bot.activity("", value=_nested(MAX_JSON_DEPTH))

    status, text = await bot.post(activity)

    assert status == 400
    assert "nests deeper than" in json.loads(text)["error"]
    await _assert_nothing_happened(bot, outbound)


def _without(activity: dict[str, Any], path: str) -> dict[str, Any]:
    *parents, last = path.split(".")
    holder = activity
    for key in parents:
        holder = holder[key]
    del holder[last]
    return activity


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda a: _without(a, "from"), "'from'"),
        (lambda a: _without(a, "from.id"), "'from.id'"),
        (lambda a: {**a, "from": {"id": ""}}, "'from.id'"),
        (lambda a: _without(a, "conversation.id"), "'conversation.id'"),
        (lambda a: _without(a, "conversation"), "'conversation.id'"),
        (lambda a: _without(a, "type"), "'type'"),
        (lambda a: _without(a, "id"), "'id'"),
    ],
    ids=[
        "no-from",
        "no-from-id",
        "empty-from-id",
        "no-conversation-id",
        "no-conversation",
        "no-type",
        "message-without-id",
    ],
)
async def test_an_activity_missing_a_field_gets_400_naming_it(
    bot: RunningBot, outbound: OutboundAttempts, change: Any, field: str
) -> None:
    status, text = await bot.post(change(bot.activity("hello")))

    assert status == 400
    assert json.loads(text)["error"] == (
        f"not a Bot Framework activity: {field} is missing"
    )
    await _assert_nothing_happened(bot, outbound)


@pytest.mark.parametrize(
    ("content_type", "received"),
    [
        ("text/plain", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        (None, "no Content-Type"),
    ],
    ids=["text", "form", "missing"],
)
async def test_a_body_that_is_not_declared_json_gets_415(
    bot: RunningBot,
    outbound: OutboundAttempts,
    content_type: str | None,
    received: str,
) -> None:
    body = json.dumps(bot.activity("hello")).encode()
    headers = {"Content-Type": content_type} if content_type else {}

    async with bot.http.post(
        bot.url + "/api/messages",
        data=body,
        headers=headers,
        skip_auto_headers=() if content_type else ("Content-Type",),
    ) as response:
        status, answer = response.status, await response.json()

    assert status == 415
    assert answer["error"] == (
        f"send the activity as application/json (received {received})"
    )
    await _assert_nothing_happened(bot, outbound)


async def test_json_with_a_charset_is_accepted(bot: RunningBot) -> None:
    body = json.dumps(bot.activity("hello")).encode()

    async with bot.http.post(
        bot.url + "/api/messages",
        data=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
    ) as response:
        assert response.status == 200

    assert [c.text for c in bot.copilot.calls] == ["hello"]


@pytest.mark.parametrize(
    "change",
    [
        {"type": "foo"},
        {"type": "typing", "text": None},
        {"type": "messageReaction", "reactionsAdded": [{"type": "like"}]},
        {"type": "installationUpdate", "action": "add"},
        {"type": "event", "name": "application/vnd.microsoft.meetingStart"},
        {"type": "conversationUpdate", "membersRemoved": [{"id": "29:someone"}]},
        {"type": "messageUpdate", "text": "edited: reset my password"},
        {"type": "messageDelete"},
    ],
    ids=lambda change: (
        change["type"] + ("-removed" if "membersRemoved" in change else "")
    ),
)
async def test_activity_types_the_bot_does_not_handle_are_acknowledged_and_ignored(
    bot: RunningBot, outbound: OutboundAttempts, change: dict[str, Any]
) -> None:
    activity = {**bot.activity("reset my password"), **change}

    status, text = await bot.post(activity)

    assert (status, text) == (200, "")
    await _assert_nothing_happened(bot, outbound)
