"""Fixtures for the Teams host: the bot on a loopback port, a local connector,
and a record of every outbound attempt."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fakes.bot_harness import RunningBot, run_bot
from fakes.outbound import OutboundAttempts

from bot.connector import LocalConnector
from tools.settings import Settings, load_settings


@pytest.fixture
async def connector() -> AsyncIterator[LocalConnector]:
    async with LocalConnector() as running:
        yield running


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
async def bot(
    settings: Settings, connector: LocalConnector
) -> AsyncIterator[RunningBot]:
    async with run_bot(settings, connector) as running:
        yield running


@pytest.fixture
def outbound(monkeypatch: pytest.MonkeyPatch) -> OutboundAttempts:
    """Record connects and lookups before the network guard judges them.

    The guard raises inside the bot, where a background turn may swallow the
    error; this record lets a test assert that nothing was even tried.
    """
    seen = OutboundAttempts()
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex
    getaddrinfo = socket.getaddrinfo

    def recording_connect(self: socket.socket, address: Any) -> Any:
        seen.connects.append(address)
        return connect(self, address)

    def recording_connect_ex(self: socket.socket, address: Any) -> Any:
        seen.connects.append(address)
        return connect_ex(self, address)

    def recording_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None:
            seen.lookups.append(host.decode() if isinstance(host, bytes) else host)
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", recording_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
    return seen
