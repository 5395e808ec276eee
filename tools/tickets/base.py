"""The ticket system contract: what the tools, the bot and the CLI code against.

CONTRACT: the types and the :class:`TicketSystem` protocol here are shared by
the embedded system (:mod:`tools.tickets.embedded`), ServiceNow
(:mod:`tools.tickets.servicenow`), the ticket tools, the notifier and the
``helpdesk tickets`` command.

Two backends implement it:

- **embedded**: tickets in the app database, numbered ``INC0001001`` upwards,
  with assignment groups, comments and an SLA due time; support staff work it
  with ``helpdesk tickets``.
- **servicenow**: the Table API on ``incident``. Creation goes through an
  outbox in the app database, so that a ServiceNow outage never loses a
  ticket: the employee gets a reference at once and the real number when it
  exists.

Every create carries an idempotency key (the approval that confirmed it), so
re-sends, double clicks and retries make one ticket. A change that the
employee should hear about is written as a :class:`TicketEvent` to the
``ticket_events`` table, by either backend or by the ServiceNow webhook; the
bot's notifier delivers it once, from any replica.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

TicketState = Literal["new", "in_progress", "on_hold", "resolved", "closed"]
STATES: tuple[TicketState, ...] = (
    "new",
    "in_progress",
    "on_hold",
    "resolved",
    "closed",
)
OPEN_STATES: frozenset[TicketState] = frozenset({"new", "in_progress", "on_hold"})
STATE_LABELS: dict[TicketState, str] = {
    "new": "New",
    "in_progress": "In progress",
    "on_hold": "On hold",
    "resolved": "Resolved",
    "closed": "Closed",
}

TICKET_LABEL = re.compile(r"\b(INC\d{4,10}|HD-[A-Z2-7]{6})\b", re.IGNORECASE)
"""A ticket's number (``INC0001001``) or outbox reference (``HD-ABC234``) in text."""

Level = Literal["high", "medium", "low"]
"""Urgency and impact, in employees' words (ServiceNow's 1, 2, 3)."""
LEVELS: tuple[Level, ...] = ("high", "medium", "low")

CATEGORIES: tuple[str, ...] = (
    "hardware",
    "software",
    "network",
    "access",
    "email",
    "security",
    "other",
)
"""Ticket categories the agent may choose; ServiceNow maps them to its own."""

EventKind = Literal[
    "created",  # a ticket now has its real number (after the outbox delivered it)
    "commented",  # a technician wrote to the employee
    "question",  # a technician asked the employee something (state on hold)
    "resolved",  # resolved: the employee is asked "did this fix it?"
    "closed",
    "reopened",
    "state_changed",
    "asset_approval",  # an approver is asked to decide an asset request
    "asset_news",  # what became of an employee's asset request
]


def priority_of(urgency: Level, impact: Level) -> int:
    """The ITIL priority matrix: 1 critical … 5 planning (ServiceNow's default)."""
    u = LEVELS.index(urgency) + 1
    i = LEVELS.index(impact) + 1
    return {2: 1, 3: 2, 4: 3, 5: 4, 6: 5}[u + i]


PRIORITY_LABELS = {
    1: "1 - Critical",
    2: "2 - High",
    3: "3 - Moderate",
    4: "4 - Low",
    5: "5 - Planning",
}


@dataclass(frozen=True, slots=True)
class Caller:
    """The employee a ticket is for."""

    object_id: str
    tenant_id: str
    upn: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class TicketDraft:
    """Everything a new ticket carries; built by the create tool, never by the model alone.

    Attributes:
        idempotency_key: the same key always yields the same ticket.
        caller: who the ticket is for.
        short_description: one line, at most 160 characters.
        description: the summary the agent wrote, as edited by the employee.
        category: one of :data:`CATEGORIES`.
        urgency, impact: :data:`LEVELS`; the priority follows from both.
        service: the affected service or device, if known.
        transcript: the conversation, ``"Name: text"`` lines, secrets redacted.
        tried: what the copilot already did (articles shown, tool results).
        links: (label, URL) pairs back to Teams.
        conversation_id: the Teams conversation, to tell the employee later.
        assignment_group: the team that works it, by name.
    """

    idempotency_key: str
    caller: Caller
    short_description: str
    description: str
    category: str = "other"
    urgency: Level = "medium"
    impact: Level = "low"
    service: str | None = None
    transcript: str = ""
    tried: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    conversation_id: str | None = None
    assignment_group: str | None = None
    """The team that works it (a fulfilment queue); the system's default when None."""

    @property
    def priority(self) -> int:
        return priority_of(self.urgency, self.impact)


@dataclass(frozen=True, slots=True)
class TicketComment:
    """A comment on a ticket; work notes are for staff and never shown to callers."""

    author: str
    body: str
    at: datetime
    work_note: bool = False
    from_caller: bool = False


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket as the employee and the technician see it.

    ``number`` is the system's number (``INC0001001``). A ServiceNow ticket
    still in the outbox has no number yet: ``number`` is None, ``reference``
    is what the employee was given and ``pending`` is True.
    """

    reference: str
    number: str | None
    state: TicketState
    short_description: str
    caller: Caller
    category: str = "other"
    urgency: Level = "medium"
    impact: Level = "low"
    priority: int = 4
    description: str = ""
    service: str | None = None
    assignment_group: str | None = None
    assigned_to: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    sla_due_at: datetime | None = None
    resolution_note: str | None = None
    comments: list[TicketComment] = field(default_factory=list)
    pending: bool = False
    url: str | None = None
    """Where a technician opens it (ServiceNow's form), when there is one."""

    @property
    def label(self) -> str:
        """What to call it in a sentence: the number, else the reference."""
        return self.number or self.reference

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """A change the caller should hear about.

    ``event_id`` is unique per change; a second event with the same id (a
    webhook replay, two replicas) is ignored.
    """

    event_id: str
    kind: EventKind
    reference: str
    number: str | None
    caller_id: str
    tenant_id: str
    text: str = ""
    """The news in one or two sentences (a technician's comment, the resolution)."""
    author: str | None = None
    conversation_id: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to add to a ticket (a screenshot)."""

    name: str
    content_type: str
    data: bytes


class TicketSystem(Protocol):
    """A service desk. Every method may raise :class:`tools.errors.HelpdeskError`:
    ``NotFound`` for an unknown number, ``BackendUnavailable`` when the system
    cannot be reached (with what to do next), ``ToolError`` for a refusal.

    Ownership is not checked here: the tools check that the caller owns a
    ticket (or holds a support role) before they show or change it.
    """

    name: str
    """``embedded`` or ``servicenow``: for logs and readiness."""

    async def acreate(self, draft: TicketDraft) -> Ticket:
        """Create a ticket, or return the one already made with this draft's key."""
        ...

    async def aget(self, label: str) -> Ticket:
        """A ticket by number or reference, with its comments (no work notes
        unless ``helpdesk tickets`` asks for them)."""
        ...

    async def alist(
        self,
        *,
        caller_id: str | None = None,
        caller_upn: str | None = None,
        open_only: bool = True,
        group: str | None = None,
        limit: int = 20,
    ) -> list[Ticket]:
        """Tickets of one caller (by object id or UPN), or a queue, newest first."""
        ...

    async def acomment(
        self,
        label: str,
        body: str,
        *,
        author: str,
        from_caller: bool,
        work_note: bool = False,
    ) -> Ticket:
        """Add a comment. A staff comment that is not a work note raises a
        ``commented`` event for the caller."""
        ...

    async def aattach(self, label: str, attachment: Attachment) -> None:
        """Add a file to the ticket."""
        ...

    async def aset_state(
        self, label: str, state: TicketState, *, by: str, note: str = ""
    ) -> Ticket:
        """Move a ticket to ``state`` (resolve with a note, close, reopen to
        in progress). Raises ``ToolError`` for a move the system refuses.
        Resolution and reopening raise events for the caller."""
        ...

    async def aassign(
        self, label: str, *, group: str | None, assignee: str | None, by: str
    ) -> Ticket:
        """Assign to a group and/or a person."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class OutboxWork(Protocol):
    """A backend with deliveries to retry in the background (ServiceNow).

    The bot calls :meth:`arun_due` every few seconds on every replica; rows are
    leased, so replicas never deliver the same ticket twice.
    """

    async def arun_due(self) -> int:
        """Try the deliveries that are due; returns how many were delivered."""
        ...
