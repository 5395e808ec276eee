"""The bot on a loopback port with a fake copilot, and a client that talks to it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from fakes.bot_services import (
    FAKE_TOOL,
    FakeDirectory,
    FakeKnowledge,
    services_factory,
)
from fakes.copilot import FakeCopilot, copilot_factory

from bot.app import TASKS_KEY, create_app
from bot.chat import ChatUser, message_activity
from bot.connector import LocalConnector, Recorded
from tools.registry import ToolManifest
from tools.settings import Settings


def card_body(activity: dict[str, Any]) -> dict[str, Any]:
    """The Adaptive Card in a message (the first attachment)."""
    [attachment] = activity["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachment["content"]


def card_actions(activity: dict[str, Any]) -> list[dict[str, Any]]:
    if not activity.get("attachments"):
        return []
    return card_body(activity).get("actions") or []


@dataclass
class RunningBot:
    """A started app, its HTTP address and what it replies through."""

    app: web.Application
    url: str
    http: aiohttp.ClientSession
    connector: LocalConnector
    copilot: FakeCopilot
    user: ChatUser = field(default_factory=ChatUser)
    conversation_id: str = field(default_factory=lambda: f"a:{uuid.uuid4().hex}")

    def activity(self, text: str | None = "hello", **options: Any) -> dict[str, Any]:
        options.setdefault("user", self.user)
        options.setdefault("conversation_id", self.conversation_id)
        return message_activity(service_url=self.connector.url, text=text, **options)

    def click(
        self, card: Recorded | None, choice: int = 0, **options: Any
    ) -> dict[str, Any]:
        """What Teams posts when ``choice`` of ``card`` is clicked: the action's
        ``data`` as ``value`` (plus ``value`` overrides), empty text, and the
        card's activity id as ``replyToId``."""
        value = options.pop("value", None)
        if card is not None:
            data = card_actions(card.activity)[choice]["data"]
            value = {**data, **(value or {})}
        options.setdefault("reply_to_id", card.activity_id if card else None)
        return self.activity("", value=value, **options)

    def cards(self) -> list[Recorded]:
        """Approval cards the bot sent (with buttons), oldest first."""
        return [
            c
            for c in self.connector.calls
            if c.method == "POST" and card_actions(c.activity)
        ]

    def updates(self) -> list[Recorded]:
        """Activities the bot replaced (redrawn cards)."""
        return [c for c in self.connector.calls if c.method == "PUT"]

    async def post(
        self, activity: Any, *, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        data = activity if isinstance(activity, (bytes, str)) else None
        async with self.http.post(
            self.url + "/api/messages",
            json=None if data is not None else activity,
            data=data,
            headers=headers
            or ({} if data is None else {"Content-Type": "application/json"}),
        ) as response:
            return response.status, await response.text()

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.url + path) as response:
            return response.status, await response.json()

    async def settle(self) -> None:
        """Wait for turns still running in the background."""
        await self.app[TASKS_KEY].join(wait_s=30)


@asynccontextmanager
async def run_bot(
    settings: Settings,
    connector: LocalConnector,
    copilot: FakeCopilot | None = None,
    *,
    knowledge: FakeKnowledge | None = None,
    directory: FakeDirectory | None = None,
    tools: tuple[ToolManifest, ...] = (FAKE_TOOL,),
    credentials_factory: Any = None,
    middlewares: tuple[Any, ...] = (),
) -> AsyncIterator[RunningBot]:
    """Start the bot with the fake copilot on a free loopback port."""
    copilot = copilot or FakeCopilot()
    app = create_app(
        settings,
        services_factory=services_factory(knowledge, directory, tools=tools),
        copilot_factory=copilot_factory(copilot),
        credentials_factory=credentials_factory,
    )
    app.middlewares.extend(middlewares)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            yield RunningBot(
                app, str(server.make_url("")).rstrip("/"), http, connector, copilot
            )
    finally:
        await server.close()
