"""Two bot processes on one SQLite file: first start and a burst of users (T7)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.chat import ChatUser, message_activity
from bot.connector import LocalConnector

_PROCESS = Path(__file__).resolve().parents[2] / "fakes" / "bot_process.py"
_ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def two_processes() -> Iterator[list[str]]:
    ports = [_free_port(), _free_port()]
    env = {**os.environ, "PYTHONPATH": str(_ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(_PROCESS), str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    try:
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            _, err = proc.communicate(timeout=30)
            assert b"database is locked" not in err


async def _wait_ready(http: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with http.get(url + "/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never became ready")


async def test_thirty_users_at_once_across_two_processes_lose_no_turn(
    two_processes: list[str], connector: LocalConnector
) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        await asyncio.gather(*(_wait_ready(http, url) for url in two_processes))

        async def post(n: int) -> int:
            activity = message_activity(
                service_url=connector.url,
                conversation_id=f"a:conv-{n}",
                user=ChatUser(id=f"user-{n}", name=f"User {n}"),
                text=f"question {n}",
            )
            url = two_processes[n % 2] + "/api/messages"
            async with http.post(url, json=activity) as response:
                return response.status

        statuses = await asyncio.gather(*(post(n) for n in range(30)))
        replies = await connector.wait_for_messages(60, wait_s=30)

    assert statuses == [200] * 30
    texts = sorted(r["text"] for r in replies if r["text"] != "Did this fix it?")
    assert texts == sorted(
        f"Answer #1 in this thread: question {n} [1]" for n in range(30)
    )
