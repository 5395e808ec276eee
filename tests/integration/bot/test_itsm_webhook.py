"""``POST /api/itsm/events``: signed ServiceNow events become ticket news."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes.bot_harness import RunningBot, card_actions, run_bot
from fakes.ticket_feed import add_outbox_row, event_count, event_row, signed_headers
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from bot.app import JOBS_KEY, SERVICES_KEY
from bot.connector import LocalConnector
from bot.itsm_webhook import MAX_BODY_BYTES, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.ticket_news import FIXED
from tools.settings import load_settings

SECRET = "shared-secret-for-tests"
NUMBER = "INC0010042"


@pytest.fixture
async def bot(
    app_database_url: str | None, connector: LocalConnector
) -> AsyncIterator[RunningBot]:
    settings = load_settings(
        database_url=app_database_url,
        itsm_webhook_secret=SECRET,
        notify_poll_s=0.1,
    )
    async with run_bot(settings, connector) as running:
        yield running


def _engine(bot: RunningBot) -> AsyncEngine:
    return bot.app[SERVICES_KEY].db


def _body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": "9d2f0c1e5b7a4e1f8c3d2b1a0f9e8d7c:5",
        "type": "resolved",
        "number": NUMBER,
        "sys_id": "9d2f0c1e5b7a4e1f8c3d2b1a0f9e8d7c",
        "comment": "Replaced the VPN profile on your laptop.",
        "author": "Alex Tech",
        "at": "2026-03-02 14:30:00",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


async def _post(
    bot: RunningBot,
    body: dict[str, Any] | bytes,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with bot.http.post(
        bot.url + "/api/itsm/events",
        data=raw,
        headers=headers if headers is not None else signed_headers(SECRET, raw),
    ) as response:
        return response.status, await response.json()


async def _post_raw(
    bot: RunningBot, body: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, Any]]:
    """POST with header bytes exactly as given (HTTP clients refuse to send
    bytes that are not text, but anything on the network can)."""
    url = URL(bot.url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        head = [
            b"POST /api/itsm/events HTTP/1.1",
            b"Host: " + url.raw_authority.encode("ascii"),
            b"Connection: close",
            b"Content-Length: " + str(len(body)).encode("ascii"),
            *(name + b": " + value for name, value in headers),
        ]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
        await writer.wait_closed()
    status_line, _, rest = answer.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(payload)


def _raw_headers(raw: bytes, **replace: bytes) -> list[tuple[bytes, bytes]]:
    """The signed headers as bytes, some replaced by the given bytes."""
    headers = {
        name: value.encode("ascii")
        for name, value in signed_headers(SECRET, raw).items()
    }
    names = {"signature": SIGNATURE_HEADER, "timestamp": TIMESTAMP_HEADER}
    for key, value in replace.items():
        headers[names.get(key, "Content-Type")] = value
    return [(name.encode("ascii"), value) for name, value in headers.items()]


async def _known_ticket(bot: RunningBot) -> str:
    """The employee wrote to the bot, and the ticket they raised reached ServiceNow."""
    status, _ = await bot.post(bot.activity("my VPN drops"))
    assert status == 200
    return await add_outbox_row(
        _engine(bot),
        number=NUMBER,
        caller_id=bot.user.id,
        conversation_id=bot.conversation_id,
        sys_id="9d2f0c1e5b7a4e1f8c3d2b1a0f9e8d7c",
    )


async def test_a_signed_event_becomes_a_proactive_card(
    bot: RunningBot, connector: LocalConnector
) -> None:
    await _known_ticket(bot)

    status, answer = await _post(bot, _body())
    [_, _, card] = await connector.wait_for_messages(3)

    assert (status, answer) == (
        202,
        {"status": "accepted", "event_id": "9d2f0c1e5b7a4e1f8c3d2b1a0f9e8d7c:5"},
    )
    assert connector.calls[-1].conversation_id == bot.conversation_id
    assert card["summary"] == f"{NUMBER} was resolved. Did this fix it?"
    body_text = json.dumps(card["attachments"][0]["content"])
    assert "Replaced the VPN profile on your laptop." in body_text
    assert "Alex Tech" in body_text
    assert card_actions(card)[0]["data"] == {
        "action": FIXED,
        "ticket": NUMBER,
        "event": "itsm:9d2f0c1e5b7a4e1f8c3d2b1a0f9e8d7c:5",
    }


async def test_a_replayed_event_gets_409_and_is_sent_once(
    bot: RunningBot, connector: LocalConnector
) -> None:
    await _known_ticket(bot)
    raw = json.dumps(_body()).encode()

    first, _ = await _post(bot, raw)
    await connector.wait_for_messages(3)
    # The same signed request again: a replay within the tolerance.
    again, answer = await _post(bot, raw)
    jobs = bot.app[JOBS_KEY]
    await jobs.wait_for_passes(jobs.passes + 2)

    assert (first, again) == (202, 409)
    assert "already received" in answer["error"]
    assert "nothing was sent again" in answer["error"]
    assert len(connector.messages()) == 3


@pytest.mark.parametrize(
    ("field", "value"),
    [("correlation_id", None), ("sys_id", None)],
    ids=["by-sys-id", "by-number"],
)
async def test_the_ticket_is_found_without_a_correlation_id(
    bot: RunningBot, connector: LocalConnector, field: str, value: Any
) -> None:
    await _known_ticket(bot)

    status, answer = await _post(bot, _body(**{field: value}))

    assert (status, answer["status"]) == (202, "accepted")
    await connector.wait_for_messages(3)


async def test_the_correlation_id_finds_a_ticket_by_our_idempotency_key(
    bot: RunningBot, connector: LocalConnector
) -> None:
    await bot.post(bot.activity("my VPN drops"))
    key = await add_outbox_row(
        _engine(bot),
        number=None,  # ServiceNow made it; the outbox has not heard back yet
        caller_id=bot.user.id,
        conversation_id=bot.conversation_id,
    )

    body = _body(type="commented", comment="Which building are you in?", sys_id=None)
    status, answer = await _post(bot, {**body, "correlation_id": key})
    [_, _, card] = await connector.wait_for_messages(3)

    assert (status, answer["status"]) == (202, "accepted")
    assert card["summary"].startswith(f"Alex Tech wrote on {NUMBER}.")


async def test_an_unknown_ticket_is_acknowledged_and_ignored(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.itsm_webhook")

    status, answer = await _post(bot, _body(number="INC0099999", sys_id=None))

    assert status == 202
    assert answer["status"] == "ignored"
    assert "INC0099999 was not raised through the help desk" in answer["reason"]
    assert "ignored" in caplog.text
    assert await event_count(_engine(bot)) == 0


def _bad_signatures() -> dict[str, dict[str, str]]:
    raw = json.dumps(_body()).encode()
    now = int(time.time())
    good = signed_headers(SECRET, raw, timestamp=now)
    return {
        "missing": {"Content-Type": "application/json"},
        "no-timestamp": {**good, TIMESTAMP_HEADER: ""},
        "wrong-secret": signed_headers("another-secret", raw, timestamp=now),
        "other-body": {
            **good,
            SIGNATURE_HEADER: sign(SECRET, str(now), raw + b" "),
        },
        "other-timestamp": {**good, TIMESTAMP_HEADER: str(now + 1)},
        "no-prefix": {**good, SIGNATURE_HEADER: good[SIGNATURE_HEADER][7:]},
        "garbage": {**good, SIGNATURE_HEADER: "sha256=zz"},
        "timestamp-not-a-number": {**good, TIMESTAMP_HEADER: "yesterday"},
    }


@pytest.mark.parametrize("case", list(_bad_signatures()))
async def test_an_unsigned_or_badly_signed_event_gets_401(
    bot: RunningBot, connector: LocalConnector, case: str
) -> None:
    await _known_ticket(bot)
    raw = json.dumps(_body()).encode()

    status, answer = await _post(bot, raw, _bad_signatures()[case])

    assert status == 401
    assert answer["error"]
    assert await event_count(_engine(bot)) == 0


_GOOD_DIGEST = b"0" * 64


@pytest.mark.parametrize(
    ("header", "value", "names"),
    [
        ("signature", b"sha256=\xff\xfe", SIGNATURE_HEADER),
        ("signature", "sha256=é".encode(), SIGNATURE_HEADER),
        ("signature", b"sha256=" + _GOOD_DIGEST[:-1] + b"\xc3\xa9", SIGNATURE_HEADER),
        ("signature", b"sha256=" + _GOOD_DIGEST + b"\xff", SIGNATURE_HEADER),
        ("signature", b"\xef\xbc\x93" * 30, SIGNATURE_HEADER),
        ("timestamp", b"17\xff", TIMESTAMP_HEADER),
        ("timestamp", "١٧٠٠٠٠٠٠٠٠".encode(), TIMESTAMP_HEADER),
    ],
    ids=[
        "signature-not-utf8",
        "signature-non-ascii",
        "signature-non-ascii-digit",
        "signature-trailing-byte",
        "signature-fullwidth-digits",
        "timestamp-not-utf8",
        "timestamp-arabic-digits",
    ],
)
async def test_header_bytes_that_are_not_ascii_get_401_not_500(
    bot: RunningBot, header: str, value: bytes, names: str
) -> None:
    await _known_ticket(bot)
    raw = json.dumps(_body()).encode()

    status, answer = await _post_raw(bot, raw, _raw_headers(raw, **{header: value}))

    assert status == 401
    assert names in answer["error"]
    assert await event_count(_engine(bot)) == 0


async def test_a_content_type_that_is_not_text_gets_415_without_its_bytes(
    bot: RunningBot,
) -> None:
    raw = json.dumps(_body()).encode()
    headers = _raw_headers(raw, content_type=b"application/json\xff\xfe")

    status, answer = await _post_raw(bot, raw, headers)

    assert status == 415
    assert answer["error"] == (
        "send the event as application/json (received an unreadable value)"
    )


@pytest.mark.parametrize("skew", [-301, 301], ids=["stale", "future"])
async def test_a_timestamp_outside_the_tolerance_gets_401(
    bot: RunningBot, skew: int
) -> None:
    await _known_ticket(bot)
    raw = json.dumps(_body()).encode()
    headers = signed_headers(SECRET, raw, timestamp=int(time.time()) + skew)

    status, answer = await _post(bot, raw, headers)

    assert (status, answer) == (401, {"error": "stale or future timestamp"})
    assert await event_count(_engine(bot)) == 0


async def test_a_body_over_256_kb_gets_413(bot: RunningBot) -> None:
    raw = json.dumps(_body(comment="x" * MAX_BODY_BYTES)).encode()

    status, answer = await _post(bot, raw)

    assert status == 413
    assert "256 KB" in answer["error"]


async def test_a_body_that_is_not_json_gets_400(bot: RunningBot) -> None:
    status, answer = await _post(bot, b"{not json")

    assert (status, answer) == (400, {"error": "the request body is not valid JSON"})


async def test_a_body_that_is_not_declared_json_gets_415(bot: RunningBot) -> None:
    raw = json.dumps(_body()).encode()
    headers = {**signed_headers(SECRET, raw), "Content-Type": "text/plain"}

    status, answer = await _post(bot, raw, headers)

    assert status == 415
    assert "application/json" in answer["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "the body must be a JSON object"),
        (_body(event_id=None), "'event_id' is missing"),
        (_body(type=None), "'type' is missing"),
        (_body(number=None), "'number' is missing"),
        (_body(type="deleted"), "'type' must be one of"),
        (_body(type=["resolved"]), "'type' must be one of"),
        (_body(number=42), "'number' must be a string"),
        (_body(event_id="x" * 101), "'event_id' is longer than 100 characters"),
        (_body(event_id="a b"), "'event_id' may hold letters, digits"),
        (_body(comment=["a"]), "'comment' must be a string"),
        (_body(comment="half a pair \ud83d"), "'comment' holds a NUL character"),
        (_body(comment="nul \x00 byte"), "'comment' holds a NUL character"),
        (_body(author="\udc00 Tech"), "'author' holds a NUL character"),
        (_body(correlation_id="k\ud800"), "'correlation_id' must be printable"),
        (_body(at="last tuesday"), "'at' must be an ISO 8601 time"),
        (_body(at="9999-12-31T23:59:59-23:59"), "'at' is out of range"),
        (_body(at="0001-01-01T00:00:00+23:59"), "'at' is out of range"),
        (_body(at="9999-12-31T23:59:59+00:00"), "'at' is out of range"),
        (_body(at="1969-12-31T23:59:59Z"), "'at' is out of range"),
        (_body(at="0001-01-01 00:00:00"), "'at' is out of range"),
    ],
    ids=[
        "array",
        "no-event-id",
        "no-type",
        "no-number",
        "unknown-type",
        "type-not-text",
        "number-not-text",
        "long-event-id",
        "event-id-with-space",
        "comment-not-text",
        "comment-half-surrogate-pair",
        "comment-nul",
        "author-lone-surrogate",
        "correlation-id-lone-surrogate",
        "bad-time",
        "time-past-9999-in-utc",
        "time-before-year-1-in-utc",
        "time-far-ahead",
        "time-before-1970",
        "servicenow-time-year-1",
    ],
)
async def test_a_malformed_event_gets_400_naming_the_field(
    bot: RunningBot, body: Any, message: str
) -> None:
    status, answer = await _post(bot, json.dumps(body).encode())

    assert status == 400
    assert answer["error"].startswith(message)


async def test_the_webhook_is_off_without_a_secret(
    app_database_url: str | None, connector: LocalConnector
) -> None:
    settings = load_settings(database_url=app_database_url)
    async with run_bot(settings, connector) as bot:
        status, answer = await _post(bot, _body())

    assert status == 404
    assert "HELPDESK_ITSM_WEBHOOK_SECRET" in answer["error"]


async def test_an_accepted_event_is_stored_redacted_under_its_prefix(
    bot: RunningBot, connector: LocalConnector
) -> None:
    key = await _known_ticket(bot)
    body = _body(
        type="commented",
        event_id="abc:7",
        comment="Your new password: Xk29-pLm7-Qa",
        correlation_id=key,
    )

    status, _ = await _post(bot, body)
    row = await event_row(_engine(bot), "itsm:abc:7")
    await connector.wait_for_messages(3)

    assert status == 202
    assert "Xk29-pLm7-Qa" not in row.text
    assert (row.kind, row.number, row.caller_id) == ("commented", NUMBER, bot.user.id)
    assert row.conversation_id == bot.conversation_id
    assert "Xk29-pLm7-Qa" not in json.dumps(connector.messages()[-1])


async def test_a_number_too_long_for_python_gets_400(bot: RunningBot) -> None:
    raw = b'{"event_id": ' + b"1" * 5000 + b"}"

    status, answer = await _post(bot, raw)

    assert (status, answer) == (400, {"error": "the request body is not valid JSON"})


async def test_a_time_with_an_offset_is_stored_in_utc(
    bot: RunningBot, connector: LocalConnector
) -> None:
    await _known_ticket(bot)

    status, _ = await _post(bot, _body(at="2026-03-02T16:30:00+02:00"))
    row = await event_row(_engine(bot), "itsm:9d2f0c1e5b7a4e1f8c3d2b1a0f9e8d7c:5")
    await connector.wait_for_messages(3)

    assert status == 202
    stored = row.created_at
    stored = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
    assert stored == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
