"""Talk to the bot from a terminal: the real ``/api/messages``, a local connector.

:class:`ChatSession` runs the bot on a free loopback port beside a
:class:`~bot.connector.LocalConnector`, posts Teams-shaped activities as a local
user, and returns the bot's replies. :func:`render` turns a reply into text:
citations as a numbered source list, Adaptive Cards with numbered choices.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import TASKS_KEY, create_app
from bot.connector import LocalConnector
from tools.settings import Settings

LOCAL_TENANT = "local"
BOT_ID = "28:helpdesk-local"
POST_TIMEOUT_S = 30.0
"""The bot answers within its turn deadline; this only guards against a hang."""
REPLY_TIMEOUT_S = 120.0
"""How long to wait for a turn that finishes in the background."""


@dataclass(frozen=True, slots=True)
class ChatUser:
    """The person typing: their channel id doubles as their object id locally."""

    id: str = "local-user"
    name: str = "Local User"
    tenant_id: str = LOCAL_TENANT


def message_activity(
    *,
    service_url: str,
    conversation_id: str,
    user: ChatUser,
    text: str | None,
    value: Any = None,
    activity_id: str | None = None,
    conversation_type: str = "personal",
    bot_id: str = BOT_ID,
    bot_name: str = "Helpdesk",
) -> dict[str, Any]:
    """A message activity shaped like the ones Teams sends."""
    activity: dict[str, Any] = {
        "type": "message",
        "id": activity_id or uuid.uuid4().hex,
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": user.id, "name": user.name, "aadObjectId": user.id},
        "recipient": {"id": bot_id, "name": bot_name},
        "conversation": {
            "id": conversation_id,
            "conversationType": conversation_type,
            "tenantId": user.tenant_id,
        },
        "channelData": {"tenant": {"id": user.tenant_id}},
        "locale": "en-US",
        "text": text,
    }
    if value is not None:
        activity["value"] = value
    return activity


def render(activity: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Render a bot message as terminal text.

    Returns:
        The text, and the card choices (``Action.Submit`` data) in the order
        they were numbered.
    """
    lines = [activity.get("text") or ""]
    sources = []
    for entity in activity.get("entities") or []:
        for claim in entity.get("citation") or []:
            appearance = claim.get("appearance") or {}
            where = appearance.get("url") or ""
            sources.append(
                f"  [{claim.get('position')}] {appearance.get('name', '')}"
                + (f" <{where}>" if where else "")
            )
    if sources:
        lines += ["Sources:", *sources]

    choices: list[dict[str, Any]] = []
    for attachment in activity.get("attachments") or []:
        if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
            continue
        card = attachment.get("content") or {}
        lines += _card_lines(card.get("body") or [])
        for action in card.get("actions") or []:
            if action.get("type") == "Action.Submit":
                choices.append(action.get("data") or {})
                lines.append(f"  {len(choices)}. {action.get('title', 'Submit')}")
    return "\n".join(line for line in lines if line), choices


def _card_lines(elements: list[dict[str, Any]]) -> list[str]:
    lines = []
    for element in elements:
        if element.get("type") == "TextBlock" and element.get("text"):
            lines.append(str(element["text"]))
        elif element.get("type") == "FactSet":
            for fact in element.get("facts") or []:
                lines.append(f"  {fact.get('title', '')}: {fact.get('value', '')}")
        lines += _card_lines(element.get("items") or [])
        for column in element.get("columns") or []:
            lines += _card_lines(column.get("items") or [])
    return lines


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ChatSession:
    """The bot and a local connector on loopback, and one user's conversation.

    Use as ``async with ChatSession(settings) as chat: await chat.say("hi")``.
    """

    settings: Settings
    user: ChatUser = field(default_factory=ChatUser)
    app_options: dict[str, Any] = field(default_factory=dict)
    conversation_id: str = field(default_factory=lambda: f"a:local-{uuid.uuid4().hex}")

    def __post_init__(self) -> None:
        self.connector = LocalConnector()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.url = ""
        self.choices: list[dict[str, Any]] = []

    async def __aenter__(self) -> ChatSession:
        await self.connector.start()
        app = create_app(self.settings, **self.app_options)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = _free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/api/messages"
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT_S)
        )
        self._app = app
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.connector.stop()

    async def post(self, activity: dict[str, Any]) -> int:
        """Post one activity to ``/api/messages``; returns the HTTP status."""
        assert self._http is not None, "use ChatSession in `async with`"
        async with self._http.post(self.url, json=activity) as response:
            await response.read()
            return response.status

    async def say(self, text: str) -> list[dict[str, Any]]:
        """Send ``text`` (or a card choice number); return the bot's replies."""
        stripped = text.strip()
        if stripped.isdigit() and 0 < int(stripped) <= len(self.choices):
            return await self._send(None, self.choices[int(stripped) - 1])
        return await self._send(text, None)

    async def _send(self, text: str | None, value: Any) -> list[dict[str, Any]]:
        before = len(self.connector.messages(self.conversation_id))
        activity = message_activity(
            service_url=self.connector.url,
            conversation_id=self.conversation_id,
            user=self.user,
            text=text if value is None else "",
            value=value,
        )
        status = await self.post(activity)
        if status >= 300:
            raise RuntimeError(f"the bot answered HTTP {status}")
        try:
            await self.connector.wait_for_messages(
                before + 1,
                conversation_id=self.conversation_id,
                wait_s=REPLY_TIMEOUT_S,
            )
        except TimeoutError:
            return []
        # A turn past the deadline replies from the background: let it finish.
        await self._app[TASKS_KEY].join(wait_s=REPLY_TIMEOUT_S)
        replies = self.connector.messages(self.conversation_id)[before:]
        self.choices = []
        for reply in replies:
            self.choices += render(reply)[1]
        return replies


PROMPT = "you> "
BOT_PROMPT = "helpdesk> "
QUIT = "/quit"


async def run_chat(
    session: ChatSession,
    lines: AsyncIterator[str],
    write: Callable[[str], None],
    *,
    echo: bool = False,
) -> None:
    """Feed ``lines`` to the bot and ``write`` each answer, until /quit or the end.

    Args:
        session: an entered :class:`ChatSession`.
        lines: what the user types, one question per item.
        write: prints one block of text.
        echo: also write each question (a script piped in on stdin).
    """
    async for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line == QUIT:
            return
        if echo:
            write(f"{PROMPT}{line}")
        replies = await session.say(line)
        if not replies:
            write(f"{BOT_PROMPT}(no answer)")
        for reply in replies:
            write(f"{BOT_PROMPT}{render(reply)[0]}")
