"""The bot's behaviour on our own types: dedupe, tenants, routing, typing, replies.

Nothing here imports the Bot Framework SDK; :mod:`bot.adapter` converts each
activity into an :class:`~bot.inbound.Inbound` and gives an :class:`Outbox` to
answer through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from agent.runner import Copilot
from bot import replies
from bot.inbound import Inbound
from bot.mentions import clean_text, has_words
from tools.db import claim_activity, save_reference
from tools.errors import HelpdeskError
from tools.identity import Requester
from tools.settings import Settings

logger = logging.getLogger(__name__)

TYPING_INTERVAL_S = 3.0
"""Teams hides the typing indicator after a few seconds; repeat it this often."""


class Outbox(Protocol):
    """Where the handler's answers go (the current conversation)."""

    async def send(self, activity: dict[str, Any]) -> None:
        """Send one activity (Bot Framework JSON) to the conversation."""
        ...

    async def typing(self) -> None:
        """Show the typing indicator."""
        ...


@dataclass(frozen=True, slots=True)
class InvokeResult:
    """The HTTP answer to an invoke activity."""

    status: int
    body: Any = None


@dataclass
class TurnHandler:
    """Handles one activity at a time; shared by every request of a process.

    Attributes:
        settings: the process settings.
        engine: the app database (dedupe records, conversation references).
        copilot: runs agent turns.
        typing_interval_s: how often to repeat the typing indicator.
    """

    settings: Settings
    engine: AsyncEngine
    copilot: Copilot
    typing_interval_s: float = TYPING_INTERVAL_S

    async def handle(self, inbound: Inbound, outbox: Outbox) -> InvokeResult | None:
        """Route one activity; returns the invoke answer for invoke activities.

        Never raises: a failure ends in an apology with a correlation id.
        """
        if not self._tenant_allowed(inbound.tenant_id):
            logger.warning(
                "refused activity from tenant %s (not in allowed tenants)",
                inbound.tenant_id or "<none>",
            )
            if inbound.kind == "message":
                await outbox.send(
                    replies.text_activity(
                        replies.tenant_refused(self.settings.company_name)
                    )
                )
            return InvokeResult(200, {}) if inbound.kind == "feedback" else None

        try:
            if inbound.kind == "message":
                await self.on_message(inbound, outbox)
            elif inbound.kind == "members_added":
                await self.on_members_added(inbound, outbox)
            elif inbound.kind == "feedback":
                return await self.on_feedback(inbound)
        except Exception as exc:
            await self._apologise(exc, inbound, outbox)
        return None

    def _tenant_allowed(self, tenant_id: str) -> bool:
        allowed = self.settings.tenant_allow_list()
        return allowed is None or tenant_id in allowed

    async def on_message(self, inbound: Inbound, outbox: Outbox) -> None:
        """A message: dedupe, remember the reference, then route it."""
        if not await claim_activity(self.engine, inbound.dedupe_key):
            logger.info("dropped re-sent activity %s", inbound.activity_id)
            return
        await save_reference(
            self.engine,
            tenant_id=inbound.tenant_id,
            user_object_id=inbound.user_id,
            conversation_id=inbound.conversation_id,
            reference=inbound.reference,
        )

        raw = inbound.text or ""
        submitted = inbound.value is not None or inbound.reply_to_id is not None
        if not raw.strip() and submitted and not inbound.attachment_types:
            await self.on_card_submit(inbound, outbox)
            return

        text = clean_text(raw, inbound.mentions, inbound.bot_id)
        if not has_words(text):
            has_image = any(t.startswith("image/") for t in inbound.attachment_types)
            await outbox.send(
                replies.text_activity(replies.describe_in_words(has_image=has_image))
            )
            return

        await self._run_turn(inbound, text, outbox)

    async def on_card_submit(self, inbound: Inbound, outbox: Outbox) -> None:
        """An Adaptive Card ``Action.Submit``; its fields never reach the model.

        TODO(approvals): resume the paused approval named in ``value`` once the
        agent exposes resuming; until then every choice is answered as unusable.
        """
        logger.info(
            "card submit in %s (value %s)",
            inbound.conversation_id,
            "present" if inbound.value is not None else "missing",
        )
        await outbox.send(replies.text_activity(replies.card_choice_unusable()))

    async def on_members_added(self, inbound: Inbound, outbox: Outbox) -> None:
        """Greet once when the bot joins a chat, or a user opens the 1:1 chat."""
        bot_added = inbound.bot_id in inbound.members_added
        user_added = inbound.conversation_type == "personal" and any(
            m != inbound.bot_id for m in inbound.members_added
        )
        if not (bot_added or user_added):
            return
        key = f"greeted:{inbound.tenant_id}:{inbound.conversation_id}"
        if not await claim_activity(self.engine, key):
            return
        name = inbound.user_name if inbound.conversation_type == "personal" else None
        await outbox.send(
            replies.text_activity(replies.greeting(self.settings.bot_name, name))
        )

    async def on_feedback(self, inbound: Inbound) -> InvokeResult:
        """Thumbs up/down on an answer: acknowledge and log it.

        TODO(analytics): store the reaction once the analytics tables exist.
        """
        value = inbound.value if isinstance(inbound.value, dict) else {}
        action = value.get("actionValue")
        reaction = action.get("reaction") if isinstance(action, dict) else None
        logger.info(
            "feedback %s on activity %s in %s",
            reaction or "<none>",
            inbound.reply_to_id or "<unknown>",
            inbound.conversation_id,
        )
        return InvokeResult(200, {})

    async def _run_turn(self, inbound: Inbound, text: str, outbox: Outbox) -> None:
        requester = Requester(
            object_id=inbound.user_id,
            tenant_id=inbound.tenant_id,
            name=inbound.user_name,
        )
        typing = asyncio.create_task(
            self._keep_typing(outbox), name=f"typing-{inbound.activity_id}"
        )
        try:
            reply = await self.copilot.arun_turn(
                requester=requester,
                conversation_id=inbound.conversation_id,
                text=text,
            )
        finally:
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await typing
        await outbox.send(replies.answer_activity(reply))

    async def _keep_typing(self, outbox: Outbox) -> None:
        while True:
            try:
                await outbox.typing()
            except Exception as exc:  # typing is cosmetic; never fail a turn on it
                logger.debug("typing indicator failed: %s", exc)
            await asyncio.sleep(self.typing_interval_s)

    async def _apologise(
        self, exc: Exception, inbound: Inbound, outbox: Outbox
    ) -> None:
        correlation_id = new_correlation_id()
        logger.exception(
            "turn failed [%s] activity %s in %s",
            correlation_id,
            inbound.activity_id,
            inbound.conversation_id,
            exc_info=exc,
        )
        user_message = exc.user_message if isinstance(exc, HelpdeskError) else None
        try:
            await outbox.send(
                replies.text_activity(replies.apology(correlation_id, user_message))
            )
        except Exception:
            logger.exception("could not send the apology [%s]", correlation_id)


def new_correlation_id() -> str:
    """A short id that ties the user's apology to the operator's log line."""
    return uuid.uuid4().hex[:12]
