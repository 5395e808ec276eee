"""Talk to the bot from a terminal: the real ``/api/messages``, a local connector.

:class:`ChatSession` runs the bot on a free loopback port beside a
:class:`~bot.connector.LocalConnector`, posts Teams-shaped activities as a local
user, and returns the bot's replies. :func:`render` turns a reply into text:
citations as a numbered source list, Adaptive Cards with numbered choices, a
one-time secret in a box. Answering with a choice's number posts what Teams
posts for a click: the action's ``data`` as ``value``, empty text, and the
card's activity id as ``replyToId``.

The bot runs in this process with its background jobs, so ticket news (a
ticket resolved with ``helpdesk tickets resolve`` in another terminal) arrives
between questions: :func:`run_chat` prints it as it comes, above the prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import aiohttp
from aiohttp import web

from bot.app import SERVICES_KEY, TASKS_KEY, create_app
from bot.cards import ADAPTIVE_CARD, COMMENT_INPUT, FIELD_PREFIX, SECRET_CONTAINER
from bot.connector import LocalConnector, Recorded
from tools.settings import Settings

logger = logging.getLogger(__name__)

LOCAL_TENANT = "local"
BOT_ID = "28:helpdesk-local"
BOX_WIDTH = 72
"""A boxed secret wraps its lines at this many characters."""
POST_TIMEOUT_S = 30.0
"""The bot answers within its turn deadline; this only guards against a hang."""
REPLY_TIMEOUT_S = 120.0
"""How long to wait for a turn that finishes in the background."""


@dataclass(frozen=True, slots=True)
class ChatUser:
    """The person typing: their channel id doubles as their object id locally.

    The default is the local directory's ``local-user``; a session finds
    their directory name when the directory knows them.
    """

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
    reply_to_id: str | None = None,
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
    if reply_to_id is not None:
        activity["replyToId"] = reply_to_id
    return activity


def render(
    activity: dict[str, Any], *, first: int = 1
) -> tuple[str, list[dict[str, Any]]]:
    """Render a bot message as terminal text.

    Args:
        activity: the bot's message.
        first: the number of its first card choice (several cards in one
            answer are numbered on).

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
    suggested = [
        action.get("title") or action.get("value") or ""
        for action in (activity.get("suggestedActions") or {}).get("actions") or []
        if action.get("type") == "imBack"
    ]
    if suggested:
        lines.append(
            "  (you can reply " + " or ".join(f'"{t}"' for t in suggested) + ")"
        )

    choices: list[dict[str, Any]] = []
    for attachment in activity.get("attachments") or []:
        if attachment.get("contentType") != ADAPTIVE_CARD:
            continue
        card = attachment.get("content") or {}
        body = card.get("body") or []
        lines += _card_lines(body)
        labels = []
        for action in card.get("actions") or []:
            if action.get("type") == "Action.Submit":
                choices.append(action.get("data") or {})
                number = first + len(choices) - 1
                labels.append(f"{number}. {action.get('title', 'Submit')}")
        if labels:
            lines.append("  " + "  ".join(labels))
            if _has_comment(body):
                lines.append("  (to add a comment, type it after the number)")
    return "\n".join(line for line in lines if line), choices


_CARD_TIME = re.compile(r"\{\{(DATE|TIME)\((\d{4}-\d\d-\d\dT\d\d:\d\d)[^)]*\)\}\}")


def _plain_times(text: str) -> str:
    """Card ``{{DATE(…)}}`` / ``{{TIME(…)}}`` functions as UTC text."""

    def one(match: re.Match[str]) -> str:
        day, clock = match.group(2).split("T")
        return day if match.group(1) == "DATE" else f"{clock} UTC"

    return _CARD_TIME.sub(one, text)


def _card_lines(elements: list[dict[str, Any]]) -> list[str]:
    lines = []
    for element in elements:
        if element.get("type") == "TextBlock" and element.get("text"):
            lines.append(_plain_times(str(element["text"])))
        elif element.get("type") == "FactSet":
            for fact in element.get("facts") or []:
                lines.append(f"  {fact.get('title', '')}: {fact.get('value', '')}")
        elif element.get("type") in ("Input.Text", "Input.ChoiceSet") and str(
            element.get("id", "")
        ).startswith(FIELD_PREFIX):
            # An editable draft: shown as it will be sent (Teams lets people edit it).
            value = str(element.get("value") or "")
            titles = {
                c.get("value"): c.get("title") for c in element.get("choices") or []
            }
            lines.append(f"  {element.get('label', '')}: {titles.get(value, value)}")
        inner = _card_lines(element.get("items") or [])
        lines += _boxed(inner) if element.get("id") == SECRET_CONTAINER else inner
        for column in element.get("columns") or []:
            lines += _card_lines(column.get("items") or [])
    return lines


def _boxed(text: list[str]) -> list[str]:
    lines = [part for line in text for part in textwrap.wrap(line, BOX_WIDTH) or [""]]
    width = max((len(line) for line in lines), default=0)
    edge = "+" + "-" * (width + 2) + "+"
    return [edge, *(f"| {line.ljust(width)} |" for line in lines), edge]


def _card_has_comment(activity: dict[str, Any]) -> bool:
    return any(
        _has_comment((a.get("content") or {}).get("body") or [])
        for a in activity.get("attachments") or []
        if a.get("contentType") == ADAPTIVE_CARD
    )


def _has_comment(elements: list[dict[str, Any]]) -> bool:
    return any(
        (e.get("type") == "Input.Text" and e.get("id") == COMMENT_INPUT)
        or _has_comment(e.get("items") or [])
        for e in elements
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ChatSession:
    """The bot and a local connector on loopback, and one user's conversation.

    Use as ``async with ChatSession(settings) as chat: await chat.say("hi")``.

    Attributes:
        settings: the bot's settings.
        user: who types; replaced on entry by the directory's record of
            ``as_user`` (or of ``user.id``) when the directory has one.
        as_user: an object id, UPN or name to look up in the directory
            (``helpdesk chat --as``); unknown names chat as a new user.
        app_options: passed to :func:`bot.app.create_app` (tests use fakes).
        conversation_id: the chat's id; reuse one to continue a thread.
    """

    settings: Settings
    user: ChatUser = field(default_factory=ChatUser)
    as_user: str | None = None
    app_options: dict[str, Any] = field(default_factory=dict)
    conversation_id: str = field(default_factory=lambda: f"a:local-{uuid.uuid4().hex}")

    def __post_init__(self) -> None:
        self.connector = LocalConnector()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.url = ""
        self.choices: list[dict[str, Any]] = []
        """The numbered choices of the last card shown (its ``Action.Submit`` data)."""
        self.updated: list[dict[str, Any]] = []
        """Cards the bot redrew during the last exchange (after a decision)."""
        self._choice_cards: list[str] = []
        self._choice_comment: list[bool] = []
        self._consumed = 0
        """Connector calls already returned by :meth:`say` or :meth:`news`."""
        self._exchange = asyncio.Lock()

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
        await self._identify()
        return self

    async def _identify(self) -> None:
        """Take the user's id and name from the directory, like Teams would."""
        wanted = self.as_user or self.user.id
        directory = getattr(self._app.get(SERVICES_KEY), "directory", None)
        found = None
        if directory is not None:
            try:
                found = await directory.aget_user(wanted)
            except Exception:  # not an id or UPN: try it as a name
                try:
                    matches = await directory.afind_users(wanted, limit=2)
                except Exception as exc:
                    logger.debug("directory search failed: %s", type(exc).__name__)
                    matches = []
                found = matches[0] if len(matches) == 1 else None
        if found is not None:
            self.user = ChatUser(
                id=found.object_id,
                name=found.display_name,
                tenant_id=self.user.tenant_id,
            )
        elif self.as_user:
            slug = re.sub(r"[^a-z0-9]+", "-", self.as_user.lower()).strip("-")
            self.user = ChatUser(
                id=slug or "local-user",
                name=self.as_user,
                tenant_id=self.user.tenant_id,
            )

    async def __aexit__(self, *_exc: object) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.connector.stop()

    @property
    def services(self) -> Any:
        """The running bot's :class:`tools.services.Services`."""
        return self._app[SERVICES_KEY]

    async def post(self, activity: dict[str, Any]) -> int:
        """Post one activity to ``/api/messages``; returns the HTTP status."""
        assert self._http is not None, "use ChatSession in `async with`"
        async with self._http.post(self.url, json=activity) as response:
            await response.read()
            return response.status

    async def say(self, text: str) -> list[dict[str, Any]]:
        """Send ``text``, or click a choice of the last card by its number.

        ``"2"`` clicks choice 2; ``"2 because …"`` also fills the card's comment
        box when it has one. Returns the new messages the bot sent; the cards
        it redrew meanwhile are in :attr:`updated`.
        """
        number, _, comment = text.strip().partition(" ")
        if number.isdecimal() and 0 < int(number) <= len(self.choices):
            index = int(number) - 1
            value = dict(self.choices[index])
            if comment.strip() and self._choice_comment[index]:
                value[COMMENT_INPUT] = comment.strip()
            return await self._send("", value, reply_to_id=self._choice_cards[index])
        return await self._send(text, None)

    async def news(self) -> list[dict[str, Any]]:
        """Messages the bot sent on its own since the last exchange (ticket news).

        Cards among them become the current numbered choices.
        """
        async with self._exchange:
            calls = self.connector.calls
            new = [
                c
                for c in calls[self._consumed :]
                if c.method == "POST" and c.activity.get("type") == "message"
            ]
            self._consumed = len(calls)
            self._take_choices(new)
            return [c.activity for c in new]

    async def wait_for_news(self) -> list[dict[str, Any]]:
        """Wait until the bot sends something outside an exchange; return it."""
        while True:
            await self.connector.wait_for_calls(self._consumed + 1, wait_s=None)
            found = await self.news()
            if found:
                return found

    async def _send(
        self, text: str, value: Any, *, reply_to_id: str | None = None
    ) -> list[dict[str, Any]]:
        async with self._exchange:
            replies = await self._exchange_once(text, value, reply_to_id)
            self._consumed = len(self.connector.calls)
            return replies

    async def _exchange_once(
        self, text: str, value: Any, reply_to_id: str | None
    ) -> list[dict[str, Any]]:
        # News that arrived since the last exchange and was not shown yet is
        # shown with this answer.
        before = self._consumed
        activity = message_activity(
            service_url=self.connector.url,
            conversation_id=self.conversation_id,
            user=self.user,
            text=text,
            value=value,
            reply_to_id=reply_to_id,
        )
        status = await self.post(activity)
        if status >= 300:
            raise RuntimeError(f"the bot answered HTTP {status}")
        # The turn runs as an app task (in the background once it passes the
        # deadline) and has sent its replies when it ends. Some messages get
        # none: one held for an IT support agent during a hand-off.
        await self._app[TASKS_KEY].join(wait_s=REPLY_TIMEOUT_S)

        new = self._ours(self.connector.calls[before:])
        self.updated = [c.activity for c in new if c.method == "PUT"]
        sent = [c for c in new if c.method == "POST"]
        self._take_choices(sent)
        return [c.activity for c in sent]

    def _take_choices(self, sent: list[Recorded]) -> None:
        choices: list[dict[str, Any]] = []
        cards: list[str] = []
        comments: list[bool] = []
        for call in sent:
            found = render(call.activity)[1]
            choices += found
            cards += [call.activity_id] * len(found)
            comments += [_card_has_comment(call.activity)] * len(found)
        if choices:  # new cards replace the choices of the previous ones
            self.choices = choices
            self._choice_cards = cards
            self._choice_comment = comments

    def _ours(self, calls: list[Recorded]) -> list[Recorded]:
        return [
            c
            for c in calls
            if c.conversation_id == self.conversation_id
            and c.activity.get("type") == "message"
        ]


PROMPT = "you> "
BOT_PROMPT = "helpdesk> "
QUIT = "/quit"


async def run_chat(
    session: ChatSession,
    lines: AsyncIterator[str],
    write: Callable[[str], None],
    *,
    echo: bool = False,
    notice: Callable[[str], None] | None = None,
) -> None:
    """Feed ``lines`` to the bot and ``write`` each answer, until /quit or the end.

    Messages the bot sends between two questions (ticket news) are shown as
    they arrive.

    Args:
        session: an entered :class:`ChatSession`.
        lines: what the user types, one question per item.
        write: prints one block of text.
        echo: also write each question (a script piped in on stdin).
        notice: shows a message that arrives while the user is typing;
            defaults to :func:`terminal_notice` on an interactive terminal,
            else ``write``.
    """
    if notice is None:
        notice = terminal_notice() if not echo and sys.stdout.isatty() else write
    watcher = asyncio.create_task(_show_news(session, notice), name="chat-ticket-news")
    try:
        await _converse(session, lines, write, echo=echo)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _converse(
    session: ChatSession,
    lines: AsyncIterator[str],
    write: Callable[[str], None],
    *,
    echo: bool,
) -> None:
    async for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line == QUIT:
            return
        if echo:
            write(f"{PROMPT}{line}")
        replies = await session.say(line)
        for card in session.updated:
            status = render(card)[0].splitlines()[-1:]
            write(f"{BOT_PROMPT}(the card now reads: {' '.join(status)})")
        if not replies:
            write(f"{BOT_PROMPT}(no answer)")
        _write_replies(replies, write)


def _write_replies(replies: list[dict[str, Any]], write: Callable[[str], None]) -> None:
    numbered = 0
    for reply in replies:
        text, choices = render(reply, first=numbered + 1)
        numbered += len(choices)
        write(f"{BOT_PROMPT}{text}")


async def _show_news(session: ChatSession, notice: Callable[[str], None]) -> None:
    while True:
        news = await session.wait_for_news()
        _write_replies(news, notice)


def terminal_notice(
    prompt: str = PROMPT, stream: TextIO | None = None
) -> Callable[[str], None]:
    """Show a message above the prompt the user is typing at, then redraw it.

    The prompt line is cleared, the message printed, and the prompt drawn
    again with what was typed so far. On a terminal this loads ``readline``,
    which ``input()`` then uses (it also gives line editing and history), so
    that the half-typed line can be read back and redrawn; without it the
    terminal still keeps the typed text, unseen.
    """
    out = stream or sys.stdout
    if stream is None:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - input() uses it once it is loaded

    def show(text: str) -> None:
        typed = ""
        readline = sys.modules.get("readline")
        if readline is not None:
            with contextlib.suppress(Exception):
                typed = readline.get_line_buffer()
        out.write(f"\r\x1b[K{text}\n{prompt}{typed}")
        out.flush()

    return show
