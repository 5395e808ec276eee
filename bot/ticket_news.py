"""Ticket news for the employee: one Adaptive Card per ticket event, and the
"did this fix it?" answer.

The notifier (:mod:`bot.notify`) sends :func:`news_activity` proactively when a
ticket changes. A resolution asks "Did this fix it?" with two buttons; the
handler reads a click with :func:`read_ticket_choice`, applies it with
:func:`apply_ticket_choice` (only the ticket's caller may answer) and redraws
the card without buttons with :func:`decided_news_activity`.

Cards follow :mod:`bot.cards`: schema 1.5, an object as every submit's
``data``, and times as ``{{DATE()}}``/``{{TIME()}}`` so each reader sees their
own time zone. Every card also carries a plain ``summary`` (the notification
preview) and ``fallbackText``; the preview is redacted, since it shows on a
locked phone.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from bot import asset_cards
from bot.cards import card_activity, reader_time, text_block
from tools.errors import BackendUnavailable, HelpdeskError, NotFound
from tools.identity import Requester
from tools.redact import clean_for_ticket as redact
from tools.tickets.base import (
    OPEN_STATES,
    STATE_LABELS,
    Caller,
    TicketEvent,
    TicketState,
    TicketSystem,
)

logger = logging.getLogger(__name__)

FIXED = "ticket_fixed"
NOT_FIXED = "ticket_not_fixed"
REPLY = "ticket_reply"
REPLY_INPUT = "comment"
"""The reply box's id: the same as an approval card's comment box, so that the
terminal chat's "1 my answer" fills it too."""
NOT_FIXED_COMMENT = "The employee says the resolution did not fix it."
"""The caller comment added when the employee reopens a ticket from the card."""

TICKET_LABEL_MAX = 64
EVENT_ID_MAX = 128
TEXT_MAX = 2000
"""Characters of a technician's text shown on a card; the ticket has the rest."""
SUMMARY_MAX = 150
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/+=-]*")
"""Ticket labels and event ids: printable, no spaces, no markup."""


@dataclass(frozen=True, slots=True)
class TicketChoice:
    """A click on "Yes, close it" / "No, reopen it".

    Attributes:
        ticket: the ticket's number (or reference) as the card named it.
        event_id: the resolution event the card showed.
        fixed: True for "Yes, close it".
    """

    ticket: str
    event_id: str
    fixed: bool


ChoiceOutcome = Literal[
    "closed",
    "reopened",
    "already_closed",
    "already_open",
    "not_yours",
    "not_found",
    "unavailable",
    "refused",
]


@dataclass(frozen=True, slots=True)
class ChoiceResult:
    """What a click did, and the sentence to answer with.

    Attributes:
        outcome: what happened; only ``closed`` and ``reopened`` changed
            the ticket.
        reply: one plain sentence for the clicker.
        state: the ticket's state afterwards, when it was read.
    """

    outcome: ChoiceOutcome
    reply: str
    state: TicketState | None = None

    @property
    def redraw(self) -> bool:
        """True when the card should lose its buttons (the choice was applied)."""
        return self.outcome in ("closed", "reopened")


# -- cards ---------------------------------------------------------------------


def news_activity(event: TicketEvent) -> dict[str, Any]:
    """The message that tells the caller about ``event``.

    Args:
        event: a change to one of the caller's tickets.

    Returns:
        A message activity with one Adaptive Card; a ``resolved`` event
        carries "Yes, close it" / "No, reopen it" buttons.
    """
    if event.kind == "asset_approval":
        return asset_cards.approval_activity(event)
    if event.kind == "asset_news":
        return asset_cards.news_activity(event)
    label = _label(event)
    body = _news_body(event)
    actions: list[dict[str, Any]] = []
    if event.kind == "resolved":
        body.append(text_block("Did this fix it?", weight="Bolder"))
        actions = [
            _submit("Yes, close it", FIXED, label, event.event_id, style="positive"),
            _submit("No, reopen it", NOT_FIXED, label, event.event_id),
        ]
    elif event.kind in ("question", "commented"):
        # Answering in the card reaches the ticket whatever the model makes of
        # a bare "It is a Dell U2720Q" typed in the chat.
        body.append(
            {
                "type": "Input.Text",
                "id": REPLY_INPUT,
                "label": "Your answer" if event.kind == "question" else "Reply",
                "isMultiline": True,
                "maxLength": TEXT_MAX,
                "isRequired": True,
                "errorMessage": "Type your answer first.",
            }
        )
        actions = [
            _submit(
                "Send to IT support", REPLY, label, event.event_id, style="positive"
            )
        ]
    return card_activity(body, actions, summary=news_summary(event))


def news_summary(event: TicketEvent) -> str:
    """The news in one plain line (the notification preview)."""
    label = _label(event)
    author = _name(event.author)
    line = {
        "created": f"Your ticket now has the number {label}.",
        "commented": f"{author or 'IT support'} wrote on {label}.",
        "question": f"{author or 'IT support'} has a question about {label}.",
        "resolved": f"{label} was resolved. Did this fix it?",
        "closed": f"{label} is closed.",
        "reopened": f"{label} is open again.",
        "state_changed": f"{label} was updated.",
    }.get(event.kind, f"{label} was updated.")
    if event.kind in ("commented", "question") and event.text.strip():
        line = f"{line} {_one_line(event.text)}"
    return _shorten(redact(line), SUMMARY_MAX)


def decided_news_activity(
    choice: TicketChoice,
    *,
    event: TicketEvent | None = None,
    by: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The resolution card after the employee answered: no buttons.

    Call it when :attr:`ChoiceResult.redraw` is True, and replace the clicked
    activity with it.

    Args:
        choice: what was clicked.
        event: the resolution event, to show the same note again; without
            it the card names the ticket only.
        by: who answered (their display name).
        at: when; defaults to now.
    """
    body = (
        _news_body(event)
        if event is not None
        else [text_block(f"Ticket {choice.ticket}", weight="Bolder", size="Medium")]
    )
    who = _name(by) or "You"
    when = reader_time(at or datetime.now(UTC))
    if choice.fixed:
        line = f"{who} confirmed this fixed it, {when}. The ticket is closed."
        summary = f"{choice.ticket} is closed."
    else:
        line = f"{who} said this did not fix it, {when}. The ticket is open again."
        summary = f"{choice.ticket} is open again."
    body.append(text_block(line, weight="Bolder"))
    return card_activity(body, [], summary=summary)


def _news_body(event: TicketEvent) -> list[dict[str, Any]]:
    label = _label(event)
    author = _name(event.author)
    text = _shorten(event.text.strip(), TEXT_MAX)
    body = [text_block(f"Ticket {label}", weight="Bolder", size="Medium")]

    if event.kind == "created":
        body.append(text_block(f"Your ticket now has the number **{label}**."))
        if event.number and event.reference != event.number:
            body.append(
                text_block(f"It was {event.reference} until now.", isSubtle=True),
            )
        body.append(
            text_block("I'll tell you here when IT support writes or resolves it.")
        )
    elif event.kind == "commented":
        body.append(text_block(f"{author or 'IT support'} wrote:"))
        body.append(_quote(text or "(no text)"))
    elif event.kind == "question":
        body.append(text_block(f"{author or 'IT support'} has a question for you:"))
        body.append(_quote(text or "(no text)"))

    elif event.kind == "resolved":
        who = f" by {author}" if author else ""
        body.append(text_block(f"Your ticket was resolved{who}."))
        if text:
            body.append(_quote(text, title="Resolution"))
    elif event.kind == "closed":
        body.append(text_block("Your ticket is closed."))
        if text:
            body.append(_quote(text))
        body.append(
            text_block(
                "If the problem comes back, tell me and I'll open a new ticket.",
                isSubtle=True,
            )
        )
    elif event.kind == "reopened":
        body.append(
            text_block("Your ticket is open again: IT support will look at it.")
        )
        if text:
            body.append(_quote(text))
    else:
        body.append(
            text_block(f"Your ticket was updated{f' by {author}' if author else ''}.")
        )
        if text:
            body.append(_quote(text))

    if event.at is not None:
        body.append(text_block(reader_time(event.at), isSubtle=True, size="Small"))
    return body


# -- the click -----------------------------------------------------------------


def read_ticket_choice(value: Any) -> TicketChoice | None:
    """Read a "did this fix it?" click from a submit's ``value``.

    Args:
        value: the activity's ``value`` (the button's ``data``).

    Returns:
        The choice, or None when ``value`` is not one of these buttons: an
        unknown action, a missing or oversized ticket or event id, or ids
        with spaces or markup.
    """
    if not isinstance(value, dict):
        return None
    action = value.get("action")
    if action not in (FIXED, NOT_FIXED):
        return None
    ticket = _token(value.get("ticket"), TICKET_LABEL_MAX)
    event_id = _token(value.get("event"), EVENT_ID_MAX)
    if ticket is None or event_id is None:
        return None
    return TicketChoice(ticket=ticket, event_id=event_id, fixed=action == FIXED)


@dataclass(frozen=True, slots=True)
class TicketReply:
    """The employee's answer typed into a news card."""

    ticket: str
    event_id: str
    text: str


def read_ticket_reply(value: Any) -> TicketReply | None:
    """Read a "Send to IT support" click from a submit's ``value``; None when
    it is not one. An empty box gives a reply with empty ``text``."""
    if not isinstance(value, dict) or value.get("action") != REPLY:
        return None
    ticket = _token(value.get("ticket"), TICKET_LABEL_MAX)
    event_id = _token(value.get("event"), EVENT_ID_MAX)
    if ticket is None or event_id is None:
        return None
    typed = value.get(REPLY_INPUT)
    text = redact(typed.strip()[:TEXT_MAX]) if isinstance(typed, str) else ""
    return TicketReply(ticket=ticket, event_id=event_id, text=text)


async def send_ticket_reply(
    reply: TicketReply, requester: Requester, tickets: TicketSystem
) -> str:
    """Add the caller's answer to the ticket (an on-hold ticket goes back to
    work); returns the sentence for the employee. Only the caller may answer."""
    if not reply.text:
        return "Type your answer in the box on the card, then send it."
    try:
        ticket = await tickets.aget(reply.ticket)
    except NotFound:
        return _not_found(reply.ticket)
    except HelpdeskError as exc:
        return exc.user_message
    if not is_callers(ticket.caller, requester):
        return _not_found(reply.ticket)
    if ticket.state == "closed":
        return (
            f"{ticket.label} is closed, so the answer would reach no one. Tell me "
            "about the problem and I'll open a new ticket."
        )
    author = requester.name or requester.upn or requester.object_id
    try:
        await tickets.acomment(
            ticket.label, reply.text, author=author, from_caller=True
        )
        if ticket.state == "on_hold":
            await tickets.aset_state(
                ticket.label, "in_progress", by=requester.upn or requester.object_id
            )
    except HelpdeskError as exc:
        return exc.user_message
    return f"Sent your answer to IT support; it is on {ticket.label} now."


async def apply_ticket_choice(
    choice: TicketChoice, requester: Requester, tickets: TicketSystem
) -> str:
    """Close or reopen the ticket as the employee answered; returns the reply.

    See :func:`decide_ticket_choice`, which also says what happened.
    """
    return (await decide_ticket_choice(choice, requester, tickets)).reply


async def decide_ticket_choice(
    choice: TicketChoice, requester: Requester, tickets: TicketSystem
) -> ChoiceResult:
    """Apply a "did this fix it?" click, once, for the ticket's caller only.

    "Yes" closes a resolved ticket; "No" reopens it to in progress and adds
    the caller comment :data:`NOT_FIXED_COMMENT`. A click on a ticket that is
    already closed or open again changes nothing and says so. Someone other
    than the caller learns nothing about the ticket.

    Args:
        choice: the click.
        requester: who clicked (object id, UPN and name from the directory).
        tickets: the ticket system.

    Returns:
        What happened and the sentence to answer with. Never raises for a
        ticket problem: the sentence says what to do next.
    """
    try:
        ticket = await tickets.aget(choice.ticket)
    except NotFound:
        return ChoiceResult("not_found", _not_found(choice.ticket))
    except BackendUnavailable as exc:
        logger.warning("ticket %s unavailable for a card click: %s", choice.ticket, exc)
        return ChoiceResult("unavailable", _unavailable())

    if not is_callers(ticket.caller, requester):
        logger.info("card click on %s by someone other than its caller", choice.ticket)
        return ChoiceResult("not_yours", _not_yours())

    label = ticket.label
    if choice.fixed:
        if ticket.state == "closed":
            return ChoiceResult(
                "already_closed", f"{label} is already closed.", "closed"
            )
        if ticket.state != "resolved":
            return ChoiceResult(
                "already_open",
                f"{label} is open again ({STATE_LABELS[ticket.state].lower()}), "
                "so I left it as it is. Tell me here if it works now.",
                ticket.state,
            )
    else:
        if ticket.state in OPEN_STATES:
            return ChoiceResult(
                "already_open",
                f"{label} is already open again; IT support will look at it.",
                ticket.state,
            )
        if ticket.state == "closed":
            return ChoiceResult(
                "already_closed",
                f"{label} is already closed, so it can't be reopened. Tell me "
                "what's still wrong and I'll open a new ticket.",
                "closed",
            )

    by = _acting_as(ticket.caller, requester)
    try:
        if choice.fixed:
            await tickets.aset_state(label, "closed", by=by)
            return ChoiceResult(
                "closed", f"Thanks! I closed {label}. Glad it's fixed.", "closed"
            )
        await tickets.aset_state(label, "in_progress", by=by)
        await tickets.acomment(
            label,
            NOT_FIXED_COMMENT,
            author=requester.name or by,
            from_caller=True,
        )
    except BackendUnavailable as exc:
        logger.warning("could not apply a card click on %s: %s", label, exc)
        return ChoiceResult("unavailable", _unavailable(), ticket.state)
    except HelpdeskError as exc:
        logger.info("card click on %s refused: %s", label, exc)
        return ChoiceResult("refused", exc.user_message, ticket.state)
    return ChoiceResult(
        "reopened",
        f"Sorry it's not fixed. I reopened {label} and told IT support; they "
        "will get back to you here.",
        "in_progress",
    )


def is_callers(caller: Caller, requester: Requester) -> bool:
    """True when ``requester`` is the person the ticket is for.

    The same Entra object id, or the same UPN (case-insensitively) when one
    side only knows the UPN; both must be in the same tenant when the ticket
    names one.
    """
    if (
        caller.tenant_id
        and requester.tenant_id
        and caller.tenant_id != requester.tenant_id
    ):
        return False
    if caller.object_id and caller.object_id == requester.object_id:
        return True
    return bool(
        caller.upn
        and requester.upn
        and caller.upn.casefold() == requester.upn.casefold()
    )


def _acting_as(caller: Caller, requester: Requester) -> str:
    """Who the ticket system records as acting: the caller's own id or UPN,
    so that it knows the employee moved it (and does not notify them back)."""
    if caller.object_id == requester.object_id:
        return requester.object_id
    return requester.upn or requester.object_id


def _not_found(label: str) -> str:
    return f"I can't find ticket {label}. Ask me about your tickets to see them."


def _not_yours() -> str:
    return (
        "Only the person this ticket is for can answer that question. If it's "
        "about your own problem, tell me and I'll help."
    )


def _unavailable() -> str:
    return (
        "I can't reach the ticket system right now, so nothing changed. Please "
        "click again in a few minutes."
    )


# -- helpers ---------------------------------------------------------------------


def _label(event: TicketEvent) -> str:
    return event.number or event.reference


def _token(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        return None
    return value if _TOKEN.fullmatch(value) else None


def _name(value: str | None) -> str | None:
    name = " ".join((value or "").split())
    return name[:80] or None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def _quote(text: str, *, title: str | None = None) -> dict[str, Any]:
    """The technician's own words, set apart from the bot's."""
    items = [text_block(title, weight="Bolder", size="Small")] if title else []
    items.append(text_block(text))
    return {"type": "Container", "style": "emphasis", "items": items}


def _submit(
    title: str, action: str, ticket: str, event_id: str, *, style: str | None = None
) -> dict[str, Any]:
    submit: dict[str, Any] = {
        "type": "Action.Submit",
        "title": title,
        "data": {"action": action, "ticket": ticket, "event": event_id},
    }
    if style:
        submit["style"] = style
    return submit
