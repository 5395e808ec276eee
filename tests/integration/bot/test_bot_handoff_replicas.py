"""Live hand-off across two real bot processes on one PostgreSQL: the channel
designated on one replica, the card taken on the other, the relay alternating
between them, and a replica killed in the middle of a burst.

Every relayed message must reach the other side exactly once and in order,
whichever replica took it in and whichever replica's relay loop delivered it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.chat import ChatUser, message_activity, render
from bot.connector import LocalConnector

ROOT = Path(__file__).resolve().parents[3]
CHANNEL = "19:helpdesk-agents@thread.tacv2"
SAM = ChatUser(id="sam-rivera", name="Sam Rivera")
EMPLOYEE = ChatUser()
CHAT = "a:handoff-replicas"
WAIT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Replicas:
    """Bot processes on one database, each with its own data directory."""

    def __init__(self, database_url: str, data: Path) -> None:
        self.database_url = database_url
        self.data = data
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []

    def start(self) -> str:
        port = _free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HELPDESK_DATABASE_URL": self.database_url,
            "HELPDESK_DATA_DIR": str(self.data / f"replica-{len(self.procs)}"),
            "HELPDESK_HANDOFF_HOURS": "always",
        }
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
        self.urls.append(f"http://127.0.0.1:{port}")
        return self.urls[-1]

    def kill(self, index: int) -> None:
        """SIGKILL: no shutdown hook runs, as when a container is evicted."""
        self.procs[index].send_signal(signal.SIGKILL)
        self.procs[index].communicate(timeout=30)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in self.procs:
            if proc.returncode is not None and proc.returncode == -signal.SIGKILL:
                continue
            _, err = proc.communicate(timeout=30)
            assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]


@pytest.fixture
async def replicas(fresh_postgres_url: str, tmp_path: Path) -> AsyncIterator[Replicas]:
    running = Replicas(fresh_postgres_url, tmp_path)
    running.start()
    running.start()
    try:
        yield running
    finally:
        running.stop()


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


async def _post(
    http: aiohttp.ClientSession, url: str, activity: dict[str, Any]
) -> None:
    async with http.post(url + "/api/messages", json=activity) as response:
        assert response.status == 200, await response.text()


def _employee(connector: LocalConnector, text: str) -> dict[str, Any]:
    return message_activity(
        service_url=connector.url, conversation_id=CHAT, user=EMPLOYEE, text=text
    )


def _agent(
    connector: LocalConnector, thread: str, text: str, **options: Any
) -> dict[str, Any]:
    return message_activity(
        service_url=connector.url,
        conversation_id=thread,
        user=SAM,
        text=text,
        conversation_type="channel",
        **options,
    )


def _texts(connector: LocalConnector, conversation_id: str) -> list[str]:
    return [render(m)[0] for m in connector.messages(conversation_id)]


async def _until(
    connector: LocalConnector, check: Callable[[], bool], what: str
) -> None:
    """Wake on each call the connector records until ``check`` holds."""
    try:
        async with asyncio.timeout(WAIT_S):
            while not check():
                calls = len(connector.calls)
                await connector.wait_for_calls(calls + 1, wait_s=None)
    except TimeoutError:
        raise AssertionError(f"timed out waiting until {what}") from None


async def _live_handoff(
    http: aiohttp.ClientSession, connector: LocalConnector, a: str, b: str
) -> str:
    """Designate the channel and ask for a person on ``a``, take on ``b``;
    returns the card's thread."""
    designate = _agent(connector, CHANNEL, "Helpdesk use this channel for hand-offs")
    await _post(http, a, designate)
    await _until(
        connector,
        lambda: any("Hand-offs will arrive" in t for t in _texts(connector, CHANNEL)),
        "the channel was designated",
    )
    await _post(http, a, _employee(connector, "my monitor flickers"))
    await _until(
        connector, lambda: bool(_texts(connector, CHAT)), "the copilot answered"
    )
    await _post(http, a, _employee(connector, "I want to talk to a person"))

    def card() -> Any:
        return next(
            (
                c
                for c in connector.calls
                if c.method == "POST"
                and c.conversation_id == CHANNEL
                and c.activity.get("attachments")
            ),
            None,
        )

    await _until(connector, lambda: card() is not None, "the card reached the channel")
    posted = card()
    actions = posted.activity["attachments"][0]["content"]["actions"]
    [take] = [
        a["data"] for a in actions if a.get("data", {}).get("action") == "handoff_take"
    ]
    thread = f"{CHANNEL};messageid={posted.activity_id}"
    await _post(
        http,
        b,
        _agent(connector, thread, "", value=take, reply_to_id=posted.activity_id),
    )
    await _until(
        connector,
        lambda: any("has joined" in t for t in _texts(connector, CHAT)),
        "the employee was told an agent joined",
    )
    return thread


def _relayed(connector: LocalConnector, conversation_id: str, prefix: str) -> list[str]:
    return [
        t.removeprefix(prefix)
        for t in _texts(connector, conversation_id)
        if t.startswith(prefix)
    ]


EMPLOYEE_SAYS = f"**{EMPLOYEE.name}:** "
AGENT_SAYS = f"**{SAM.name} (IT support):** "


async def test_relay_alternates_between_replicas_once_and_in_order(
    replicas: Replicas, connector: LocalConnector
) -> None:
    a, b = replicas.urls
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=90)) as http:
        await asyncio.gather(_wait_ready(http, a), _wait_ready(http, b))
        thread = await _live_handoff(http, connector, a, b)

        to_agent: list[str] = []
        to_employee: list[str] = []
        for n in range(5):
            url = (a, b)[n % 2]
            to_agent.append(f"employee message {n}")
            await _post(http, url, _employee(connector, to_agent[-1]))
            await _until(
                connector,
                lambda: (
                    len(_relayed(connector, thread, EMPLOYEE_SAYS)) >= len(to_agent)
                ),
                f"employee message {n} reached the thread",
            )
            url = (b, a)[n % 2]
            to_employee.append(f"agent message {n}")
            await _post(http, url, _agent(connector, thread, to_employee[-1]))
            await _until(
                connector,
                lambda: len(_relayed(connector, CHAT, AGENT_SAYS)) >= len(to_employee),
                f"agent message {n} reached the employee",
            )
        # Both relay loops have had time to deliver anything twice.
        await asyncio.sleep(5)

    assert _relayed(connector, thread, EMPLOYEE_SAYS) == to_agent
    assert _relayed(connector, CHAT, AGENT_SAYS) == to_employee


async def test_a_replica_killed_mid_burst_loses_and_doubles_nothing(
    replicas: Replicas, connector: LocalConnector
) -> None:
    a, b = replicas.urls
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=90)) as http:
        await asyncio.gather(_wait_ready(http, a), _wait_ready(http, b))
        thread = await _live_handoff(http, connector, a, b)

        burst = 20
        to_agent = [f"burst to agent {n}" for n in range(burst)]
        to_employee = [f"burst to employee {n}" for n in range(burst)]
        accepted_agent: list[str] = []
        accepted_employee: list[str] = []
        for n in range(burst):
            if n == burst // 2:
                replicas.kill(1)
            url = a if n % 2 == 0 or n >= burst // 2 else b
            await _post(http, url, _employee(connector, to_agent[n]))
            accepted_agent.append(to_agent[n])
            await _post(http, url, _agent(connector, thread, to_employee[n]))
            accepted_employee.append(to_employee[n])

        c = replicas.start()
        await _wait_ready(http, c)
        # The new replica takes the other half of the traffic once back.
        after_agent = [f"after restart to agent {n}" for n in range(3)]
        after_employee = [f"after restart to employee {n}" for n in range(3)]
        for n in range(3):
            await _post(http, (a, c)[n % 2], _employee(connector, after_agent[n]))
            await _post(
                http, (c, a)[n % 2], _agent(connector, thread, after_employee[n])
            )

        want_agent = accepted_agent + after_agent
        want_employee = accepted_employee + after_employee
        await _until(
            connector,
            lambda: (
                len(_relayed(connector, thread, EMPLOYEE_SAYS)) >= len(want_agent)
                and len(_relayed(connector, CHAT, AGENT_SAYS)) >= len(want_employee)
            ),
            "every accepted message was relayed",
        )
        await asyncio.sleep(5)

    assert _relayed(connector, thread, EMPLOYEE_SAYS) == want_agent
    assert _relayed(connector, CHAT, AGENT_SAYS) == want_employee
