"""``helpdesk serve``: a wrong port is named, a busy one is one line, and the
"listening" line comes only once the socket is bound."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.cli import main

REPO = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = 60.0
"""Start-up migrates the database and seeds the demo knowledge base first."""


@pytest.mark.parametrize("port", ["99999", "65536", "0", "-1", "http"])
def test_a_port_outside_the_range_is_an_argument_error_naming_the_range(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--port", port])

    assert caught.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith(
        f"argument --port: {port!r} is not a port; use a number from 1 to 65535"
    )


@contextmanager
def _busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def _serve(port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=30)


async def test_a_port_in_use_is_one_line_and_exit_1() -> None:
    with _busy_port() as port:
        async with _serve(port) as proc:
            out, err = await asyncio.wait_for(
                proc.communicate(), timeout=START_TIMEOUT_S
            )

    errors = err.decode()
    assert proc.returncode == 1
    assert f"helpdesk: port {port} is in use; pick another with --port" in (
        errors.splitlines()
    )
    assert "Traceback" not in errors
    assert "listening" not in out.decode()


async def test_listening_is_printed_only_once_the_socket_is_bound() -> None:
    port = _free_port()
    async with _serve(port) as proc:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=START_TIMEOUT_S)
        assert line.decode().startswith(
            f"Helpdesk listening on http://127.0.0.1:{port}/api/messages"
        )

        # No retry: the port must already answer when the line appears.
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            assert response.status == 200
