"""The ticket tools: open a ticket, follow it, comment on it, close or reopen it.

An employee sees and changes only their own tickets; a ticket that is not
theirs is answered exactly like one that does not exist, so that numbers
cannot be probed. Help-desk staff (the ``helpdesk`` role) see any ticket and
the open queue.

Every change asks first on a card. Opening a ticket shows the draft on the
card with every field editable; the ticket is made from the confirmed values,
with the approval as its idempotency key, so a re-sent or double-clicked
confirmation makes one ticket.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from tools.analytics import count_escalation
from tools.approvals import ApprovalRequest, CardField, Decision, get_approval
from tools.conversation import Conversation
from tools.directory.base import HELPDESK_ROLE
from tools.errors import (
    HelpdeskError,
    InvalidInput,
    MissingDetail,
    NotFound,
    ToolError,
)
from tools.identity import Requester
from tools.redact import clean_for_ticket as redact
from tools.registry import (
    NOTHING_DONE_KEY,
    USER_MESSAGE_KEY,
    ToolContext,
    ToolResult,
    conversation_of,
)
from tools.tickets.base import (
    CATEGORIES,
    LEVELS,
    OPEN_STATES,
    PRIORITY_LABELS,
    STATE_LABELS,
    TICKET_LABEL,
    Attachment,
    Caller,
    Ticket,
    TicketDraft,
    TicketState,
    TicketSystem,
)
from tools.tickets.drafting import DESCRIPTION_MAX, SHORT_MAX, draft
from tools.tickets.pending import PendingFile, clear_pending_files, pending_files

logger = logging.getLogger(__name__)

COMMENT_MAX = 2000
_DEFAULT_TTL_MINUTES = 10
_COMMENT_LEAD = re.compile(
    r"^\s*(please\s+)?(add|put|write|post|leave|send)\s+(a\s+|this\s+|the\s+)?"
    r"(comment|note|update|message)?\s*(to|on|in)?\s*(my\s+)?(ticket|incident)?\s*"
    r"(INC\d+|HD-\w+)?\s*(saying|that|:|-)?\s*",
    re.IGNORECASE,
)
_ATTACH_ONLY = re.compile(
    r"^\s*(please\s+)?((can|could|would)\s+you\s+)?"
    r"(add|attach|put|send|upload|include|give)\s*"
    r"(it|this|that|them|these|those|the|my)?\s*"
    r"(screen\s*shot|screen\s*grab|picture|pic|image|photo|file|document|pdf|log)?s?\s*"
    r"(to|on|in|with|onto|into)?\s*(my|the|this|that)?\s*(ticket|incident|case)?\s*"
    r"(INC\d+|HD-\w+)?\s*(too|as\s+well|also|please|for\s+me)?\s*[.!?]*\s*$",
    re.IGNORECASE,
)
"""Words that only ask to attach what was sent ("add this screenshot to my
ticket"): no comment of their own."""
ATTACH_FACT = "Attach"
"""The card fact naming each waiting file that goes on the ticket."""
_CATEGORY_CHOICES = [(c, c.capitalize()) for c in CATEGORIES]
_LEVEL_CHOICES: list[tuple[str, str]] = [(str(v), v.capitalize()) for v in LEVELS]
NOT_SET_UP = (
    "Tickets are not set up for this help desk yet. Please contact IT another way."
)


def _system(ctx: ToolContext) -> TicketSystem:
    tickets = getattr(ctx.services, "tickets", None)
    if tickets is None:
        raise ToolError("no ticket system is configured", user_message=NOT_SET_UP)
    return tickets


def is_support(requester: Requester) -> bool:
    """Help-desk staff: they see every ticket and the queue."""
    return HELPDESK_ROLE in requester.roles


def owns(ticket: Ticket, requester: Requester) -> bool:
    """True when ``ticket`` is the requester's own (by object id, else by UPN)."""
    caller = ticket.caller
    if caller.object_id and caller.object_id == requester.object_id:
        return caller.tenant_id in ("", requester.tenant_id)
    return bool(
        caller.upn
        and requester.upn
        and caller.upn.casefold() == requester.upn.casefold()
    )


def label_in(text: str) -> str | None:
    """A ticket number or reference in ``text`` (``INC0001001``, ``HD-ABC234``)."""
    match = TICKET_LABEL.search(text or "")
    return match.group(1).upper() if match else None


async def _mine(ctx: ToolContext, label: str) -> Ticket:
    """The ticket ``label`` if the requester may see it; else NotFound alike."""
    tickets = _system(ctx)
    unknown = NotFound(
        f"ticket {label} not found or not the requester's",
        user_message=f"I can't find ticket {label} among your tickets. Check the "
        "number, or ask me to list your tickets.",
        escalate=False,
    )
    try:
        ticket = await tickets.aget(label)
    except NotFound:
        raise unknown from None
    if not (owns(ticket, ctx.requester) or is_support(ctx.requester)):
        logger.warning(
            "refused ticket %s to %s: not theirs", label, ctx.requester.object_id
        )
        raise unknown
    return ticket


async def _which(
    ctx: ToolContext,
    args: dict[str, Any],
    *,
    states: frozenset[TicketState] = OPEN_STATES | {"resolved"},
) -> Ticket:
    """The ticket the employee means: the one named, or else their only one in
    ``states`` (open or resolved by default: "close my ticket" after a
    resolution means the resolved one)."""
    given = str(args.get("number") or "").strip()
    label = label_in(given) or given
    if label:
        return await _mine(ctx, label)
    mine = await _system(ctx).alist(
        caller_id=ctx.requester.object_id, caller_upn=ctx.requester.upn, open_only=False
    )
    candidates = [t for t in mine if t.state in states]
    # An open ticket is meant before a resolved one.
    open_ones = [t for t in candidates if t.is_open]
    if len(open_ones) == 1 or (not open_ones and len(candidates) == 1):
        return (open_ones or candidates)[0]
    if not candidates:
        raise NotFound(
            "the requester has no ticket in the states asked for",
            user_message="You have no open tickets. Tell me the number if you mean "
            "an older one.",
            escalate=False,
        )
    listed = ", ".join(
        f"{t.label} ({t.short_description})" for t in (open_ones or candidates)[:5]
    )
    raise MissingDetail(
        "several tickets",
        field="number",
        user_message=f"Which ticket do you mean? You have: {listed}.",
    )


def _expiry(ctx: ToolContext) -> datetime:
    ttl = getattr(ctx.services.settings, "approval_ttl_minutes", _DEFAULT_TTL_MINUTES)
    return datetime.now(UTC) + timedelta(minutes=ttl)


def _ask(
    ctx: ToolContext, *, tool: str, title: str, action: str, **kw: Any
) -> ApprovalRequest:
    me = ctx.requester.object_id
    return ApprovalRequest(
        approval_id="",
        tool=tool,
        title=title,
        action=action,
        requester_id=me,
        subject_id=me,
        approver_id=me,
        expires_at=_expiry(ctx),
        **kw,
    )


def _links(ctx: ToolContext) -> list[tuple[str, str]]:
    upn = ctx.requester.upn
    if not upn:
        return []
    name = ctx.requester.name or upn
    return [
        (
            f"Chat with {name} in Teams",
            f"https://teams.microsoft.com/l/chat/0/0?users={quote(upn)}",
        )
    ]


def _me(ctx: ToolContext) -> str:
    """Who changes a ticket's state: the employee's UPN (or id), which the
    ticket systems recognise as the caller, so that they do not notify the
    employee of their own change."""
    return ctx.requester.upn or ctx.requester.object_id


def _caller(requester: Requester) -> Caller:
    return Caller(
        object_id=requester.object_id,
        tenant_id=requester.tenant_id,
        upn=requester.upn,
        name=requester.name,
    )


# -- files the employee sent -------------------------------------------------------


async def _waiting_files(
    ctx: ToolContext, *, with_data: bool = False
) -> list[PendingFile]:
    """The files this employee sent in this chat that wait for a ticket."""
    engine = getattr(ctx.services, "db", None)
    if engine is None or not ctx.thread_id:
        return []
    return await pending_files(
        engine,
        thread_id=ctx.thread_id,
        user_id=ctx.requester.object_id,
        with_data=with_data,
    )


def _attach_facts(files: list[PendingFile]) -> list[tuple[str, str]]:
    return [(ATTACH_FACT, f.label) for f in files]


async def _confirmed_files(
    ctx: ToolContext, decision: Decision, facts: list[tuple[str, str]]
) -> list[PendingFile]:
    """The waiting files the confirmed card showed, with their bytes.

    A paused tool runs again from its start when the card is clicked, and by
    then the employee may have sent another file; only what the card named
    was confirmed, so only that goes on the ticket. The stored card is the
    record of what was shown; without one (no pause) it is this run's card.
    """
    files = await _waiting_files(ctx, with_data=True)
    if not files:
        return []
    shown_facts = facts
    engine = getattr(ctx.services, "db", None)
    if decision.approval_id and engine is not None:
        record = await get_approval(engine, decision.approval_id)
        if record is not None:
            shown_facts = record.request.facts
    shown = Counter(value for title, value in shown_facts if title == ATTACH_FACT)
    confirmed = []
    for file in files:
        if shown[file.label] > 0:
            shown[file.label] -= 1
            confirmed.append(file)
    return confirmed


async def _attach(
    ctx: ToolContext, tickets: TicketSystem, label: str, files: list[PendingFile]
) -> tuple[list[str], list[str]]:
    """Put each file on the ticket and forget it; returns (names attached,
    one sentence per file that was not).

    A file the ticket system refuses (type, size) is forgotten too; one that
    failed because the system is down stays waiting, for another try.
    """
    engine = ctx.services.db
    attached: list[str] = []
    problems: list[str] = []
    for file in files:
        try:
            await tickets.aattach(
                label, Attachment(file.name, file.content_type, file.data)
            )
        except InvalidInput as exc:
            problems.append(f"{file.name}: {exc.user_message}")
            await clear_pending_files(engine, [file.id])
            continue
        except HelpdeskError as exc:
            logger.warning(
                "could not attach a file to %s: %s", label, type(exc).__name__
            )
            problems.append(
                f"{file.name} didn't reach the ticket yet; I kept it, so ask me "
                "to add it again in a while."
            )
            continue
        # Forgotten one by one: a failure later on never attaches this twice.
        await clear_pending_files(engine, [file.id])
        attached.append(file.name)
    if attached:
        logger.info("attached %d file(s) to %s", len(attached), label)
    return attached, problems


def _attached_sentence(attached: list[str], problems: list[str]) -> str:
    said = [f"I attached {_names(attached)}."] if attached else []
    return " ".join([*said, *problems])


def _comment_words(raw: Any, *, has_files: bool) -> str:
    """The comment in the employee's words, without the request around it."""
    text = str(raw or "")
    if has_files and _ATTACH_ONLY.match(text):
        return ""
    return _COMMENT_LEAD.sub("", text).strip()


# -- the tools ------------------------------------------------------------------


async def create_ticket(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Open a ticket from a draft the employee confirms (and may edit) on a card."""
    tickets = _system(ctx)
    conversation = ctx.conversation or Conversation()
    who = ctx.requester.name or ctx.requester.upn or "The employee"
    proposed = draft(args, conversation, who=who)
    ctx.audit.action = "create ticket"

    fields = [
        CardField(
            "short_description",
            "Summary",
            proposed.short_description,
            max_length=SHORT_MAX,
        ),
        CardField(
            "description",
            "Details for the service desk",
            proposed.description,
            multiline=True,
            max_length=DESCRIPTION_MAX,
        ),
        CardField("category", "Category", proposed.category, choices=_CATEGORY_CHOICES),
        CardField(
            "urgency",
            "How urgent is it for you?",
            proposed.urgency,
            choices=_LEVEL_CHOICES,
        ),
        CardField(
            "impact",
            "How many people does it affect?",
            proposed.impact,
            choices=[
                ("high", "High: many people or the whole company"),
                ("medium", "Medium: my team or several people"),
                ("low", "Low: just me"),
            ],
        ),
        CardField(
            "service",
            "Affected app, service or device",
            proposed.service,
            max_length=200,
            required=False,
        ),
    ]
    tried = len(conversation.tried)
    count = len(conversation.lines)
    includes = f"our conversation ({count} message{'' if count == 1 else 's'})"
    if tried:
        includes += f" and what I already tried ({tried})"
    facts = [
        ("For", who),
        ("Includes", includes),
        *_attach_facts(await _waiting_files(ctx)),
    ]
    decision = await ctx.approve(
        _ask(
            ctx,
            tool="create_ticket",
            title="Open a ticket with the IT service desk",
            action="Check the draft below and change anything that is wrong. When "
            "you confirm, the service desk gets it with our conversation; no "
            "passwords or codes are sent.",
            facts=facts,
            fields=fields,
        )
    )
    chosen = {f.id: f.value for f in fields} | dict(decision.values)
    key = decision.approval_id or ctx.audit.approval_id or ""
    if not key:
        raise ToolError(
            "create_ticket ran without an approval id", user_message=NOT_SET_UP
        )

    ticket = await tickets.acreate(
        TicketDraft(
            idempotency_key=key,
            caller=_caller(ctx.requester),
            short_description=redact(chosen["short_description"]),
            description=redact(chosen["description"]),
            category=chosen["category"],
            urgency=chosen["urgency"],  # type: ignore[arg-type]
            impact=chosen["impact"],  # type: ignore[arg-type]
            service=redact(chosen.get("service") or "") or None,
            transcript=conversation.transcript(),
            tried=list(conversation.tried),
            links=_links(ctx),
            conversation_id=conversation.conversation_id,
        )
    )
    ctx.audit.action = f"create ticket {ticket.label}"
    await count_escalation(
        ctx.services,
        "ticket_opened",
        tenant_id=ctx.requester.tenant_id,
        conversation_id=conversation.conversation_id
        or conversation_of(ctx.thread_id)
        or "",
        user_id=ctx.requester.object_id,
        reason=chosen["category"],
    )
    files = await _confirmed_files(ctx, decision, facts)
    if ticket.pending:
        told = (
            f"I've saved your ticket as {ticket.reference}. The service desk system "
            "isn't answering right now, so I'll keep trying and message you here "
            "with the ticket number as soon as it exists. Nothing is lost."
        )
        if files:
            # The files stay waiting: a ticket that does not exist yet has
            # nowhere to put them.
            told += (
                " I'm keeping your files; once you have the number, say "
                '"add it to my ticket" and I\'ll attach them.'
            )
        content = (
            f"Ticket saved with reference {ticket.reference}; delivery to the service "
            "desk is pending and retried automatically. Tell the user the reference."
        )
    else:
        attached, problems = await _attach(ctx, tickets, ticket.label, files)
        told = (
            f'Your ticket {ticket.number} is open: "{ticket.short_description}" '
            f"(priority {PRIORITY_LABELS.get(ticket.priority, ticket.priority)}). "
        )
        if attached or problems:
            told += _attached_sentence(attached, problems) + " "
        told += (
            "I'll message you here when the service desk replies or resolves it. "
            f'Ask me "status of {ticket.number}" at any time.'
        )
        content = f"Ticket {ticket.number} created: {ticket.short_description}."
        if attached:
            content += f" {len(attached)} file(s) attached."
    return ToolResult(content, {USER_MESSAGE_KEY: told, "ticket": ticket.label})


async def ticket_status(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Where one of my tickets stands, with the service desk's latest reply."""
    ticket = await _which(ctx, args)
    text = describe(ticket, viewer=ctx.requester)
    return ToolResult(text, {USER_MESSAGE_KEY: text, "ticket": ticket.label})


async def list_my_tickets(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """My tickets (open ones unless asked), or for help-desk staff the open queue."""
    tickets = _system(ctx)
    everything = bool(args.get("include_closed"))
    if args.get("queue"):
        if not is_support(ctx.requester):
            text = (
                "Only the help-desk team can see the queue. Here are your own tickets."
            )
            found = await tickets.alist(
                caller_id=ctx.requester.object_id,
                caller_upn=ctx.requester.upn,
                open_only=not everything,
            )
            listing = _listing(found, mine=True)
            text = f"{text}\n\n{listing}"
            return ToolResult(text, {USER_MESSAGE_KEY: text})
        found = await tickets.alist(
            open_only=True, group=args.get("group") or None, limit=30
        )
        text = _listing(found, mine=False)
        return ToolResult(text, {USER_MESSAGE_KEY: text})
    found = await tickets.alist(
        caller_id=ctx.requester.object_id,
        caller_upn=ctx.requester.upn,
        open_only=not everything,
    )
    text = _listing(found, mine=True, everything=everything)
    return ToolResult(text, {USER_MESSAGE_KEY: text})


async def comment_on_ticket(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Add the employee's comment, and the files they sent in the chat, to their
    ticket, after they confirm on a card. With files the comment is optional:
    "add this screenshot to my ticket" adds just the screenshot."""
    tickets = _system(ctx)
    waiting = await _waiting_files(ctx)
    if not waiting and _ATTACH_ONLY.match(str(args.get("comment") or "")):
        raise InvalidInput(
            "asked to attach a file, but none is waiting",
            user_message="I don't have a screenshot or file from you in this chat "
            "(I keep them for a day). Send it here first, then ask me again.",
        )
    ticket = await _which(ctx, args)
    ctx.audit.action = f"comment on ticket {ticket.label}"
    ctx.audit.subject_id = ticket.caller.object_id or ctx.requester.object_id
    said = _comment_words(args.get("comment"), has_files=bool(waiting))
    if not ticket.is_open and ticket.state != "resolved":
        raise ToolError(
            f"comment on {ticket.state} ticket",
            user_message=f"Ticket {ticket.label} is closed, so comments no longer reach "
            "anyone. I can open a new ticket instead.",
        )
    facts = _attach_facts(waiting)
    if waiting:
        title = f"Add to {ticket.label}"
        action = (
            f'The service desk will see your comment and the files below on "'
            f'{ticket.short_description}". The comment is optional.'
        )
    else:
        title = f"Add a comment to {ticket.label}"
        action = f'The service desk will see this on "{ticket.short_description}".'
    decision = await ctx.approve(
        _ask(
            ctx,
            tool="comment_on_ticket",
            title=title,
            action=action,
            facts=facts,
            fields=[
                CardField(
                    "comment",
                    "Your comment",
                    redact(said),
                    multiline=True,
                    max_length=COMMENT_MAX,
                    required=not waiting,
                )
            ],
        )
    )
    body = redact(str(decision.values.get("comment", said)).strip())
    files = await _confirmed_files(ctx, decision, facts)
    if not body and not files:
        raise MissingDetail(
            "empty comment",
            field="comment",
            user_message="What should the comment say?",
        )
    author = ctx.requester.name or ctx.requester.upn or ctx.requester.object_id
    if body:
        await tickets.acomment(
            ticket.label, body, author=author, from_caller=owns(ticket, ctx.requester)
        )
    attached, problems = await _attach(ctx, tickets, ticket.label, files)
    if ticket.state == "on_hold" and (body or attached):
        # The service desk was waiting for the employee; the answer is in.
        await tickets.aset_state(ticket.label, "in_progress", by=_me(ctx))

    if body and attached:
        told = f"Added your comment and {_names(attached)} to {ticket.label}."
    elif body:
        told = f"Added your comment to {ticket.label}."
    elif attached:
        told = f"Added {_names(attached)} to {ticket.label}."
    else:
        told = f"I couldn't add anything to {ticket.label}."
    if body or attached:
        told += " The service desk will see it."
    told = " ".join([told, *problems])
    content = f"Comment added to {ticket.label}." if body else ""
    if attached:
        content = (
            f"{content} {len(attached)} file(s) attached to {ticket.label}.".strip()
        )
    return ToolResult(
        content or f"Nothing was added to {ticket.label}: {' '.join(problems)}",
        {USER_MESSAGE_KEY: told, "ticket": ticket.label},
    )


def _names(attached: list[str]) -> str:
    """``1 file (screenshot.png)``, ``2 files (a.png, b.pdf)``: how many, and which."""
    count = len(attached)
    return f"{count} file{'' if count == 1 else 's'} ({', '.join(attached)})"


async def update_ticket(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Close my ticket (solved, or no longer needed) or reopen a resolved one."""
    tickets = _system(ctx)
    action = str(args.get("action") or "").lower()
    if action == "cancel":
        action = "close"  # no longer needed: closing is how a ticket is withdrawn
    if action not in ("close", "reopen"):
        raise MissingDetail(
            f"action {action!r}",
            field="action",
            user_message="Do you want to close the ticket or reopen it?",
        )
    ticket = await _which(ctx, args)
    reason = redact(str(args.get("reason") or "").strip())[:500]
    ctx.audit.action = f"{action} ticket {ticket.label}"
    ctx.audit.subject_id = ticket.caller.object_id or ctx.requester.object_id
    if action == "close" and ticket.state == "closed":
        text = f"{ticket.label} is already closed."
        return ToolResult(text, {USER_MESSAGE_KEY: text, NOTHING_DONE_KEY: True})
    if action == "reopen" and ticket.is_open:
        text = f"{ticket.label} is still open ({STATE_LABELS[ticket.state]}); no need to reopen it."
        return ToolResult(text, {USER_MESSAGE_KEY: text, NOTHING_DONE_KEY: True})
    if action == "reopen" and ticket.state == "closed":
        raise ToolError(
            f"reopen closed {ticket.label}",
            user_message=f"{ticket.label} is closed and can't be reopened. I can open "
            "a new ticket that mentions it.",
        )
    verb = "Close" if action == "close" else "Reopen"
    decision = await ctx.approve(
        _ask(
            ctx,
            tool="update_ticket",
            title=f"{verb} {ticket.label}",
            action=f'{verb} "{ticket.short_description}".'
            + (
                " The service desk stops working on it."
                if action == "close"
                else " The service desk picks it up again."
            ),
            fields=[
                CardField(
                    "reason",
                    "Why (optional)",
                    reason,
                    multiline=True,
                    max_length=500,
                    required=False,
                )
            ],
        )
    )
    why = redact(decision.values.get("reason", reason).strip())
    author = ctx.requester.name or ctx.requester.upn or ctx.requester.object_id
    if why:
        await tickets.acomment(
            ticket.label, why, author=author, from_caller=owns(ticket, ctx.requester)
        )
    state: TicketState = "closed" if action == "close" else "in_progress"
    updated = await tickets.aset_state(ticket.label, state, by=_me(ctx), note=why)
    told = (
        f"Closed {updated.label}. Glad it's sorted."
        if action == "close"
        else f"Reopened {updated.label}; the service desk will pick it up again."
    )
    return ToolResult(
        f"{'Closed' if action == 'close' else 'Reopened'} {updated.label}.",
        {USER_MESSAGE_KEY: told, "ticket": updated.label},
    )


# -- wording ----------------------------------------------------------------------


def describe(ticket: Ticket, *, viewer: Requester | None = None) -> str:
    """A ticket as the employee reads it: state, who has it, due time, latest reply."""
    head = f"{ticket.label}: {ticket.short_description}"
    if ticket.pending:
        return (
            f"{head}\nSaved and waiting to reach the service desk system; I'll send the "
            "ticket number here as soon as it exists."
        )
    parts = [
        f"State: {STATE_LABELS.get(ticket.state, ticket.state)}",
        f"Priority: {PRIORITY_LABELS.get(ticket.priority, ticket.priority)}",
    ]
    if ticket.assignment_group:
        parts.append(f"Team: {ticket.assignment_group}")
    if ticket.assigned_to:
        parts.append(f"Assigned to: {ticket.assigned_to}")
    lines = [head, " · ".join(parts)]
    if ticket.is_open and ticket.sla_due_at is not None:
        lines.append(f"Target: resolved by {ticket.sla_due_at:%Y-%m-%d %H:%M} UTC")
    if ticket.state == "resolved" and ticket.resolution_note:
        lines.append(f"Resolution: {ticket.resolution_note}")
    visible = [c for c in ticket.comments if not c.work_note]
    if visible:
        latest = visible[-1]
        mine = viewer is not None and owns(ticket, viewer)
        who = "you" if latest.from_caller and mine else latest.author
        lines.append(
            f"Latest comment ({who}, {latest.at:%Y-%m-%d %H:%M} UTC): {latest.body}"
        )
    if ticket.state == "on_hold":
        lines.append(
            "The service desk is waiting for your answer: reply here and I'll add it."
        )
    return "\n".join(lines)


def _listing(found: list[Ticket], *, mine: bool, everything: bool = False) -> str:
    if not found:
        if mine:
            return "You have no tickets." if everything else "You have no open tickets."
        return "The queue is empty."
    title = (
        ("Your tickets:" if everything else "Your open tickets:")
        if mine
        else "Open tickets in the queue:"
    )
    rows = []
    for ticket in found:
        row = f"- {ticket.label} · {STATE_LABELS.get(ticket.state, ticket.state)} · {ticket.short_description}"
        if not mine:
            row += f" · {ticket.caller.name or ticket.caller.upn or ticket.caller.object_id}"
            row += f" · P{ticket.priority}"
        rows.append(row)
    return "\n".join([title, *rows])
