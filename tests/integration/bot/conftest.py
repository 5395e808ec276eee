"""Fixtures for the Teams host: the bot on a loopback port, a local connector."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fakes.bot_harness import RunningBot, run_bot

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
