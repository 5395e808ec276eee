"""Live hand-off in Teams: the agents' channel, the card, the relay, the end.

The store (:mod:`tools.handoff.store`) decides every step once, across
replicas; this module is the Teams side of it:

- In the channel an admin designated (``@Helpdesk use this channel for
  hand-offs``), each new hand-off opens a thread with a card; agents say
  ``available``, ``away`` or ``queue`` there.
- A Take click moves the hand-off to active for exactly one agent; the card is
  redrawn and the employee told who joined.
- While a hand-off of a conversation is live, the employee's messages are
  stored for the agent (held until pickup) and the copilot stays quiet; what
  the agent writes in the card's thread is stored for the employee.
  :meth:`HandoffDesk.run_relay` delivers both lanes in order, once.
- ``hand back`` or ``close`` (typed in the thread, or the card's buttons) end
  it: the employee is told, and a ticket of the conversation gets the
  transcript as a work note.
- :meth:`HandoffDesk.run_withdraw` withdraws hand-offs nobody took in time and
  offers the employee a drafted ticket.

With ``HELPDESK_HANDOFF_MODE=hub`` no card is posted: the employee's
conversation gets Bot Framework's ``handoff.initiate`` event with the
transcript, for an agent hub in front of the bot to route; the hand-off ends
in the store there (the hub owns the conversation, so nothing is held).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from agent.runner import Copilot
from bot import cards, handoff_cards, replies
from bot.attachments import DownloadRules
from bot.handoff_cards import HandoffClick
from bot.inbound import Inbound
from bot.relay_files import relayable
from bot.serial import ConversationGate
from tools.analytics import record_escalation
from tools.db import get_reference
from tools.directory.base import HELPDESK_ROLE
from tools.handoff import store
from tools.handoff.base import Handoff, HandoffStatus, RelayMessage
from tools.identity import Requester
from tools.settings import Settings
from tools.tickets.base import TicketSystem

logger = logging.getLogger(__name__)

TRANSCRIPT_TYPE = "application/vnd.microsoft.activity.transcript"
HANDOFF_INITIATE = "handoff.initiate"
WAITING_NOTED = (
    "Noted: whoever from IT support takes your chat sees this first. "
    "You can keep writing."
)
WITHDRAWN_TICKET = (
    "(From the help desk, not the employee: nobody from IT support took the "
    "live chat in time.) Open a ticket for the employee's problem, drafted "
    "from this conversation."
)
"""The turn run for the employee when their hand-off is withdrawn."""
LEFT = "OK, you're back with the copilot. Ask me anything, or ask for a person again."
_LEAVE = re.compile(
    r"^\s*(end (the )?chat|stop (the )?chat|leave (the )?chat|cancel (the )?(chat|hand-?off)|"
    r"(back to|talk to) the (bot|copilot)|never ?mind)\s*[.!]?\s*$",
    re.IGNORECASE,
)
"""What an employee says to end a live chat or stop waiting for one."""
RELAY_ROUNDS = 20
"""Passes over the relay lanes per run; each pass sends one message a lane."""

_DESIGNATE = re.compile(r"\buse this channel for hand[- ]?offs?\b", re.IGNORECASE)
_HAND_BACK = re.compile(
    r"^\s*hand\s*back(\s+to\s+the\s+(copilot|bot))?\s*[.!]?\s*$", re.IGNORECASE
)
_CLOSE = re.compile(r"^\s*close(\s+(it|this|the\s+chat))?\s*[.!]?\s*$", re.IGNORECASE)
"""Only the bare command ends a chat: "Close the VPN client, then …" is a
message for the employee."""


def ends_chat(text: str) -> bool:
    """Whether an agent's line is the command to hand back or close."""
    return bool(_HAND_BACK.match(text) or _CLOSE.match(text))


class Sender(Protocol):
    """How the desk reaches conversations outside the current turn
    (:class:`bot.adapter.BotHost`)."""

    async def send_proactive(
        self, reference: dict[str, Any], activity: dict[str, Any]
    ) -> str | None: ...

    async def post_to_channel(
        self, reference: dict[str, Any], channel_id: str, activity: dict[str, Any]
    ) -> str | None: ...

    async def update_proactive(
        self, reference: dict[str, Any], activity_id: str, activity: dict[str, Any]
    ) -> None: ...


class Outbox(Protocol):
    """The current conversation (see :class:`bot.handler.Outbox`)."""

    async def send(self, activity: dict[str, Any]) -> str | None: ...

    async def update(self, activity_id: str, activity: dict[str, Any]) -> None: ...


RequesterOf = Callable[[Inbound], Awaitable[Requester]]


def channel_of(conversation_id: str) -> str:
    """The channel of a channel conversation id (``<channel>;messageid=<root>``)."""
    return conversation_id.split(";messageid=", 1)[0]


def _say(text: str) -> dict[str, Any]:
    return replies.text_activity(text)


@dataclass
class HandoffDesk:
    """The Teams side of live hand-offs; one per process.

    Attributes:
        settings: hand-off mode and the bot's name.
        engine: the app database (the hand-off store, conversation references).
        copilot: drafts the ticket offered when nobody took a hand-off.
        tickets: where the transcript goes at the end, when there is a ticket.
        sender: set once the host exists; proactive sends go through it.
        gate: the handler's per-conversation gate, so that the ticket turn
            run for a withdrawn hand-off never overlaps the employee's own.
    """

    settings: Settings
    engine: AsyncEngine
    copilot: Copilot
    tickets: TicketSystem | None = None
    sender: Sender | None = None
    gate: ConversationGate = field(default_factory=ConversationGate)

    # -- the employee's side ---------------------------------------------

    async def hold_for_agent(self, inbound: Inbound, text: str, outbox: Outbox) -> bool:
        """Store the employee's message for the agent when a hand-off is live.

        While nobody has taken it yet, the first message held gets a word back,
        so the employee knows it was not lost; later ones stay quiet.

        Returns:
            True when the message was taken (the copilot must not answer).
        """
        live = await store.live_for_conversation(
            self.engine, inbound.tenant_id, inbound.conversation_id
        )
        if live is None:
            return False
        if _LEAVE.match(text):
            await self._employee_leaves(live, outbox)
            return True
        stored = await store.add_message(
            self.engine,
            handoff_id=live.handoff_id,
            direction="to_agent",
            author_id=inbound.user_id,
            author_name=inbound.user_name or live.employee_name,
            **await self._words_and_files(inbound, text, outbox),
            source_key=inbound.dedupe_key,
        )
        if live.status == "active":
            await self._relay_quietly(live.handoff_id)
        elif (
            stored
            and await store.count_messages(self.engine, live.handoff_id, "to_agent")
            == 1
        ):
            await outbox.send(_say(WAITING_NOTED))
        return True

    async def _employee_leaves(self, live: Handoff, outbox: Outbox) -> None:
        """The employee ends the live chat, or stops waiting for one."""
        status: HandoffStatus = "returned" if live.status == "active" else "withdrawn"
        if not await store.finish(
            self.engine, live.handoff_id, status, note="ended by the employee"
        ):
            return
        logger.info("hand-off %s ended by the employee", live.handoff_id)
        await self._relay_quietly(live.handoff_id)
        if live.card_activity_id:
            card = handoff_cards.ended_card(live, f"Ended by {live.employee_name}")
            await _cosmetic(self._redraw(live, card))
        if live.status == "active":
            await self._tell_thread(
                live,
                f"{live.employee_name} ended the chat; the copilot has them again.",
            )
        await outbox.send(_say(LEFT))

    async def run_idle(self) -> int:
        """Hand back live chats nobody wrote in for ``handoff_idle_minutes``."""
        idle = timedelta(minutes=self.settings.handoff_idle_minutes)
        ended = 0
        for handoff in await store.idle_active(self.engine, idle=idle):
            if not await store.finish(
                self.engine, handoff.handoff_id, "returned", note="idle"
            ):
                continue
            ended += 1
            logger.info("hand-off %s handed back: idle", handoff.handoff_id)
            minutes = self.settings.handoff_idle_minutes
            if handoff.card_activity_id:
                card = handoff_cards.ended_card(
                    handoff, f"Handed back after {minutes} minutes without messages"
                )
                await _cosmetic(self._redraw(handoff, card))
            await self._tell_employee(
                handoff,
                f"The chat with {handoff.agent_name or 'IT support'} ended after "
                f"{minutes} minutes without messages. You're back with the "
                "copilot: ask me anything, or ask for a person again.",
            )
            await self._note_on_ticket(
                handoff, "returned", handoff.agent_name or "IT support"
            )
        return ended

    async def _tell_thread(self, handoff: Handoff, text: str) -> None:
        reference = await self._thread_reference(handoff)
        if reference is None or self.sender is None:
            return
        try:
            await self.sender.send_proactive(reference, _say(text))
        except Exception as exc:
            logger.warning(
                "could not tell the thread of %s: %s",
                handoff.handoff_id,
                type(exc).__name__,
            )

    async def after_turn(
        self, inbound: Inbound, outbox: Outbox, *, email: str = ""
    ) -> None:
        """Announce a hand-off the turn just opened: the channel card, or in
        hub mode the ``handoff.initiate`` event."""
        live = await store.live_for_conversation(
            self.engine, inbound.tenant_id, inbound.conversation_id
        )
        if live is None or live.status != "waiting" or live.card_activity_id:
            return
        if self.settings.handoff_mode == "hub":
            await outbox.send(initiate_event(live, email=email))
            # The hub owns the conversation from here: while it does, the
            # employee's messages go to it, not to the bot. What still reaches
            # the bot is for the copilot, so nothing is held here, and no
            # "nobody took it" withdrawal follows minutes later.
            await store.finish(
                self.engine, live.handoff_id, "withdrawn", note="sent to the agent hub"
            )
            logger.info("hand-off %s sent to the agent hub", live.handoff_id)
            return
        await self.post_card(live)

    async def post_card(self, handoff: Handoff) -> bool:
        """Open the hand-off's thread in the agents' channel with its card.

        The post is claimed first, so the turn and the background job (which
        retries a post that failed) never both post it.

        Returns:
            True when the card was posted by this call.
        """
        if not await store.claim_card(self.engine, handoff.handoff_id):
            return False
        channel = await store.get_channel(self.engine, handoff.tenant_id)
        if channel is None or self.sender is None:
            logger.warning(
                "hand-off %s has no channel to go to; designate one with "
                "'@%s use this channel for hand-offs'",
                handoff.handoff_id,
                self.settings.bot_name,
            )
            return False
        channel_id, reference = channel
        try:
            activity_id = await self.sender.post_to_channel(
                reference, channel_id, handoff_cards.waiting_card(handoff)
            )
        except Exception as exc:
            # The claim runs out and the background job posts it again.
            logger.warning(
                "could not post hand-off %s to its channel (%s); it is retried",
                handoff.handoff_id,
                type(exc).__name__,
            )
            return False
        if not activity_id:
            logger.warning("the channel gave no id for hand-off %s", handoff.handoff_id)
            return False
        await store.note_card(
            self.engine,
            handoff.handoff_id,
            channel_id=channel_id,
            thread_id=f"{channel_id};messageid={activity_id}",
            card_activity_id=activity_id,
        )
        logger.info("hand-off %s posted to its channel", handoff.handoff_id)
        return True

    # -- the agents' channel ---------------------------------------------

    async def on_channel_message(
        self,
        inbound: Inbound,
        text: str,
        requester_of: RequesterOf,
        outbox: Outbox,
    ) -> bool:
        """A message in a channel: a desk command, or an agent's words in a
        hand-off's thread.

        Returns:
            True when it was for the desk (the copilot must not answer).
        """
        if _DESIGNATE.search(text):
            await self._designate(inbound, await requester_of(inbound), outbox)
            return True
        if not await self._in_desk_channel(inbound):
            return False
        command = text.strip().lower().rstrip(".!")
        if command in ("available", "away"):
            await store.set_agent_status(
                self.engine,
                tenant_id=inbound.tenant_id,
                agent_id=inbound.user_id,
                name=inbound.user_name or inbound.user_id,
                status=command,  # type: ignore[arg-type]
            )
            await outbox.send(_say(f"{inbound.user_name or 'You'}: {command}."))
            return True
        if command == "queue":
            await outbox.send(_say(await self._queue_text(inbound.tenant_id)))
            return True

        handoff = await store.by_thread(self.engine, inbound.conversation_id)
        if handoff is None:
            return False
        if _HAND_BACK.match(text):
            await self._end(handoff, "returned", inbound, outbox, requester_of)
        elif _CLOSE.match(text):
            await self._end(handoff, "closed", inbound, outbox, requester_of)
        elif handoff.status == "active" and inbound.user_id != handoff.agent_id:
            # Colleagues may talk in the thread; only the taker's words go out.
            await outbox.send(
                _say(
                    f"Only {handoff.agent_name or 'the agent who took it'} talks "
                    f"to {handoff.employee_name} in this thread; your message "
                    "stayed here."
                )
            )
        elif handoff.status == "active":
            await store.add_message(
                self.engine,
                handoff_id=handoff.handoff_id,
                direction="to_employee",
                author_id=inbound.user_id,
                author_name=inbound.user_name or handoff.agent_name or "IT support",
                **await self._words_and_files(inbound, text, outbox),
                source_key=inbound.dedupe_key,
            )
            await self._relay_quietly(handoff.handoff_id)
        elif handoff.status == "waiting":
            await outbox.send(
                _say(
                    f"Click Take on the card first; then what you write here "
                    f"reaches {handoff.employee_name}."
                )
            )
        else:
            await outbox.send(_say("This hand-off has ended; nothing was sent."))
        return True

    async def on_click(
        self,
        click: HandoffClick,
        inbound: Inbound,
        requester_of: RequesterOf,
        outbox: Outbox,
    ) -> None:
        """A button on a hand-off card: take, hand back or close.

        Only a click in the hand-off's own channel counts: the card lives
        there, and a submit forged elsewhere with its id must not take it.
        """
        handoff = await store.get_handoff(self.engine, click.handoff_id)
        if handoff is None or not _from_its_channel(handoff, inbound):
            await outbox.send(_say(replies.card_unusable()))
            return
        if click.action == handoff_cards.TAKE:
            await self._take(handoff, inbound, outbox)
        elif click.action == handoff_cards.HAND_BACK:
            await self._end(
                handoff,
                "returned",
                inbound,
                outbox,
                requester_of,
                card_id=inbound.reply_to_id,
            )
        else:
            await self._end(
                handoff,
                "closed",
                inbound,
                outbox,
                requester_of,
                card_id=inbound.reply_to_id,
            )

    async def _words_and_files(
        self, inbound: Inbound, text: str, outbox: Outbox
    ) -> dict[str, Any]:
        """A relay message's text and attachments: pictures fetched and passed
        on inline, other files as links (see :mod:`bot.relay_files`)."""
        if not inbound.files:
            return {"text": text, "attachments": []}
        rules = DownloadRules(
            local_mode=self.settings.local_mode,
            service_url=inbound.reference.get("serviceUrl"),
        )
        attachments, notes = await relayable(
            inbound.files, rules, token=getattr(outbox, "connector_token", None)
        )
        return {
            "text": " ".join([text, *notes]).strip(),
            "attachments": attachments,
        }

    async def _in_desk_channel(self, inbound: Inbound) -> bool:
        """Whether a channel message was written in the tenant's agents' channel."""
        channel = await store.get_channel(self.engine, inbound.tenant_id)
        return channel is not None and channel[0] == channel_of(inbound.conversation_id)

    async def _designate(
        self, inbound: Inbound, requester: Requester, outbox: Outbox
    ) -> None:
        if inbound.conversation_type != "channel":
            await outbox.send(
                _say("Hand-offs go to a Teams channel: say this in the channel.")
            )
            return
        if HELPDESK_ROLE not in requester.roles:
            await outbox.send(
                _say(
                    "Only IT support staff (the helpdesk role) can choose the "
                    "hand-off channel. Ask your Teams admin to do it."
                )
            )
            return
        channel_id = channel_of(inbound.conversation_id)
        await store.set_channel(
            self.engine,
            tenant_id=inbound.tenant_id,
            channel_id=channel_id,
            reference=inbound.reference,
            designated_by=inbound.user_id,
        )
        logger.info("hand-off channel set for tenant %s", inbound.tenant_id)
        await outbox.send(
            _say(
                "Hand-offs will arrive in this channel. Say **available** or "
                "**away** here, and **queue** to see what is waiting."
            )
        )

    async def _queue_text(self, tenant_id: str) -> str:
        waiting = await store.queue(self.engine, tenant_id)
        people = await store.agents(self.engine, tenant_id)
        present = [name for _, name, status in people if status == "available"]
        lines = [
            f"Available: {', '.join(present)}." if present else "Nobody is available."
        ]
        if not waiting:
            lines.append("Nothing is waiting.")
        for handoff in waiting:
            since = (
                cards.reader_time(handoff.created_at) if handoff.created_at else "now"
            )
            lines.append(
                f"- {handoff.employee_name} ({handoff.category}), waiting since "
                f"{since}: {handoff.summary}"
            )
        return "\n".join(lines)

    async def _take(self, handoff: Handoff, inbound: Inbound, outbox: Outbox) -> None:
        agent_name = inbound.user_name or "IT support"
        won = await store.take(
            self.engine,
            handoff.handoff_id,
            agent_id=inbound.user_id,
            agent_name=agent_name,
        )
        if not won:
            current = await store.get_handoff(self.engine, handoff.handoff_id)
            if current is not None and current.agent_name:
                line = f"Already taken by {current.agent_name}."
            else:
                line = "This hand-off is no longer waiting."
            await outbox.send(_say(line))
            return

        logger.info("hand-off %s taken", handoff.handoff_id)
        await record_escalation(
            self.engine,
            self.settings,
            "handoff_taken",
            tenant_id=handoff.tenant_id,
            conversation_id=handoff.conversation_id,
            user_id=handoff.employee_id,
            reason=handoff.reason,
        )
        if inbound.reply_to_id:
            await _cosmetic(
                outbox.update(
                    inbound.reply_to_id, handoff_cards.taken_card(handoff, agent_name)
                )
            )
        await self._tell_employee(
            handoff,
            f"{agent_name} from IT support has joined. Write here to talk to them.",
        )
        await self._relay_quietly(handoff.handoff_id)

    async def _end(
        self,
        handoff: Handoff,
        status: HandoffStatus,
        inbound: Inbound,
        outbox: Outbox,
        requester_of: RequesterOf,
        *,
        card_id: str | None = None,
    ) -> None:
        agent_name = inbound.user_name or handoff.agent_name or "IT support"
        if handoff.status == "active" and inbound.user_id != handoff.agent_id:
            requester = await requester_of(inbound)
            if HELPDESK_ROLE not in requester.roles:
                await outbox.send(
                    _say(
                        f"Only {handoff.agent_name or 'the agent who took it'}, or "
                        "IT support staff with the helpdesk role, can hand this "
                        "back or close it; nothing changed."
                    )
                )
                return
        if handoff.status != "active" or not await store.finish(
            self.engine, handoff.handoff_id, status, note=f"by {agent_name}"
        ):
            await outbox.send(_say("This hand-off is not active; nothing changed."))
            return

        # What the employee already wrote reaches the agent's thread first.
        await self._relay_quietly(handoff.handoff_id)
        logger.info("hand-off %s ended: %s", handoff.handoff_id, status)
        if status == "returned":
            headline = f"Handed back to the copilot by {agent_name}"
            told = (
                f"{agent_name} handed you back to the copilot. You're back with "
                "the copilot: ask me anything."
            )
        else:
            headline = f"Closed by {agent_name}"
            told = f"{agent_name} closed the conversation. Write here anytime."
        card = handoff_cards.ended_card(handoff, headline)
        if card_id:
            await _cosmetic(outbox.update(card_id, card))
        elif handoff.card_activity_id:
            await _cosmetic(self._redraw(handoff, card))
        await outbox.send(_say(f"{headline}. {handoff.employee_name} has been told."))
        await self._tell_employee(handoff, told)
        await self._note_on_ticket(handoff, status, agent_name)

    async def _note_on_ticket(
        self, handoff: Handoff, status: str, agent_name: str
    ) -> None:
        if not handoff.ticket or self.tickets is None:
            return
        messages = await store.transcript_of(self.engine, handoff.handoff_id)
        outcome = "handed back to the copilot" if status == "returned" else "closed"
        body = "\n".join(
            [
                f"Live chat with {agent_name}, {outcome}.",
                "",
                *(f"{m.author_name}: {m.text}" for m in messages),
            ]
        )
        try:
            await self.tickets.acomment(
                handoff.ticket,
                body,
                author=agent_name,
                from_caller=False,
                work_note=True,
            )
        except Exception as exc:  # the chat is over either way; say so in the log
            logger.warning(
                "could not add the hand-off transcript to %s: %s",
                handoff.ticket,
                type(exc).__name__,
            )

    # -- background work -------------------------------------------------

    async def run_relay(self, handoff_id: str | None = None) -> int:
        """Deliver due relay messages, each lane in order (only one hand-off's
        with ``handoff_id``); returns how many."""
        if self.sender is None:
            return 0
        delivered = 0
        for _ in range(RELAY_ROUNDS):
            due = await store.due_messages(self.engine, handoff_id=handoff_id)
            if not due:
                break
            for message in due:
                delivered += await self._deliver(message)
        return delivered

    async def run_cards(self) -> int:
        """Post the cards of waiting hand-offs whose post failed or never ran
        (a replica stopped between opening a hand-off and posting it)."""
        if self.settings.handoff_mode != "teams" or self.sender is None:
            return 0
        posted = 0
        for handoff in await store.unposted(self.engine):
            posted += await self.post_card(handoff)
        return posted

    async def run_withdraw(self) -> int:
        """Withdraw hand-offs nobody took in time; offer each employee a ticket."""
        withdrawn = 0
        for handoff in await store.overdue(self.engine):
            if not await store.finish(
                self.engine, handoff.handoff_id, "withdrawn", note="nobody took it"
            ):
                continue
            withdrawn += 1
            logger.info("hand-off %s withdrawn: nobody took it", handoff.handoff_id)
            if handoff.card_activity_id:
                card = handoff_cards.ended_card(
                    handoff, "Withdrawn: nobody took it in time"
                )
                await _cosmetic(self._redraw(handoff, card))
            await self._tell_employee(
                handoff,
                "Nobody from IT support could take this in time, sorry. I can "
                "open a ticket for you instead:",
            )
            await self._offer_ticket(handoff)
        return withdrawn

    async def _offer_ticket(self, handoff: Handoff) -> None:
        reference = await self._employee_reference(handoff)
        if reference is None or self.sender is None:
            return
        requester = Requester(
            object_id=handoff.employee_id,
            tenant_id=handoff.tenant_id,
            name=handoff.employee_name,
        )
        held = [
            m.text
            for m in await store.transcript_of(self.engine, handoff.handoff_id)
            if m.direction == "to_agent" and m.text.strip()
        ]
        async with self.gate.hold(f"{handoff.tenant_id}:{handoff.conversation_id}"):
            # What they wrote for the person who never came belongs on the ticket.
            note = getattr(self.copilot, "anote_employee_words", None)
            if note is not None:
                await note(
                    requester=requester,
                    conversation_id=handoff.conversation_id,
                    lines=held,
                )
            reply = await self.copilot.arun_turn(
                requester=requester,
                conversation_id=handoff.conversation_id,
                text=WITHDRAWN_TICKET,
                from_helpdesk=True,
                private_chat=reference.get("conversation", {}).get("conversationType")
                == "personal",
            )
        activities = []
        if reply.text.strip() and not reply.approvals:
            activities.append(replies.answer_activity(reply))
        for request in reply.approvals:
            name = (
                handoff.employee_name
                if request.approver_id == handoff.employee_id
                else None
            )
            activities.append(cards.approval_activity(request, approver_name=name))
        for activity in activities:
            await self.sender.send_proactive(reference, activity)

    async def _deliver(self, message: RelayMessage) -> int:
        assert self.sender is not None
        handoff = await store.get_handoff(self.engine, message.handoff_id)
        try:
            if handoff is None:
                raise LookupError(f"hand-off {message.handoff_id} is gone")
            if message.direction == "to_employee":
                reference = await self._employee_reference(handoff)
                text = f"**{message.author_name} (IT support):** {message.text}"
            else:
                reference = await self._thread_reference(handoff)
                text = f"**{message.author_name}:** {message.text}"
            if reference is None:
                raise LookupError("no conversation to deliver to")
            activity = _say(text)
            if message.attachments:
                activity["attachments"] = list(message.attachments)
            await self.sender.send_proactive(reference, activity)
        except Exception as exc:
            logger.warning(
                "relay message %d not delivered: %s", message.seq, type(exc).__name__
            )
            await store.mark_message(
                self.engine, message.seq, delivered=False, error=str(exc)[:500]
            )
            return 0
        await store.mark_message(self.engine, message.seq, delivered=True)
        return 1

    async def _relay_quietly(self, handoff_id: str) -> None:
        """Deliver now what this hand-off can send now, in the turn that wrote
        it; other hand-offs, and retries, are the background job's."""
        try:
            await self.run_relay(handoff_id)
        except Exception as exc:
            logger.warning("relay deferred to the background job: %s", exc)

    async def _tell_employee(self, handoff: Handoff, text: str) -> None:
        reference = await self._employee_reference(handoff)
        if reference is None or self.sender is None:
            logger.warning("no way to tell the employee of %s", handoff.handoff_id)
            return
        try:
            await self.sender.send_proactive(reference, _say(text))
        except Exception as exc:
            logger.warning(
                "could not tell the employee of %s: %s",
                handoff.handoff_id,
                type(exc).__name__,
            )

    async def _employee_reference(self, handoff: Handoff) -> dict[str, Any] | None:
        return await get_reference(
            self.engine,
            tenant_id=handoff.tenant_id,
            user_object_id=handoff.employee_id,
            conversation_id=handoff.conversation_id,
        )

    async def _thread_reference(self, handoff: Handoff) -> dict[str, Any] | None:
        channel = await store.get_channel(self.engine, handoff.tenant_id)
        if channel is None or not handoff.thread_id:
            return None
        reference = dict(channel[1])
        conversation = dict(reference.get("conversation") or {})
        conversation["id"] = handoff.thread_id
        reference["conversation"] = conversation
        return reference

    async def _redraw(self, handoff: Handoff, card: dict[str, Any]) -> None:
        reference = await self._thread_reference(handoff)
        if reference is None or self.sender is None or not handoff.card_activity_id:
            return
        await self.sender.update_proactive(reference, handoff.card_activity_id, card)


def initiate_event(handoff: Handoff, *, email: str = "") -> dict[str, Any]:
    """Bot Framework's ``handoff.initiate`` event, with the transcript.

    An agent hub in front of the bot reads ``value`` (the context) and the
    transcript attachment (the conversation so far as message activities).
    """
    activities = []
    for line in handoff.transcript.splitlines():
        who, sep, said = line.partition(": ")
        if not sep:
            who, said = "", line
        if said.strip():
            activities.append(
                {"type": "message", "from": {"name": who.strip()}, "text": said}
            )
    return {
        "type": "event",
        "name": HANDOFF_INITIATE,
        "value": {
            "skill": "IT support",
            "emailAddress": email,
            "employee": handoff.employee_name,
            "summary": handoff.summary,
            "category": handoff.category,
            "handoff": handoff.handoff_id,
        },
        "attachments": [
            {"contentType": TRANSCRIPT_TYPE, "content": {"activities": activities}}
        ],
    }


def _from_its_channel(handoff: Handoff, inbound: Inbound) -> bool:
    """Whether a click came from the channel the hand-off's card was posted in."""
    if inbound.conversation_type != "channel":
        return False
    return handoff.channel_id is None or handoff.channel_id == channel_of(
        inbound.conversation_id
    )


async def _cosmetic(work: Awaitable[None]) -> None:
    """Redraw a card; a failure only leaves the old card showing."""
    try:
        await work
    except Exception as exc:
        logger.warning("could not redraw a hand-off card: %s", type(exc).__name__)
