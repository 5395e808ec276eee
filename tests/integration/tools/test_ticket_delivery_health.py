"""What the operator sees of tickets stuck on the way to ServiceNow: /readyz
warnings and `helpdesk tickets outbox`, and a failed ticket sent again."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.servicenow_server import PASSWORD, USER, serve_fake_servicenow

from bot.cli import main
from tools.db import create_engine, upgrade
from tools.settings import load_settings
from tools.tickets.base import Caller, TicketDraft
from tools.tickets.health import delivery_health
from tools.tickets.servicenow import ServiceNowTickets


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(url: str, **changes: Any) -> Any:
    return load_settings(
        ticket_backend="servicenow",
        servicenow_url=url,
        servicenow_user=USER,
        servicenow_password=PASSWORD,
        servicenow_timeout_s=0.5,
        outbox_max_attempts=2,
        **changes,
    )


async def _cli(*argv: str) -> int:
    """``helpdesk …`` in-process (it runs its own event loop, so in a thread)."""
    return await asyncio.to_thread(main, list(argv))


def _draft(key: str) -> TicketDraft:
    return TicketDraft(
        idempotency_key=key,
        caller=Caller(object_id="u-1", tenant_id="t-1", upn="alex@contoso.example"),
        short_description="Dock does not charge",
        description="since Monday",
    )


async def test_a_stuck_ticket_is_reported_listed_and_sent_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    down = _settings(f"http://127.0.0.1:{_closed_port()}")
    down.prepare_data_dir()
    engine = create_engine(down)
    await upgrade(engine)
    desk = ServiceNowTickets(down, engine)
    try:
        kept = await desk.acreate(_draft("k-1"))
        waiting = (await delivery_health(engine)).warnings()
        later = datetime.now(UTC) + timedelta(days=1)
        for _ in range(3):  # every attempt fails: it gives up after two
            await desk.arun_due(now=later)
        gave_up = await delivery_health(engine)
    finally:
        await desk.aclose()
        await engine.dispose()

    assert kept.pending
    assert len(waiting) == 1 and "wait to reach ServiceNow" in waiting[0]
    assert "ConnectError" in waiting[0] or "cannot reach" in waiting[0]
    assert (gave_up.pending, gave_up.failed) == (0, 1)
    assert "helpdesk tickets outbox --retry" in gave_up.warnings()[0]

    assert await _cli("tickets", "outbox") == 0
    listed = capsys.readouterr().out
    assert kept.reference in listed and "failed" in listed

    async with serve_fake_servicenow() as fake:
        fake.add_user("alex@contoso.example", "Alex Employee")
        assert await _cli("tickets", "outbox", "--retry", kept.reference) == 0
        assert "queued again" in capsys.readouterr().out
        up = _settings(fake.url)
        engine = create_engine(up)
        desk = ServiceNowTickets(up, engine)
        try:
            assert await desk.arun_due() == 1
            healthy = await delivery_health(engine)
        finally:
            await desk.aclose()
            await engine.dispose()
        assert len(fake.incidents) == 1
    assert healthy.warnings() == []
    assert await _cli("tickets", "outbox", "--retry", "HD-AAAAAA") == 2
