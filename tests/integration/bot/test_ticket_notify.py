"""Ticket news: recorded events become proactive Teams messages, once."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from fakes.bot_credentials import FIXED_OUTBOUND_TOKEN, FixedTokenCredentialsFactory
from fakes.bot_harness import RunningBot, card_actions, run_bot
from fakes.bot_services import services_factory
from fakes.copilot import FakeCopilot, copilot_factory
from fakes.openid_server import OpenIdServer
from fakes.outbound import OutboundAttempts
from fakes.ticket_feed import event_row, make_due_now, ticket_event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import JOBS_KEY, NOTIFIER_KEY, SERVICES_KEY, create_app
from bot.chat import ChatUser, message_activity
from bot.connector import LocalConnector
from bot.jobs import BackgroundJobs, Job
from bot.ticket_news import FIXED, NOT_FIXED
from tools.db import conversation_references, create_engine, save_reference
from tools.settings import Settings, load_settings
from tools.tickets.base import TicketEvent
from tools.tickets.events import claim_due, record_event, settle

_PROCESS = Path(__file__).resolve().parents[2] / "fakes" / "bot_process.py"
_ROOT = Path(__file__).resolve().parents[3]
APP_ID = "00000000-0000-0000-0000-0000000b0710"


def _settings(database_url: str | None, **options: Any) -> Settings:
    options.setdefault("notify_poll_s", 600)  # tests drive the notifier
    return load_settings(database_url=database_url, **options)


@pytest.fixture
async def bot(
    app_database_url: str | None, connector: LocalConnector
) -> AsyncIterator[RunningBot]:
    async with run_bot(_settings(app_database_url), connector) as running:
        await running.app[JOBS_KEY].wait_for_passes(1)
        yield running


def _engine(bot: RunningBot) -> AsyncEngine:
    return bot.app[SERVICES_KEY].db


async def _say_hello(bot: RunningBot, **options: Any) -> None:
    """A message from the user: the bot stores where to reach them."""
    status, _ = await bot.post(bot.activity("hello", **options))
    assert status == 200


def _news(connector: LocalConnector) -> list[dict[str, Any]]:
    """The proactive cards (the fake copilot answers in plain text)."""
    return [m for m in connector.messages() if m.get("attachments")]


async def _record(bot: RunningBot, event: TicketEvent) -> TicketEvent:
    assert await record_event(_engine(bot), event)
    return event


async def _unreachable_at(engine: AsyncEngine, conversation_id: str) -> Any:
    table = conversation_references
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(table.c.unreachable_at).where(
                    table.c.conversation_id == conversation_id
                )
            )
        ).scalar_one()


async def test_a_resolved_event_becomes_a_proactive_card_with_two_buttons(
    app_database_url: str | None, connector: LocalConnector
) -> None:
    settings = _settings(app_database_url, notify_poll_s=0.1)
    async with run_bot(settings, connector) as bot:
        await _say_hello(bot)
        event = await _record(
            bot, ticket_event("resolved", conversation_id=bot.conversation_id)
        )
        jobs = bot.app[JOBS_KEY]
        jobs.kick()
        [_, _, card] = await connector.wait_for_messages(3)
        await jobs.wait_for_passes(jobs.passes + 1)  # the pass that sent it settles it
        row = await event_row(_engine(bot), event.event_id)

    assert connector.messages(bot.conversation_id)[-1] == card
    assert card["from"]["id"] == bot.activity()["recipient"]["id"]
    assert card["recipient"]["id"] == bot.user.id
    assert "INC0001001 was resolved" in card["summary"]
    assert [(a["title"], a["data"]) for a in card_actions(card)] == [
        (
            "Yes, close it",
            {"action": FIXED, "ticket": "INC0001001", "event": event.event_id},
        ),
        (
            "No, reopen it",
            {"action": NOT_FIXED, "ticket": "INC0001001", "event": event.event_id},
        ),
    ]
    assert (row.status, row.attempts, row.last_error) == ("delivered", 1, None)


async def test_two_notifiers_racing_on_one_postgres_deliver_each_event_once(
    fresh_postgres_url: str, connector: LocalConnector
) -> None:
    settings = _settings(fresh_postgres_url)
    async with (
        run_bot(settings, connector) as one,
        run_bot(settings, connector) as two,
    ):
        for bot in (one, two):
            await bot.app[JOBS_KEY].wait_for_passes(1)
        await _say_hello(one)
        numbers = [f"INC000{1001 + n}" for n in range(12)]
        for number in numbers:
            await _record(
                one, ticket_event(number=number, conversation_id=one.conversation_id)
            )

        delivered = 0
        for _ in range(3):  # the batch is 10: a second round takes the rest
            counts = await asyncio.gather(
                one.app[NOTIFIER_KEY].run_once(),
                two.app[NOTIFIER_KEY].run_once(),
                one.app[NOTIFIER_KEY].run_once(),
                two.app[NOTIFIER_KEY].run_once(),
            )
            delivered += sum(counts)

    assert delivered == len(numbers)
    labels = [m["summary"].split()[0] for m in _news(connector)]
    assert sorted(labels) == numbers


async def test_a_403_marks_the_reference_and_parks_the_news_until_the_user_writes(
    bot: RunningBot, connector: LocalConnector
) -> None:
    engine = _engine(bot)
    notifier = bot.app[NOTIFIER_KEY]
    await _say_hello(bot)
    connector.fail_next(403)

    first = await _record(bot, ticket_event(conversation_id=bot.conversation_id))
    assert await notifier.run_once() == 0
    marked = await _unreachable_at(engine, bot.conversation_id)
    calls_before = len(connector.calls) + len(connector.refused)
    second = await _record(bot, ticket_event(conversation_id=bot.conversation_id))
    assert await notifier.run_once() == 0
    calls_after = len(connector.calls) + len(connector.refused)

    parked = [(await event_row(engine, e.event_id)).status for e in (first, second)]
    assert await notifier.run_once() == 0  # parked news is not retried on a timer
    calls_later = len(connector.calls) + len(connector.refused)

    await _say_hello(bot)  # the user came back: the mark is cleared
    cleared = await _unreachable_at(engine, bot.conversation_id)
    third = await _record(bot, ticket_event(conversation_id=bot.conversation_id))
    assert await notifier.run_once() == 3
    assert await notifier.run_once() == 0

    assert [len(connector.refused), len(_news(connector))] == [1, 3]
    assert calls_after == calls_before == calls_later  # nothing was even tried
    assert marked is not None
    assert parked == ["parked", "parked"]
    assert cleared is None
    for event in (first, second, third):
        assert (await event_row(engine, event.event_id)).status == "delivered"


async def test_a_404_in_a_group_chat_falls_back_to_the_personal_chat(
    bot: RunningBot, connector: LocalConnector
) -> None:
    group = f"19:{uuid.uuid4().hex}@thread.v2"
    await _say_hello(bot, conversation_id=group, conversation_type="groupChat")
    await _say_hello(bot)
    connector.fail_next(404)

    event = await _record(bot, ticket_event(conversation_id=group))
    delivered = await bot.app[NOTIFIER_KEY].run_once()

    assert delivered == 1
    assert [c.conversation_id for c in connector.refused] == [group]
    assert len(_news(connector)) == 1
    assert connector.calls[-1].conversation_id == bot.conversation_id
    assert await _unreachable_at(_engine(bot), group) is not None
    assert await _unreachable_at(_engine(bot), bot.conversation_id) is None
    assert (await event_row(_engine(bot), event.event_id)).status == "delivered"


async def test_news_for_an_ended_terminal_chat_goes_to_the_current_one(
    bot: RunningBot, connector: LocalConnector
) -> None:
    async with LocalConnector() as ended:
        earlier = f"a:{uuid.uuid4().hex}"
        activity = message_activity(
            service_url=ended.url, conversation_id=earlier, user=bot.user, text="hi"
        )
        assert (await bot.post(activity))[0] == 200
    await _say_hello(bot)  # a new chat, on a connector that is running

    event = await _record(bot, ticket_event(conversation_id=earlier))
    delivered = await bot.app[NOTIFIER_KEY].run_once()

    assert delivered == 1
    assert connector.calls[-1].conversation_id == bot.conversation_id
    assert await _unreachable_at(_engine(bot), earlier) is not None
    assert (await event_row(_engine(bot), event.event_id)).status == "delivered"


async def test_news_never_goes_to_a_group_chat_the_ticket_was_not_raised_in(
    bot: RunningBot, connector: LocalConnector
) -> None:
    group = f"19:{uuid.uuid4().hex}@thread.v2"
    await _say_hello(bot, conversation_id=group, conversation_type="groupChat")

    event = await _record(bot, ticket_event(conversation_id=None))
    delivered = await bot.app[NOTIFIER_KEY].run_once()

    assert delivered == 0
    assert _news(connector) == []
    row = await event_row(_engine(bot), event.event_id)
    assert (row.status, row.last_error) == (
        "parked",
        "no conversation with the caller is stored",
    )


async def test_a_500_then_ok_is_retried_and_delivered_once(
    app_database_url: str | None, connector: LocalConnector
) -> None:
    settings = _settings(app_database_url, notify_poll_s=0.2, outbox_backoff_max_s=1)
    async with run_bot(settings, connector) as bot:
        await _say_hello(bot)
        connector.fail_next(500)
        event = await _record(bot, ticket_event(conversation_id=bot.conversation_id))
        jobs = bot.app[JOBS_KEY]
        jobs.kick()
        await connector.wait_for_messages(3, wait_s=15)
        await jobs.wait_for_passes(jobs.passes + 3)  # a second copy would come now
        row = await event_row(_engine(bot), event.event_id)

    assert len(connector.refused) == 1
    assert len(_news(connector)) == 1
    assert (row.status, row.attempts) == ("delivered", 2)


async def test_a_throttled_send_waits_at_least_as_long_as_retry_after(
    bot: RunningBot, connector: LocalConnector
) -> None:
    await _say_hello(bot)
    connector.fail_next(429, retry_after=120)

    event = await _record(bot, ticket_event(conversation_id=bot.conversation_id))
    await bot.app[NOTIFIER_KEY].run_once()
    row = await event_row(_engine(bot), event.event_id)
    waited = row.next_attempt_at - row.created_at
    await make_due_now(_engine(bot), event.event_id)
    delivered = await bot.app[NOTIFIER_KEY].run_once()

    assert waited.total_seconds() >= 119
    assert "429 Throttled" in row.last_error
    assert delivered == 1


async def test_an_event_for_someone_never_seen_is_parked(
    bot: RunningBot, connector: LocalConnector
) -> None:
    event = await _record(bot, ticket_event(caller_id="never-wrote"))

    assert await bot.app[NOTIFIER_KEY].run_once() == 0

    assert connector.calls == []
    assert (await event_row(_engine(bot), event.event_id)).status == "parked"


async def _chat_that_ended(bot: RunningBot) -> str:
    """The user wrote in a terminal chat whose connector has since stopped."""
    async with LocalConnector() as ended:
        earlier = f"a:{uuid.uuid4().hex}"
        activity = message_activity(
            service_url=ended.url, conversation_id=earlier, user=bot.user, text="hi"
        )
        assert (await bot.post(activity))[0] == 200
    return earlier


async def test_news_parked_while_the_only_chat_is_gone_reaches_the_next_chat_once(
    bot: RunningBot, connector: LocalConnector
) -> None:
    engine = _engine(bot)
    notifier = bot.app[NOTIFIER_KEY]
    earlier = await _chat_that_ended(bot)
    event = await _record(bot, ticket_event(conversation_id=earlier))

    assert await notifier.run_once() == 0
    assert await notifier.run_once() == 0  # parked news is not retried on a timer
    parked = await event_row(engine, event.event_id)

    await _say_hello(bot)  # a new terminal chat, on a running connector
    delivered = [await notifier.run_once(), await notifier.run_once()]

    assert (parked.status, parked.attempts, parked.last_error) == (
        "parked",
        1,
        "every conversation with the caller refused",
    )
    assert delivered == [1, 0]
    [card] = _news(connector)
    assert card["summary"].startswith("INC0001001 was resolved")
    assert connector.calls[-1].conversation_id == bot.conversation_id
    assert (await event_row(engine, event.event_id)).status == "delivered"


async def test_parked_news_waits_while_the_user_writes_only_in_a_group_chat(
    bot: RunningBot, connector: LocalConnector
) -> None:
    notifier = bot.app[NOTIFIER_KEY]
    event = await _record(bot, ticket_event(conversation_id=None))
    assert await notifier.run_once() == 0

    group = f"19:{uuid.uuid4().hex}@thread.v2"
    await _say_hello(bot, conversation_id=group, conversation_type="groupChat")
    in_group = await notifier.run_once()
    status_after_group = (await event_row(_engine(bot), event.event_id)).status
    await _say_hello(bot)  # now a 1:1 chat
    in_personal = await notifier.run_once()

    assert (in_group, status_after_group) == (0, "parked")
    assert in_personal == 1
    assert [m["conversation"]["id"] for m in _news(connector)] == [bot.conversation_id]


async def test_a_user_who_writes_while_their_news_is_being_sent_is_not_parked(
    bot: RunningBot, connector: LocalConnector
) -> None:
    engine = _engine(bot)
    event = await _record(bot, ticket_event(conversation_id=None))
    [due] = await claim_due(engine)

    # The notifier found no conversation; before it settles, the user writes.
    await _say_hello(bot)
    status = await settle(
        engine, event.event_id, "parked", error="no conversation with the caller"
    )
    delivered = await bot.app[NOTIFIER_KEY].run_once()

    assert due.event.event_id == event.event_id
    assert status == "pending"
    assert delivered == 1
    assert len(_news(connector)) == 1


async def test_any_replica_sends_the_news_a_user_woke_on_another(
    fresh_postgres_url: str, connector: LocalConnector
) -> None:
    settings = _settings(fresh_postgres_url)
    async with (
        run_bot(settings, connector) as one,
        run_bot(settings, connector) as two,
    ):
        for running in (one, two):
            await running.app[JOBS_KEY].wait_for_passes(1)
        event = await _record(one, ticket_event(conversation_id=None))
        assert await one.app[NOTIFIER_KEY].run_once() == 0

        await _say_hello(two)  # the message reaches the other replica
        delivered = await one.app[NOTIFIER_KEY].run_once()
        again = await two.app[NOTIFIER_KEY].run_once()
        row = await event_row(_engine(one), event.event_id)

    assert (delivered, again) == (1, 0)
    assert row.status == "delivered"
    assert len(_news(connector)) == 1


async def test_local_mode_never_sends_to_a_stored_non_loopback_service_url(
    bot: RunningBot, connector: LocalConnector, outbound: OutboundAttempts
) -> None:
    engine = _engine(bot)
    reference = {
        "serviceUrl": "https://smba.trafficmanager.net/teams/",
        "conversation": {"id": "a:teams-chat", "conversationType": "personal"},
        "bot": {"id": "28:bot"},
        "user": {"id": "29:user", "aadObjectId": "teams-user"},
        "channelId": "msteams",
    }
    await save_reference(
        engine,
        tenant_id="local",
        user_object_id="teams-user",
        conversation_id="a:teams-chat",
        reference=reference,
    )

    event = await _record(
        bot, ticket_event(caller_id="teams-user", conversation_id="a:teams-chat")
    )
    await bot.app[NOTIFIER_KEY].run_once()
    row = await event_row(engine, event.event_id)

    assert outbound.outside() == []
    assert connector.calls == []
    assert row.status == "failed"
    assert "local mode replies only to a loopback serviceUrl" in row.last_error
    assert await _unreachable_at(engine, "a:teams-chat") is None


async def test_a_signed_bot_sends_news_with_its_own_token(
    connector: LocalConnector,
) -> None:
    with OpenIdServer() as openid:
        settings = load_settings(
            app_id=APP_ID,
            app_password="not-a-real-secret",
            allowed_tenants="*",
            openid_metadata_url=openid.metadata_url,
            token_issuer="https://api.botframework.com",
            notify_poll_s=600,
        )
        factory = FixedTokenCredentialsFactory(APP_ID)
        async with run_bot(settings, connector, credentials_factory=factory) as bot:
            await bot.app[JOBS_KEY].wait_for_passes(1)
            token = openid.sign(audience=APP_ID, service_url=connector.url)
            status, _ = await bot.post(
                bot.activity("hello"), headers={"Authorization": f"Bearer {token}"}
            )
            await _record(bot, ticket_event(conversation_id=bot.conversation_id))
            delivered = await bot.app[NOTIFIER_KEY].run_once()

    assert (status, delivered) == (200, 1)
    [card] = _news(connector)
    assert connector.calls[-1].authorization == f"Bearer {FIXED_OUTBOUND_TOKEN}"
    assert card["summary"].startswith("INC0001001 was resolved")


async def test_a_signed_bot_retries_when_the_connector_refuses_the_connection(
    connector: LocalConnector,
) -> None:
    with OpenIdServer() as openid:
        settings = load_settings(
            app_id=APP_ID,
            app_password="not-a-real-secret",
            allowed_tenants="*",
            openid_metadata_url=openid.metadata_url,
            token_issuer="https://api.botframework.com",
            notify_poll_s=600,
        )
        factory = FixedTokenCredentialsFactory(APP_ID)
        async with run_bot(settings, connector, credentials_factory=factory) as bot:
            await bot.app[JOBS_KEY].wait_for_passes(1)
            async with LocalConnector() as down:
                token = openid.sign(audience=APP_ID, service_url=down.url)
                activity = message_activity(
                    service_url=down.url,
                    conversation_id=bot.conversation_id,
                    user=bot.user,
                    text="hello",
                )
                await bot.post(activity, headers={"Authorization": f"Bearer {token}"})
            event = await _record(
                bot, ticket_event(conversation_id=bot.conversation_id)
            )
            delivered = await bot.app[NOTIFIER_KEY].run_once()
            row = await event_row(_engine(bot), event.event_id)
            marked = await _unreachable_at(_engine(bot), bot.conversation_id)

    assert delivered == 0
    assert (row.status, row.attempts) == ("pending", 1)
    assert "ConnectionError" in row.last_error
    assert marked is None


# -- the loop ------------------------------------------------------------------


class _CountingOutbox:
    """A ticket system with outbox work: counts the loop's calls."""

    def __init__(self) -> None:
        self.runs = 0

    async def arun_due(self) -> int:
        self.runs += 1
        if self.runs == 1:
            raise RuntimeError("ServiceNow said no")
        return 0


async def test_the_loop_drives_the_outbox_and_goes_on_after_a_failure(
    connector: LocalConnector, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = _CountingOutbox()
    plain = services_factory()

    def with_tickets(settings: Settings) -> Any:
        class _Open:
            async def __aenter__(self) -> Any:
                self._inner = plain(settings)
                services = await self._inner.__aenter__()
                services.tickets = outbox
                return services

            async def __aexit__(self, *exc: object) -> None:
                await self._inner.__aexit__(*exc)

        return _Open()

    app = create_app(
        load_settings(notify_poll_s=0.05),
        services_factory=with_tickets,
        copilot_factory=copilot_factory(FakeCopilot()),
    )
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        jobs = app[JOBS_KEY]
        await jobs.wait_for_passes(3)
        names = [job.name for job in jobs.jobs]
    finally:
        await runner.cleanup()

    # The outbox first, the news last (what the steps between record is sent
    # in the same pass).
    assert names[0] == "ticket-outbox" and names[-1] == "ticket-news"
    assert outbox.runs >= 3
    assert "background job ticket-outbox failed" in caplog.text
    assert jobs._task is None


async def test_a_kick_runs_a_pass_at_once_and_close_stops_the_loop() -> None:
    ran: list[float] = []

    async def count() -> int:
        ran.append(asyncio.get_running_loop().time())
        return 0

    jobs = BackgroundJobs([Job("count", count)], interval_s=600)
    jobs.start()
    await jobs.wait_for_passes(1)
    jobs.kick()
    await jobs.wait_for_passes(2, wait_s=2)
    await asyncio.wait_for(jobs.aclose(), timeout=2)

    assert len(ran) == 2


# -- across processes ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def process_env(
    app_database_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    if app_database_url is not None:
        monkeypatch.setenv("HELPDESK_DATABASE_URL", app_database_url)
    monkeypatch.setenv("HELPDESK_NOTIFY_POLL_S", "0.2")
    yield {**os.environ, "PYTHONPATH": str(_ROOT)}


class _BotProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, str(_PROCESS), str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    async def ready(self, http: aiohttp.ClientSession) -> None:
        for _ in range(300):
            try:
                async with http.get(self.url + "/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"{self.url} never became ready")

    def stop(self) -> bytes:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        return err


async def test_an_event_becomes_news_from_a_second_bot_process_after_a_restart(
    process_env: dict[str, str], connector: LocalConnector
) -> None:
    user = ChatUser(id="restart-user", name="Restart User")
    conversation = f"a:{uuid.uuid4().hex}"
    timeout = aiohttp.ClientTimeout(total=60)

    first = _BotProcess(process_env)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await first.ready(http)
            activity = message_activity(
                service_url=connector.url,
                conversation_id=conversation,
                user=user,
                text="my VPN drops",
            )
            async with http.post(first.url + "/api/messages", json=activity) as r:
                assert r.status == 200
            await connector.wait_for_messages(2, wait_s=30)
    finally:
        first_err = first.stop()

    engine = create_engine(load_settings())
    try:
        event = ticket_event(caller_id=user.id, conversation_id=conversation)
        assert await record_event(engine, event)

        second = _BotProcess(process_env)
        try:
            [_, _, card] = await connector.wait_for_messages(3, wait_s=60)
        finally:
            second_err = second.stop()
        row = await event_row(engine, event.event_id)
    finally:
        await engine.dispose()

    assert b"Traceback" not in first_err + second_err
    assert connector.calls[-1].conversation_id == conversation
    assert card["summary"] == "INC0001001 was resolved. Did this fix it?"
    assert row.status == "delivered"
