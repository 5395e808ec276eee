"""The IT support agent's side of a live hand-off, in a terminal.

:class:`AgentSession` runs the bot in this process beside its own
:class:`~bot.connector.LocalConnector`, like :class:`~bot.chat.ChatSession`,
but speaks in a Teams channel as a member of IT support. On
:meth:`AgentSession.start` it designates its channel for hand-offs: the
channel's conversation reference, stored in the shared app database, carries
this terminal's connector address, so a card posted by any bot process sharing
that database (``helpdesk chat`` in another terminal) arrives here. So do the
employee's messages relayed into a taken hand-off's thread.

Taking a card posts what Teams posts for a click on its Take button, in the
card's thread (``<channel>;messageid=<card id>``); what the agent types then
goes to that thread, which the desk relays to the employee.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.app import TASKS_KEY
from bot.chat import (
    BOT_PROMPT,
    QUIT,
    REPLY_TIMEOUT_S,
    ChatSession,
    message_activity,
    render,
    terminal_notice,
)
from bot.connector import Recorded
from bot.handoff import ends_chat
from bot.handoff_cards import TAKE

AGENTS_CHANNEL = "19:helpdesk-agents@thread.tacv2"
LOCAL_TEAM = "19:helpdesk-local-team@thread.tacv2"
DEFAULT_AGENT = "Sam Rivera"
"""The demo directory's help-desk analyst, who has the helpdesk role."""
AGENT_PROMPT = "agent> "
HELP = (
    "Commands: queue, take N, then type to talk to the employee; "
    "hand back, close, away, available, /quit."
)


@dataclass(frozen=True, slots=True)
class HandoffCard:
    """A hand-off card this terminal received in its channel.

    Attributes:
        number: its number for ``take N`` (1 for the first card received).
        handoff_id: the hand-off it offers.
        activity_id: the card's message id; its thread is
            ``<channel>;messageid=<activity_id>``.
        text: the card as text.
    """

    number: int
    handoff_id: str
    activity_id: str
    text: str


@dataclass
class AgentSession(ChatSession):
    """The bot, a local connector, and one agent in the hand-off channel.

    Use as ``async with AgentSession(settings) as agent: await agent.start()``.

    Attributes:
        channel_id: the agents' channel this terminal stands for.
    """

    as_user: str | None = DEFAULT_AGENT
    channel_id: str = AGENTS_CHANNEL
    cards: list[HandoffCard] = field(default_factory=list)
    """Every hand-off card received, in order (``take N`` picks the Nth)."""
    waiting: set[str] = field(default_factory=set)
    """Card ids not redrawn yet: nobody took or withdrew them."""
    thread: str | None = None
    """The thread of the hand-off taken last; plain lines go there."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._numbers: dict[int, int] = {}
        """``take N`` numbers of the card activities received, by object id."""
        # Channel commands are new top-level messages: each opens a thread of
        # its own in Teams; one thread for this terminal's commands is enough.
        self.desk_thread = f"{self.channel_id};messageid={uuid.uuid4().hex}"

    async def __aenter__(self) -> AgentSession:
        await super().__aenter__()
        return self

    async def start(self) -> list[dict[str, Any]]:
        """Designate the channel for hand-offs, say available, show the queue."""
        name = self.settings.bot_name
        replies = await self.in_channel(f"{name} use this channel for hand-offs")
        replies += await self.in_channel("available")
        replies += await self.in_channel("queue")
        return replies

    async def in_channel(self, text: str) -> list[dict[str, Any]]:
        """Say ``text`` in the channel (``queue``, ``available``, ``away``)."""
        return await self._post_as_agent(self.desk_thread, text)

    async def take(self, number: int) -> list[dict[str, Any]]:
        """Click Take on the ``number``-th card received.

        Raises:
            LookupError: no card has that number; the message says which do.
        """
        if not 0 < number <= len(self.cards):
            known = f"1 to {len(self.cards)}" if self.cards else "none yet"
            raise LookupError(f"no hand-off card {number} (cards: {known})")
        card = self.cards[number - 1]
        thread = f"{self.channel_id};messageid={card.activity_id}"
        self.thread = thread
        return await self._post_as_agent(
            thread,
            "",
            value={"action": TAKE, "handoff": card.handoff_id},
            reply_to_id=card.activity_id,
        )

    async def write(self, text: str) -> list[dict[str, Any]]:
        """Write in the taken hand-off's thread (``hand back`` and ``close``
        end it).

        Raises:
            LookupError: no hand-off was taken in this terminal.
        """
        if self.thread is None:
            raise LookupError("take a hand-off first: queue, then take N")
        return await self._post_as_agent(self.thread, text)

    async def news(self) -> list[dict[str, Any]]:
        """Messages that arrived on their own: new cards, the employee's words,
        redrawn cards (taken elsewhere or withdrawn)."""
        async with self._exchange:
            calls = self.connector.calls
            fresh = calls[self._consumed :]
            self._consumed = len(calls)
            return self._absorb(fresh)

    async def _post_as_agent(
        self,
        conversation_id: str,
        text: str,
        *,
        value: Any = None,
        reply_to_id: str | None = None,
    ) -> list[dict[str, Any]]:
        async with self._exchange:
            before = self._consumed
            activity = message_activity(
                service_url=self.connector.url,
                conversation_id=conversation_id,
                user=self.user,
                text=text,
                value=value,
                reply_to_id=reply_to_id,
                conversation_type="channel",
            )
            activity["channelData"].update(
                {"team": {"id": LOCAL_TEAM}, "channel": {"id": self.channel_id}}
            )
            status = await self.post(activity)
            if status >= 300:
                raise RuntimeError(f"the bot answered HTTP {status}")
            await self._app[TASKS_KEY].join(wait_s=REPLY_TIMEOUT_S)
            calls = self.connector.calls
            self._consumed = len(calls)
            return self._absorb(calls[before:])

    def _absorb(self, calls: list[Recorded]) -> list[dict[str, Any]]:
        """Note the cards among ``calls``; return the messages to show.

        A redrawn card is shown as a message too: it says who took the
        hand-off, or that it ended.
        """
        shown = []
        for call in calls:
            if call.activity.get("type") != "message":
                continue
            if call.method == "PUT":
                self.waiting.discard(call.reply_to_id or "")
            elif call.method == "POST":
                self._note_card(call)
            else:
                continue
            shown.append(call.activity)
        return shown

    def _note_card(self, call: Recorded) -> None:
        text, choices = render(call.activity)
        for data in choices:
            if data.get("action") == TAKE and data.get("handoff"):
                self.cards.append(
                    HandoffCard(
                        number=len(self.cards) + 1,
                        handoff_id=str(data["handoff"]),
                        activity_id=call.activity_id,
                        text=text,
                    )
                )
                self._numbers[id(call.activity)] = len(self.cards)
                self.waiting.add(call.activity_id)

    def card_number(self, activity: dict[str, Any]) -> int | None:
        """The ``take N`` number of a card activity this terminal received."""
        return self._numbers.get(id(activity))


async def run_agent(
    session: AgentSession,
    lines: AsyncIterator[str],
    write: Callable[[str], None],
    *,
    echo: bool = False,
    notice: Callable[[str], None] | None = None,
) -> None:
    """Open the desk, then run the agent's commands until /quit or the end.

    Cards and the employee's messages arriving meanwhile are shown as they come.

    Args:
        session: an entered :class:`AgentSession`.
        lines: what the agent types, one command or message per item.
        write: prints one block of text.
        echo: also write each line (a script piped in on stdin).
        notice: shows a message that arrives while the agent is typing.
    """
    if notice is None:
        if not echo and sys.stdout.isatty():
            notice = terminal_notice(AGENT_PROMPT)
        else:
            notice = write
    _show(session, await session.start(), write)
    write(HELP)
    watcher = asyncio.create_task(_watch(session, notice), name="agent-news")
    try:
        async for raw in lines:
            line = raw.strip()
            if not line:
                continue
            if line == QUIT:
                return
            if echo:
                write(f"{AGENT_PROMPT}{line}")
            try:
                replies = await _command(session, line)
            except LookupError as exc:
                write(f"{BOT_PROMPT}{exc}")
                continue
            _show(session, replies, write)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _command(session: AgentSession, line: str) -> list[dict[str, Any]]:
    word, _, rest = line.partition(" ")
    lowered = line.lower().rstrip(".!")
    if word.lower() == "take" and rest.strip().isdecimal():
        return await session.take(int(rest.strip()))
    if lowered in ("queue", "away", "available"):
        return await session.in_channel(lowered)
    if lowered in ("help", "/help"):
        return [{"type": "message", "text": HELP}]
    replies = await session.write(line)
    if ends_chat(line):
        session.thread = None
    return replies


def _show(
    session: AgentSession,
    replies: list[dict[str, Any]],
    write: Callable[[str], None],
) -> None:
    for reply in replies:
        text = render(reply)[0]
        number = session.card_number(reply)
        if number is not None:
            text += f"\n  (type: take {number})"
        write(f"{BOT_PROMPT}{text}")


async def _watch(session: AgentSession, notice: Callable[[str], None]) -> None:
    while True:
        _show(session, await session.wait_for_news(), notice)
