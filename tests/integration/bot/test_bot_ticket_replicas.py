"""Two real bot processes on one PostgreSQL: tickets asked on one replica and
confirmed on the other, at the same time, each made exactly once."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.chat import ChatUser, message_activity
from bot.connector import LocalConnector
from tools.db import create_engine
from tools.settings import load_settings
from tools.tickets.embedded import EmbeddedTickets

ROOT = Path(__file__).resolve().parents[3]
EMPLOYEES = 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def replicas(fresh_postgres_url: str, tmp_path: Path) -> Iterator[list[str]]:
    ports = [_free_port(), _free_port()]
    procs = []
    for index, port in enumerate(ports):
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HELPDESK_DATABASE_URL": fresh_postgres_url,
            # Each replica keeps its own embedded search index; app data and
            # conversation state are shared in PostgreSQL.
            "HELPDESK_DATA_DIR": str(tmp_path / f"replica-{index}"),
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    try:
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            _, err = proc.communicate(timeout=30)
            assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]


async def _wait_ready(http: aiohttp.ClientSession, url: str) -> None:
    for _ in range(600):
        try:
            async with http.get(url + "/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never became ready")


async def test_tickets_asked_on_one_replica_and_confirmed_on_the_other(
    replicas: list[str], connector: LocalConnector, fresh_postgres_url: str
) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=90)) as http:
        await asyncio.gather(*(_wait_ready(http, url) for url in replicas))

        async def post(url: str, activity: dict[str, Any]) -> None:
            async with http.post(url + "/api/messages", json=activity) as response:
                assert response.status == 200, await response.text()

        async def employee(n: int) -> None:
            user = ChatUser(id=f"employee-{n}", name=f"Employee {n}")
            conversation = f"a:replicas-{n}"
            ask = message_activity(
                service_url=connector.url,
                conversation_id=conversation,
                user=user,
                text=f"the label printer number {n} is broken, open a ticket",
            )
            await post(replicas[n % 2], ask)
            card = await _card(connector, conversation)
            approve = card["attachments"][0]["content"]["actions"][0]["data"]
            click = message_activity(
                service_url=connector.url,
                conversation_id=conversation,
                user=user,
                text="",
                value=approve,
                reply_to_id="card",
            )
            # The click reaches the other replica, twice (a double click).
            await asyncio.gather(
                post(replicas[(n + 1) % 2], click),
                post(replicas[(n + 1) % 2], {**click, "id": click["id"] + "-2"}),
            )

        await asyncio.gather(*(employee(n) for n in range(EMPLOYEES)))

    settings = load_settings(database_url=fresh_postgres_url)
    engine = create_engine(settings)
    try:
        made = await EmbeddedTickets(engine, settings).alist(open_only=False, limit=100)
    finally:
        await engine.dispose()
    assert len(made) == EMPLOYEES
    assert len({t.number for t in made}) == EMPLOYEES
    assert sorted(t.caller.object_id for t in made) == sorted(
        f"employee-{n}" for n in range(EMPLOYEES)
    )


async def _card(connector: LocalConnector, conversation: str) -> dict[str, Any]:
    for _ in range(600):
        for message in connector.messages(conversation):
            if message.get("attachments"):
                return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"no card in {conversation}")
