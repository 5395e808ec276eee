"""The bot's behaviour on our own types: dedupe, tenants, routing, typing, replies.

Nothing here imports the Bot Framework SDK; :mod:`bot.adapter` converts each
activity into an :class:`~bot.inbound.Inbound` and gives an :class:`Outbox` to
answer through.

Approval cards and one-time secrets are delivered here too. A card decision is
claimed once by the agent (``Copilot.aresume``); the host only redraws the card
so it no longer looks clickable. A secret is shown only in a 1:1 chat with the
person it belongs to, whatever the tool that made it decided.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from agent.runner import Copilot, TurnReply, thread_id_for
from bot import asset_cards, cards, followup_cards, handoff_cards, replies, ticket_news
from bot.attachments import DownloadFailed, DownloadRules, download_files
from bot.handoff import HandoffDesk
from bot.inbound import Inbound
from bot.mentions import clean_text, has_words
from bot.serial import ConversationGate
from tools.analytics import (
    followups,
    record_feedback,
    record_fix_answer,
    record_knowledge_gap,
    record_satisfaction,
    record_turn,
)
from tools.approvals import ApprovalRequest, get_approval, pending_for_thread
from tools.assets import workflow as asset_workflow
from tools.db import claim_activity, save_reference
from tools.directory.base import Directory
from tools.errors import HelpdeskError, NotFound
from tools.fix_answers import read_fix_answer, says_it_works
from tools.identity import Requester
from tools.redact import redact
from tools.secrets import OneTimeSecret
from tools.services import Services
from tools.settings import Settings
from tools.tickets.base import TicketSystem
from tools.tickets.events import get_event
from tools.tickets.pending import add_pending_file

logger = logging.getLogger(__name__)

TYPING_INTERVAL_S = 3.0
"""Teams hides the typing indicator after a few seconds; repeat it this often."""

T = TypeVar("T")


class Outbox(Protocol):
    """Where the handler's answers go (the current conversation)."""

    async def send(self, activity: dict[str, Any]) -> str | None:
        """Send one activity (Bot Framework JSON) to the conversation;
        returns the message id Teams gave it, when it gave one."""
        ...

    async def typing(self) -> None:
        """Show the typing indicator."""
        ...

    async def update(self, activity_id: str, activity: dict[str, Any]) -> None:
        """Replace an activity the bot sent earlier (a card after its decision)."""
        ...

    async def connector_token(self) -> str | None:
        """The bot's own token for the conversation's connector (pasted images
        are fetched with it), or None when the bot runs unsigned."""
        ...


@dataclass
class KeptFiles:
    """What became of a message's files: the names kept, and one sentence
    for each that could not be."""

    names: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    has_image: bool = False


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
        engine: the app database (dedupe records, conversation references,
            approvals to redraw).
        copilot: runs agent turns and applies card decisions.
        directory: where the requester's UPN and roles, and approvers' names,
            come from; None runs with what the activity says alone.
        typing_interval_s: how often to repeat the typing indicator.
    """

    settings: Settings
    engine: AsyncEngine
    copilot: Copilot
    directory: Directory | None = None
    offers: Callable[[], list[str]] = list
    """What the enabled tools do now, in employees' words (the greeting
    promises only these)."""
    tickets: TicketSystem | None = None
    """The service desk, for "did this fix it?" clicks on ticket news."""
    typing_interval_s: float = TYPING_INTERVAL_S
    gate: ConversationGate = field(default_factory=ConversationGate)
    """Runs one turn at a time per conversation (see :mod:`bot.serial`)."""
    handoffs: HandoffDesk | None = None
    """Live hand-off to a person (see :mod:`bot.handoff`); None runs without."""
    services: Services | None = None
    """The back ends, for approvers' clicks on asset requests (see
    :mod:`tools.assets.workflow`); None runs without."""

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

        async with self.gate.hold(f"{inbound.tenant_id}:{inbound.conversation_id}"):
            await self._route_message(inbound, outbox)

    async def _route_message(self, inbound: Inbound, outbox: Outbox) -> None:
        if self.handoffs is not None and await self._route_handoff(inbound, outbox):
            return
        if _overheard(inbound):
            return
        rating = followup_cards.read_rating(inbound.value)
        if rating is not None:
            await self.on_rating(rating, inbound, outbox)
            return
        ticket_reply = ticket_news.read_ticket_reply(inbound.value)
        if ticket_reply is not None:
            await self.on_ticket_reply(ticket_reply, inbound, outbox)
            return
        asset_click = asset_cards.read_asset_click(inbound.value)
        if asset_click is not None:
            await self.on_asset_click(asset_click, inbound, outbox)
            return
        ticket_choice = ticket_news.read_ticket_choice(inbound.value)
        if ticket_choice is not None:
            await self.on_ticket_choice(ticket_choice, inbound, outbox)
            return
        raw = inbound.text or ""
        submitted = inbound.value is not None or inbound.reply_to_id is not None
        blank_submit = not raw.strip() and submitted and not inbound.attachment_types
        if blank_submit or cards.read_choice(inbound.value) is not None:
            await self.on_card_submit(inbound, outbox)
            return

        # A secret typed into the chat never reaches the model, the
        # conversation state or anyone else: it is masked here, first.
        text = redact(
            clean_text(
                raw, inbound.mentions, inbound.bot_id, bot_name=self.settings.bot_name
            )
        )
        kept = await self._keep_files(inbound, outbox)
        if not inbound.files:
            answered = await self._answered_fix_question(inbound, text, outbox)
            if answered is None:
                return
            text = answered
        if not has_words(text):
            await self._answer_without_words(inbound, kept, outbox)
            return

        if kept.failed:
            await outbox.send(
                replies.text_activity(replies.files_not_kept(kept.failed))
            )
        await self._run_turn(inbound, text, outbox)

    async def _answered_fix_question(
        self, inbound: Inbound, text: str, outbox: Outbox
    ) -> str | None:
        """The employee's answer to "Did this fix it?", when one is open.

        A yes is kept as resolved, thanked, and may bring the 1-5 card; the
        turn ends there. A no is kept too, and the words go on to the model,
        which offers the next step (another fix, a ticket or a person).
        With no question open, "that worked, thanks" is only thanked (it is
        not counted), and anything else is an ordinary message.

        Returns:
            None when nothing more should happen; else the text for the
            turn (a bare "no" becomes "No, I'm still stuck", so that the
            model knows what it answers).
        """
        answer = read_fix_answer(text)
        if answer is None:
            return text
        answered = await followups.aanswer_fix(
            self.engine,
            self.settings,
            tenant_id=inbound.tenant_id,
            conversation_id=inbound.conversation_id,
            answer=answer,
        )
        if answered is None:
            if says_it_works(text):
                # "that worked, thanks" about an answer that did not ask (or
                # asked already): a kind word, not a question for the model.
                await outbox.send(
                    replies.text_activity(followup_cards.glad_it_worked())
                )
                return None
            return text  # no open question: an ordinary message
        await record_fix_answer(
            self.engine,
            self.settings,
            tenant_id=inbound.tenant_id,
            conversation_id=inbound.conversation_id,
            user_id=inbound.user_id,
            fixed=answer == "fixed",
            sources=answered.sources,
        )
        logger.info("fix question in %s answered: %s", inbound.conversation_id, answer)
        if answer != "fixed":
            return followup_cards.for_the_model(text)
        await outbox.send(replies.text_activity(followup_cards.glad_it_worked()))
        await self._offer_satisfaction(inbound, outbox, "resolved")
        return None

    async def _offer_satisfaction(
        self, inbound: Inbound, outbox: Outbox, reason: followups.AskReason
    ) -> None:
        """Send the 1-5 card, in a 1:1 chat, when this employee is due one."""
        if not _is_personal(inbound):
            return
        ask_id = await followups.aclaim_satisfaction(
            self.engine,
            self.settings,
            tenant_id=inbound.tenant_id,
            user_id=inbound.user_id,
            conversation_id=inbound.conversation_id,
            reason=reason,
        )
        if ask_id is not None:
            await outbox.send(followup_cards.satisfaction_activity(ask_id))

    async def on_rating(
        self, rating: followup_cards.Rating, inbound: Inbound, outbox: Outbox
    ) -> None:
        """A click on the 1-5 card: kept once, from its own employee."""
        outcome = await followups.arate(
            self.engine,
            self.settings,
            ask_id=rating.ask_id,
            tenant_id=inbound.tenant_id,
            user_id=inbound.user_id,
            rating=rating.rating,
        )
        logger.info("satisfaction card in %s: %s", inbound.conversation_id, outcome)
        if outcome == "rated":
            await record_satisfaction(
                self.engine,
                self.settings,
                tenant_id=inbound.tenant_id,
                conversation_id=inbound.conversation_id,
                user_id=inbound.user_id,
                rating=rating.rating,
            )
        await outbox.send(
            replies.text_activity(followup_cards.rating_reply(outcome, rating.rating))
        )
        if outcome == "rated" and inbound.reply_to_id:
            try:
                await outbox.update(
                    inbound.reply_to_id, followup_cards.rated_activity(rating.rating)
                )
            except Exception as exc:  # a redraw is cosmetic
                logger.warning("could not redraw a rating card: %s", type(exc).__name__)

    async def _route_handoff(self, inbound: Inbound, outbox: Outbox) -> bool:
        """Hand-off clicks and the agents' channel, and an employee's words
        while a person has (or is about to have) the conversation: the
        copilot stays quiet. Returns True when the message was handled."""
        assert self.handoffs is not None
        click = handoff_cards.read_click(inbound.value)
        if click is not None:
            await self.handoffs.on_click(click, inbound, self._requester, outbox)
            return True
        text = redact(
            clean_text(
                inbound.text or "",
                inbound.mentions,
                inbound.bot_id,
                bot_name=self.settings.bot_name,
            )
        )
        if inbound.conversation_type == "channel":
            return await self.handoffs.on_channel_message(
                inbound, text, self._requester, outbox
            )
        if inbound.value is not None and not text.strip():
            return False  # a card submit of the employee's goes its own way
        return await self.handoffs.hold_for_agent(inbound, text, outbox)

    async def _keep_files(self, inbound: Inbound, outbox: Outbox) -> KeptFiles:
        """Download the message's files and keep them for the thread's next
        ticket (see :mod:`tools.tickets.pending`), before the turn runs.

        Without a ticket system there is nowhere to put them, so nothing is
        fetched.
        """
        if not inbound.files or self.tickets is None:
            return KeptFiles()
        rules = DownloadRules(
            local_mode=self.settings.local_mode,
            service_url=inbound.reference.get("serviceUrl"),
        )
        results = await self._with_typing(
            outbox,
            inbound,
            download_files(inbound.files, rules, token=outbox.connector_token),
        )
        thread_id = thread_id_for(
            Requester(object_id=inbound.user_id, tenant_id=inbound.tenant_id),
            inbound.conversation_id,
        )
        kept = KeptFiles()
        for position, result in enumerate(results):
            if isinstance(result, DownloadFailed):
                kept.failed.append(result.user_message)
                continue
            await add_pending_file(
                self.engine,
                thread_id=thread_id,
                tenant_id=inbound.tenant_id,
                user_id=inbound.user_id,
                activity_id=inbound.activity_id,
                position=position,
                name=result.name,
                content_type=result.content_type,
                data=result.data,
            )
            kept.names.append(result.name)
            kept.has_image = kept.has_image or result.content_type.startswith("image/")
        logger.info(
            "kept %d of %d file(s) from activity %s in %s",
            len(kept.names),
            len(results),
            inbound.activity_id,
            inbound.conversation_id,
        )
        return kept

    async def _answer_without_words(
        self, inbound: Inbound, kept: KeptFiles, outbox: Outbox
    ) -> None:
        """An empty, emoji-only or files-only message (field case T4): no turn.

        Kept files are acknowledged with what can be done with them; files
        that could not be kept are told plainly.
        """
        said = list(kept.failed)
        if kept.names:
            said.append(replies.files_kept(kept.names, has_image=kept.has_image))
        else:
            has_image = any(t.startswith("image/") for t in inbound.attachment_types)
            said.append(replies.describe_in_words(has_image=has_image))
        await outbox.send(replies.text_activity(" ".join(said)))

    async def on_card_submit(self, inbound: Inbound, outbox: Outbox) -> None:
        """An Adaptive Card ``Action.Submit``; its fields never reach the model.

        A readable choice goes to the agent, which claims the decision once; a
        submit whose ``value`` Teams dropped is not a decision: the clicker is
        told and the thread's pending cards are shown again (field case T3).
        """
        choice = cards.read_choice(inbound.value)
        logger.info(
            "card submit in %s (%s)",
            inbound.conversation_id,
            "readable" if choice is not None else "no readable choice",
        )
        if choice is None:
            await self._card_unreadable(inbound, outbox)
            return

        requester = await self._requester(inbound)
        result = await self._with_typing(
            outbox,
            inbound,
            self.copilot.aresume(
                requester=requester,
                conversation_id=inbound.conversation_id,
                approval_id=choice.approval_id,
                approve=choice.approve,
                comment=choice.comment,
                private_chat=_is_personal(inbound),
                values=choice.values,
            ),
        )
        logger.info(
            "decision on approval %s in %s: %s",
            choice.approval_id,
            inbound.conversation_id,
            result.outcome,
        )

        if result.outcome == "resumed":
            status: cards.DecidedStatus = "approved" if choice.approve else "rejected"
            await self._redraw_card(inbound, outbox, choice.approval_id, status)
            if result.reply is not None:
                await self._deliver(result.reply, inbound, outbox)
            return
        if result.outcome == "already_decided":
            line = replies.approval_already_handled()
        elif result.outcome == "expired":
            await self._redraw_card(inbound, outbox, choice.approval_id, "expired")
            line = replies.approval_expired()
        elif result.outcome == "not_yours":
            stored = await get_approval(self.engine, choice.approval_id)
            name = (
                await self._name_of(stored.request.approver_id, inbound)
                if stored is not None
                else None
            )
            line = replies.approval_not_yours(name)
        else:
            line = replies.card_unusable()
        await outbox.send(replies.text_activity(line))

    async def on_ticket_choice(
        self, choice: ticket_news.TicketChoice, inbound: Inbound, outbox: Outbox
    ) -> None:
        """A "did this fix it?" click on ticket news: close or reopen, once,
        for the ticket's caller only; never through the model."""
        if self.tickets is None:
            await outbox.send(replies.text_activity(replies.card_unusable()))
            return
        requester = await self._requester(inbound)
        result = await ticket_news.decide_ticket_choice(choice, requester, self.tickets)
        logger.info(
            "ticket choice on %s in %s: %s",
            choice.ticket,
            inbound.conversation_id,
            result.outcome,
        )
        await outbox.send(replies.text_activity(result.reply))
        if result.outcome == "closed":
            await self._offer_satisfaction(inbound, outbox, "ticket_closed")
        if result.redraw and inbound.reply_to_id:
            try:
                event = await get_event(self.engine, choice.event_id)
                await outbox.update(
                    inbound.reply_to_id,
                    ticket_news.decided_news_activity(
                        choice, event=event, by=requester.name
                    ),
                )
            except Exception as exc:  # a redraw is cosmetic
                logger.warning("could not redraw ticket news: %s", type(exc).__name__)

    async def on_asset_click(
        self, click: asset_cards.AssetClick, inbound: Inbound, outbox: Outbox
    ) -> None:
        """Approve or Reject on an asset request card: decided once, by the
        approver asked only; never through the model."""
        if self.services is None or self.services.catalog is None:
            await outbox.send(replies.text_activity(replies.card_unusable()))
            return
        requester = await self._requester(inbound)
        line = await asset_workflow.on_decision(
            self.services,
            click.approval_seq,
            by=requester.object_id,
            approved=click.approved,
            comment=click.comment,
        )
        logger.info(
            "asset decision on approval %d in %s",
            click.approval_seq,
            inbound.conversation_id,
        )
        await outbox.send(replies.text_activity(line))
        if inbound.reply_to_id and line.startswith(("Approved", "Rejected")):
            try:
                event = (
                    await get_event(self.engine, click.event_id)
                    if click.event_id
                    else None
                )
                await outbox.update(
                    inbound.reply_to_id, asset_cards.decided_activity(event, line)
                )
            except Exception as exc:  # a redraw is cosmetic
                logger.warning("could not redraw an asset card: %s", type(exc).__name__)

    async def on_ticket_reply(
        self, reply: ticket_news.TicketReply, inbound: Inbound, outbox: Outbox
    ) -> None:
        """An answer typed into ticket news: onto the ticket once, for its
        caller only (a double click sends the same words once)."""
        if self.tickets is None:
            await outbox.send(replies.text_activity(replies.card_unusable()))
            return
        digest = hashlib.sha256(reply.text.encode()).hexdigest()[:24]
        key = f"ticket-reply:{inbound.tenant_id}:{reply.event_id}:{digest}"
        if reply.text and not await claim_activity(self.engine, key):
            await outbox.send(
                replies.text_activity("I already sent that answer to IT support.")
            )
            return
        requester = await self._requester(inbound)
        line = await ticket_news.send_ticket_reply(reply, requester, self.tickets)
        logger.info("ticket reply on %s in %s", reply.ticket, inbound.conversation_id)
        await outbox.send(replies.text_activity(line))

    async def _card_unreadable(self, inbound: Inbound, outbox: Outbox) -> None:
        thread_id = thread_id_for(
            Requester(object_id=inbound.user_id, tenant_id=inbound.tenant_id),
            inbound.conversation_id,
        )
        pending = await pending_for_thread(self.engine, thread_id)
        await outbox.send(
            replies.text_activity(replies.card_unreadable(shown_again=bool(pending)))
        )
        for request in pending:
            await self._send_card(request, inbound, outbox)

    async def _redraw_card(
        self,
        inbound: Inbound,
        outbox: Outbox,
        approval_id: str,
        status: cards.DecidedStatus,
    ) -> None:
        """Replace the clicked card with its decided form; cosmetic, never fatal."""
        if inbound.reply_to_id is None:
            return
        try:
            stored = await get_approval(self.engine, approval_id)
            by = inbound.user_name
            if stored is not None and stored.decided_by and stored.decided_at:
                by = await self._name_of(stored.decided_by, inbound) or by
            activity = cards.decided_activity(
                stored.request if stored is not None else None,
                status,
                by=by,
                at=stored.decided_at if stored is not None else None,
                values=stored.values if stored is not None else None,
            )
            await outbox.update(inbound.reply_to_id, activity)
        except Exception as exc:
            logger.warning(
                "could not redraw card %s in %s: %s",
                inbound.reply_to_id,
                inbound.conversation_id,
                type(exc).__name__,
            )

    async def on_members_added(self, inbound: Inbound, outbox: Outbox) -> None:
        """Greet once when the bot joins a chat, or a user opens the 1:1 chat."""
        bot_added = inbound.bot_id in inbound.members_added
        user_added = inbound.conversation_type == "personal" and any(
            m != inbound.bot_id for m in inbound.members_added
        )
        if not (bot_added or user_added):
            return
        if inbound.conversation_type == "personal" and inbound.user_id:
            # The app was installed for this person (by them, or by an admin
            # through Graph): from now on the bot can reach them, and news
            # parked for want of a chat (an approval card) becomes due.
            await save_reference(
                self.engine,
                tenant_id=inbound.tenant_id,
                user_object_id=inbound.user_id,
                conversation_id=inbound.conversation_id,
                reference=inbound.reference,
            )
        key = f"greeted:{inbound.tenant_id}:{inbound.conversation_id}"
        if not await claim_activity(self.engine, key):
            return
        name = inbound.user_name if inbound.conversation_type == "personal" else None
        await outbox.send(
            replies.text_activity(
                replies.greeting(self.settings.bot_name, name, self.offers())
            )
        )

    async def on_feedback(self, inbound: Inbound) -> InvokeResult:
        """Thumbs up/down on an answer, with the comment the employee may type.

        Kept as analytics events (:mod:`tools.analytics`), tied to the
        articles the answer cited; the comment is redacted before it is
        stored. Feedback on a message that is not a remembered answer is
        dropped, and a second invoke for the same answer and person (a
        re-send, or a changed mind) changes nothing.
        """
        value = inbound.value if isinstance(inbound.value, dict) else {}
        action = value.get("actionValue")
        action = action if isinstance(action, dict) else {}
        reaction = action.get("reaction")
        logger.info(
            "feedback %s on activity %s in %s",
            reaction if reaction in ("like", "dislike") else "<none>",
            inbound.reply_to_id or "<unknown>",
            inbound.conversation_id,
        )
        if reaction not in ("like", "dislike"):
            return InvokeResult(200, {})
        sources = await followups.asources_of(
            self.engine, tenant_id=inbound.tenant_id, activity_id=inbound.reply_to_id
        )
        if sources is None:
            # Not an answer of the copilot's (or one from before answers were
            # remembered): a rating of nothing that can be reported.
            logger.info("feedback on an unknown message dropped")
            return InvokeResult(200, {})
        key = (
            f"feedback:{inbound.tenant_id}:{inbound.conversation_id}:"
            f"{inbound.reply_to_id}:{inbound.user_id}"
        )
        if not await claim_activity(self.engine, key):
            return InvokeResult(200, {})  # a re-send, or a second reaction
        await record_feedback(
            self.engine,
            self.settings,
            tenant_id=inbound.tenant_id,
            conversation_id=inbound.conversation_id,
            user_id=inbound.user_id,
            positive=reaction == "like",
            comment=_feedback_comment(action.get("feedback")),
            sources=sources,
        )
        return InvokeResult(200, {})

    async def _run_turn(self, inbound: Inbound, text: str, outbox: Outbox) -> None:
        requester = await self._requester(inbound)
        reply = await self._with_typing(
            outbox,
            inbound,
            self.copilot.arun_turn(
                requester=requester,
                conversation_id=inbound.conversation_id,
                text=text,
                private_chat=_is_personal(inbound),
            ),
        )
        await self._deliver(reply, inbound, outbox)
        await record_turn(
            self.engine,
            self.settings,
            tenant_id=inbound.tenant_id,
            conversation_id=inbound.conversation_id,
            user_id=inbound.user_id,
        )
        if reply.searched and not reply.citations:
            # Searched, and nothing it found was worth citing: a gap.
            await record_knowledge_gap(
                self.engine,
                self.settings,
                tenant_id=inbound.tenant_id,
                conversation_id=inbound.conversation_id,
                user_id=inbound.user_id,
                question=text,
            )
        if self.handoffs is not None:
            await self.handoffs.after_turn(inbound, outbox, email=requester.upn or "")

    async def _requester(self, inbound: Inbound) -> Requester:
        """Who is asking: the activity's sender, with UPN and roles from the
        directory when it knows them."""
        basic = Requester(
            object_id=inbound.user_id,
            tenant_id=inbound.tenant_id,
            name=inbound.user_name,
        )
        if self.directory is None:
            return basic
        try:
            user = await self.directory.aget_user(inbound.user_id)
        except NotFound:
            logger.info("requester %s is not in the directory", inbound.user_id)
            return basic
        except Exception as exc:
            # Without roles a turn can still help; acting on others is refused.
            logger.warning(
                "directory lookup of the requester failed; no roles this turn: %s",
                type(exc).__name__,
            )
            return basic
        return Requester(
            object_id=inbound.user_id,
            tenant_id=inbound.tenant_id,
            upn=user.upn,
            name=inbound.user_name or user.display_name,
            roles=frozenset(user.roles),
        )

    async def _name_of(self, object_id: str, inbound: Inbound) -> str | None:
        if object_id == inbound.user_id and inbound.user_name:
            return inbound.user_name
        if self.directory is None:
            return None
        try:
            return (await self.directory.aget_user(object_id)).display_name
        except Exception as exc:  # a name is cosmetic; never fail a turn on it
            logger.info("no name for %s: %s", object_id, type(exc).__name__)
            return None

    async def _deliver(
        self, reply: TurnReply, inbound: Inbound, outbox: Outbox
    ) -> None:
        """Send a turn's answer, then its secrets, then one card per approval.

        An answer from the knowledge base, in a 1:1 chat, that asks nothing
        itself and waits on no card, asks "Did this fix it?". Every answer is
        remembered with the articles it cited (see
        :mod:`tools.analytics.followups`).
        """
        if reply.text.strip() or not (reply.approvals or reply.secrets):
            activity = replies.answer_activity(reply)
            asks_fix = (
                _is_personal(inbound)
                and bool(reply.citations)
                and not (reply.approvals or reply.secrets)
                and "?" not in reply.text
            )
            activity_id = await outbox.send(activity)
            if asks_fix:
                await outbox.send(followup_cards.fix_question())
            await followups.aremember_answer(
                self.engine,
                self.settings,
                tenant_id=inbound.tenant_id,
                conversation_id=inbound.conversation_id,
                activity_id=activity_id,
                sources=[c.source for c in reply.citations],
                asks_fix=asks_fix,
            )
        await self._send_secrets(reply.secrets, inbound, outbox)
        for request in reply.approvals:
            await self._send_card(request, inbound, outbox)

    async def _send_card(
        self, request: ApprovalRequest, inbound: Inbound, outbox: Outbox
    ) -> None:
        name = await self._name_of(request.approver_id, inbound)
        await outbox.send(cards.approval_activity(request, approver_name=name))

    async def _send_secrets(
        self, secrets: list[OneTimeSecret], inbound: Inbound, outbox: Outbox
    ) -> None:
        """Show each secret once, only in a 1:1 chat with its owner.

        The tools refuse to make a secret outside a private chat; this is the
        second lock, so that no tool bug can put one in a group chat.
        """
        withheld = False
        for secret in secrets:
            if _is_personal(inbound) and secret.subject_id == inbound.user_id:
                await outbox.send(cards.secret_activity(secret))
                logger.info(
                    "showed a one-time %s in %s", secret.label, inbound.conversation_id
                )
                continue
            withheld = True
            logger.warning(
                "dropped a one-time %s in %s (%s chat, %s): only its owner sees "
                "it, in a 1:1 chat",
                secret.label,
                inbound.conversation_id,
                inbound.conversation_type,
                "owner" if secret.subject_id == inbound.user_id else "not the owner",
            )
        if withheld:
            await outbox.send(replies.text_activity(replies.secret_withheld()))

    async def _with_typing(
        self, outbox: Outbox, inbound: Inbound, work: Awaitable[T]
    ) -> T:
        typing = asyncio.create_task(
            self._keep_typing(outbox), name=f"typing-{inbound.activity_id}"
        )
        try:
            return await work
        finally:
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await typing

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


def _feedback_comment(raw: Any) -> str | None:
    """The typed comment of a Teams feedback invoke (``{"feedbackText": …}``,
    sent as a JSON string), or None."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    text = raw.get("feedbackText") if isinstance(raw, dict) else None
    return text.strip() or None if isinstance(text, str) else None


def _is_personal(inbound: Inbound) -> bool:
    return inbound.conversation_type == "personal"


def new_correlation_id() -> str:
    """A short id that ties the user's apology to the operator's log line."""
    return uuid.uuid4().hex[:12]


def _overheard(inbound: Inbound) -> bool:
    """A channel message that does not @mention the bot.

    With the app's ``ChannelMessage.Read.Group`` permission (which the
    hand-off relay needs, so that agents need not @mention the bot in a
    hand-off's thread), Teams delivers every message of every channel in the
    team; the copilot answers only those addressed to it. Card submits carry
    no mention and still count.
    """
    if inbound.conversation_type != "channel" or inbound.value is not None:
        return False
    return not any(m.id == inbound.bot_id for m in inbound.mentions)
