"""The embedded service desk: tickets, comments and files in the app database.

Needs nothing installed: tickets live in the same SQLite or Postgres database
as the rest of the app data, numbered ``INC0001001`` upwards, with an
assignment group, a priority from urgency and impact, and an SLA due time.
Support staff work the queue with ``helpdesk tickets``; a change the employee
should hear about (a staff comment, a question, the resolution, a reopening)
is written to ``ticket_events`` for the notifier.

Every free text that enters a ticket (title, description, transcript, what
was tried, links, comments, notes, text files) passes through
:func:`tools.redact.clean_for_ticket` first, whatever the caller already did: no
secret, control character or terminal escape may land in a ticket (names
and authors lose their control characters too).

Work notes are for staff: tickets come back without them unless
``aget(..., work_notes=True)`` or :meth:`EmbeddedTickets.adetails` (the staff
view) asks. The employee's tools still drop any comment marked ``work_note``.

Warning:
    A change and the event it raises are two transactions: a process that
    dies between them keeps the change and loses the notification (a retry of
    the same change is a no-op and raises nothing). Numbers may skip a value
    on Postgres when two creates with one idempotency key race, because an
    ``INSERT ... ON CONFLICT DO NOTHING`` still draws from the sequence.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tools.db import as_utc, connect
from tools.errors import InvalidInput, MissingDetail, NotFound, ToolError
from tools.redact import clean_for_ticket
from tools.settings import Settings
from tools.text import strip_controls
from tools.tickets.base import (
    CATEGORIES,
    LEVELS,
    OPEN_STATES,
    STATES,
    Attachment,
    Caller,
    EventKind,
    Ticket,
    TicketComment,
    TicketDraft,
    TicketEvent,
    TicketState,
    priority_of,
)
from tools.tickets.events import record_event
from tools.tickets.tables import ticket_attachments, ticket_comments, tickets

logger = logging.getLogger(__name__)

SHORT_DESCRIPTION_MAX = 160
"""Characters of a ticket's one-line title; longer ones are cut with an ellipsis."""
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
"""The largest file a ticket accepts (a screenshot, a log, a PDF)."""
LIST_LIMIT_MAX = 500
_NUMBER_BASE = 1000
"""Ticket ``id`` 1 is ``INC0001001``: numbers look lived-in from the first one."""
_RACE_RETRIES = 3
"""Attempts at a state change that another writer changed under us."""
_LABEL = re.compile(r"^(?:INC)?0*(\d{1,7})$")
_REFUSED_TYPES = frozenset({"image/svg+xml", "text/html"})
"""Allowed families whose members carry scripts."""


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """A file on a ticket, without its bytes."""

    name: str
    content_type: str
    size: int
    at: datetime


@dataclass(frozen=True, slots=True)
class TicketDetails:
    """What a technician sees beyond :class:`Ticket`: the hand-off context."""

    ticket: Ticket
    transcript: str = ""
    tried: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    resolved_at: datetime | None = None
    attachments: list[AttachmentInfo] = field(default_factory=list)


class EmbeddedTickets:
    """The :class:`~tools.tickets.base.TicketSystem` kept in the app database.

    Args:
        engine: the app database, migrated to the head revision.
        settings: gives ``ticket_default_group`` and ``ticket_sla_hours``.
    """

    name = "embedded"

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._default_group = settings.ticket_default_group
        self._sla_hours = list(settings.ticket_sla_hours)

    async def acreate(self, draft: TicketDraft) -> Ticket:
        """Create a ticket, or return the one already made with this draft's key.

        Re-sends, double clicks and replicas racing with one key make one
        ticket: the insert does nothing on a key that exists, and every caller
        then reads the row that won.

        Raises:
            InvalidInput: the draft has an unknown category or level, or ids
                longer than the database holds.
            MissingDetail: the one-line description is empty.
        """
        key = draft.idempotency_key.strip()
        existing = await self._by_key(key)
        if existing is not None:
            return existing

        values = self._new_row(draft, key, _now())
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        insert = (
            dialect.insert(tickets)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(tickets.c.id)
        )
        async with connect(self._engine) as conn:
            async with conn.begin():
                new_id = (await conn.execute(insert)).scalar_one_or_none()
                if new_id is not None:
                    await conn.execute(
                        tickets.update()
                        .where(tickets.c.id == new_id)
                        .values(number=_number(new_id))
                    )
                row = (
                    await conn.execute(
                        tickets.select().where(tickets.c.idempotency_key == key)
                    )
                ).one()
            [ticket] = await _tickets(conn, [row])

        if new_id is not None:
            logger.info(
                "ticket %s created, priority %d, group %s",
                ticket.number,
                ticket.priority,
                ticket.assignment_group,
            )
        return ticket

    async def aget(self, label: str, *, work_notes: bool = False) -> Ticket:
        """A ticket by number, with its comments.

        Args:
            label: ``INC0001001`` in any case and spacing, or just ``1001``.
            work_notes: include staff-only work notes (marked ``work_note``);
                only staff views ask for them.

        Raises:
            NotFound: no ticket has that number.
        """
        async with connect(self._engine) as conn:
            row = await _row(conn, label)
            [ticket] = await _tickets(conn, [row], work_notes=work_notes)
        return ticket

    async def adetails(self, label: str) -> TicketDetails:
        """A ticket for staff: work notes, transcript, what was tried, links, files.

        Raises:
            NotFound: no ticket has that number.
        """
        async with connect(self._engine) as conn:
            row = await _row(conn, label)
            [ticket] = await _tickets(conn, [row], work_notes=True)
            files = (
                await conn.execute(
                    sa.select(
                        ticket_attachments.c.name,
                        ticket_attachments.c.content_type,
                        ticket_attachments.c.size,
                        ticket_attachments.c.at,
                    )
                    .where(ticket_attachments.c.ticket_id == row.id)
                    .order_by(ticket_attachments.c.id)
                )
            ).all()
        return TicketDetails(
            ticket=ticket,
            transcript=row.transcript,
            tried=[str(item) for item in json.loads(row.tried or "[]")],
            links=[(str(a), str(b)) for a, b in json.loads(row.links or "[]")],
            resolved_at=_utc(row.resolved_at),
            attachments=[
                AttachmentInfo(f.name, f.content_type, int(f.size), as_utc(f.at))
                for f in files
            ],
        )

    async def alist(
        self,
        *,
        caller_id: str | None = None,
        caller_upn: str | None = None,
        open_only: bool = True,
        group: str | None = None,
        limit: int = 20,
    ) -> list[Ticket]:
        """Tickets of one caller, or a queue, newest first.

        Args:
            caller_id: the caller's object id.
            caller_upn: the caller's UPN (any case); with ``caller_id`` too, a
                ticket matching either is listed.
            open_only: leave out resolved and closed tickets.
            group: only this assignment group (any case).
            limit: at most this many, 1 to :data:`LIST_LIMIT_MAX`.

        Raises:
            InvalidInput: ``limit`` is out of range.
        """
        if not 1 <= limit <= LIST_LIMIT_MAX:
            raise InvalidInput(
                f"ticket list limit {limit} is out of range; use 1 to {LIST_LIMIT_MAX}"
            )
        query = tickets.select().order_by(tickets.c.id.desc()).limit(limit)
        callers = []
        if caller_id:
            callers.append(tickets.c.caller_id == caller_id)
        if caller_upn:
            callers.append(sa.func.lower(tickets.c.caller_upn) == caller_upn.lower())
        if callers:
            query = query.where(sa.or_(*callers))
        if open_only:
            query = query.where(tickets.c.state.in_(sorted(OPEN_STATES)))
        if group:
            query = query.where(
                sa.func.lower(tickets.c.assignment_group) == group.strip().lower()
            )
        async with connect(self._engine) as conn:
            rows = (await conn.execute(query)).all()
            return await _tickets(conn, rows)

    async def acomment(
        self,
        label: str,
        body: str,
        *,
        author: str,
        from_caller: bool,
        work_note: bool = False,
    ) -> Ticket:
        """Add a comment; a staff comment to the caller raises an event.

        The event is ``question`` while the ticket is on hold (the technician
        waits for an answer), else ``commented``. A caller's comment raises
        nothing; it moves a ticket on hold back to in progress (the answer
        came) but does not reopen a resolved one by itself.

        Raises:
            NotFound: no ticket has that number.
            MissingDetail: the comment is empty.
            ToolError: the ticket is closed (work notes are still accepted).
        """
        text = clean_for_ticket(body).strip()
        if not text:
            raise MissingDetail(
                "empty ticket comment",
                field="body",
                user_message="The comment is empty. What should I add to the ticket?",
            )
        if from_caller and work_note:
            raise InvalidInput("a caller's comment cannot be a work note")

        async with connect(self._engine) as conn, conn.begin():
            row = await _row(conn, label)
            if row.state == "closed" and not work_note:
                raise _closed(row.number, "commented on")
            comment_id = await _add_comment(
                conn,
                row.id,
                author=author,
                body=text,
                work_note=work_note,
                from_caller=from_caller,
            )
            if from_caller and row.state == "on_hold":
                # The caller answered the question: back to the technician.
                await _move(conn, row, "in_progress", "", _now())

        if not from_caller and not work_note:
            kind: EventKind = "question" if row.state == "on_hold" else "commented"
            await record_event(
                self._engine,
                _event(row, f"{row.number}:comment:{comment_id}", kind, text, author),
            )
        return await self.aget(row.number)

    async def aattach(self, label: str, attachment: Attachment) -> None:
        """Add a picture, a text file or a PDF of at most 5 MB.

        Text files are redacted like every other text on a ticket.

        Raises:
            NotFound: no ticket has that number.
            InvalidInput: the file is empty, too large or of another type.
            ToolError: the ticket is closed.
        """
        content_type = _content_type(attachment.content_type)
        data = _checked_file(content_type, attachment.data)
        name = _file_name(attachment.name)

        async with connect(self._engine) as conn, conn.begin():
            row = await _row(conn, label)
            if row.state == "closed":
                raise _closed(row.number, "given new files")
            now = _now()
            await conn.execute(
                ticket_attachments.insert().values(
                    ticket_id=row.id,
                    name=name,
                    content_type=content_type,
                    size=len(data),
                    data=data,
                    at=now,
                )
            )
            await _touch(conn, row.id, now)

    async def aset_state(
        self, label: str, state: TicketState, *, by: str, note: str = ""
    ) -> Ticket:
        """Move a ticket to ``state``.

        Open tickets (new, in progress, on hold) move to any state; a
        resolved one can be closed or reopened to in progress; a closed one
        is final. A move to the state the ticket is already in changes
        nothing and raises no event, so double clicks are harmless.

        Events for the caller: ``resolved`` (text: the note), ``reopened``,
        ``question`` (on hold with a note: the question), and ``closed`` when
        someone other than the caller closes it. A note on any move but a
        resolution is also kept as a comment by ``by``.

        Args:
            label: the ticket number.
            state: where to move it.
            by: who moves it: a technician's name, or the caller's object id
                or UPN when the employee does it.
            note: the resolution (required to resolve), the question to the
                caller (on hold), or why.

        Raises:
            NotFound: no ticket has that number.
            MissingDetail: resolving without a note.
            ToolError: the move is refused (a closed ticket, a resolved one
                put back to new or on hold).
        """
        if state not in STATES:
            raise InvalidInput(
                f"unknown ticket state {state!r}; use one of {', '.join(STATES)}"
            )
        text = clean_for_ticket(note).strip()
        for _ in range(_RACE_RETRIES):
            async with connect(self._engine) as conn, conn.begin():
                row = await _row(conn, label)
                if row.state == state:
                    [ticket] = await _tickets(conn, [row])
                    return ticket
                _check_move(row.number, row.state, state, text)
                now = _now()
                moved = await _move(conn, row, state, text, now)
                if moved and text and state != "resolved":
                    await _add_comment(
                        conn,
                        row.id,
                        author=by,
                        body=text,
                        work_note=False,
                        from_caller=_is_caller(row, by),
                        at=now,
                    )
            if not moved:
                continue  # someone else changed it first: look again

            logger.info("ticket %s moved from %s to %s", row.number, row.state, state)
            kind = _event_kind(row, state, by, text)
            if kind is not None:
                stamp = int(now.timestamp() * 1_000_000)
                event_id = f"{row.number}:{kind}:{stamp}"
                await record_event(
                    self._engine, _event(row, event_id, kind, text, by, at=now)
                )
            return await self.aget(row.number)

        raise ToolError(
            f"{label}: changed by someone else {_RACE_RETRIES} times in a row",
            user_message="Someone else is changing this ticket right now. "
            "Please try again in a moment.",
        )

    async def aassign(
        self, label: str, *, group: str | None, assignee: str | None, by: str
    ) -> Ticket:
        """Assign to a group and/or a person; a new ticket given to a person
        moves to in progress. The change is kept as a work note by ``by``.

        Raises:
            NotFound: no ticket has that number.
            InvalidInput: neither a group nor a person was given.
            ToolError: the ticket is closed.
        """
        group = _name(group or "", 128) or None
        assignee = _name(assignee or "", 256) or None
        if group is None and assignee is None:
            raise InvalidInput(
                "assigning a ticket needs a group or a person",
                user_message="Say which group or person the ticket should go to.",
            )

        async with connect(self._engine) as conn, conn.begin():
            row = await _row(conn, label)
            if row.state == "closed":
                raise _closed(row.number, "reassigned")
            values: dict[str, Any] = {}
            if group is not None and group != row.assignment_group:
                values["assignment_group"] = group
            if assignee is not None and assignee != row.assigned_to:
                values["assigned_to"] = assignee
                # In the statement, so a state changed meanwhile is respected.
                values["state"] = sa.case(
                    (tickets.c.state == "new", "in_progress"), else_=tickets.c.state
                )
            if values:
                now = _now()
                result = await conn.execute(
                    tickets.update()
                    .where(tickets.c.id == row.id)
                    .where(tickets.c.state != "closed")
                    .values(updated_at=now, **values)
                )
                if int(result.rowcount or 0) != 1:
                    raise _closed(row.number, "reassigned")
                whom = " and ".join(
                    v
                    for v in (values.get("assignment_group"), values.get("assigned_to"))
                    if v
                )
                await _add_comment(
                    conn,
                    row.id,
                    author=by,
                    body=f"Assigned to {whom}.",
                    work_note=True,
                    from_caller=False,
                    at=now,
                )
        return await self.aget(row.number)

    async def aclose(self) -> None:
        """Nothing to release: the engine belongs to whoever made it."""

    async def _by_key(self, key: str) -> Ticket | None:
        async with connect(self._engine) as conn:
            row = (
                await conn.execute(
                    tickets.select().where(tickets.c.idempotency_key == key)
                )
            ).one_or_none()
            if row is None:
                return None
            [ticket] = await _tickets(conn, [row])
        return ticket

    def _new_row(self, draft: TicketDraft, key: str, now: datetime) -> dict[str, Any]:
        """The row of a new ticket, checked and redacted."""
        _check_length("idempotency key", key, 128, required=True)
        _check_length("caller object id", draft.caller.object_id, 256, required=True)
        _check_length("tenant id", draft.caller.tenant_id, 128)
        category = draft.category.strip().lower()
        if category not in CATEGORIES:
            raise InvalidInput(
                f"unknown ticket category {draft.category!r}; use one of "
                f"{', '.join(CATEGORIES)}"
            )
        for name, level in (("urgency", draft.urgency), ("impact", draft.impact)):
            if level not in LEVELS:
                raise InvalidInput(
                    f"unknown ticket {name} {level!r}; use one of {', '.join(LEVELS)}"
                )
        short = _one_line(clean_for_ticket(draft.short_description))
        if not short:
            raise MissingDetail(
                "ticket without a short description",
                field="short_description",
                user_message="What is the problem, in one line?",
            )

        priority = priority_of(draft.urgency, draft.impact)
        conversation_id = draft.conversation_id
        if conversation_id is not None and len(conversation_id) > 512:
            # The notifier falls back to the caller's latest conversation.
            logger.warning("conversation id too long for a ticket; not kept")
            conversation_id = None
        return {
            "idempotency_key": key,
            "tenant_id": draft.caller.tenant_id,
            "caller_id": draft.caller.object_id,
            "caller_upn": _cut(draft.caller.upn, 256),
            "caller_name": _cut(draft.caller.name, 256),
            "state": "new",
            "short_description": short,
            "description": clean_for_ticket(draft.description).strip(),
            "category": category,
            "urgency": draft.urgency,
            "impact": draft.impact,
            "priority": priority,
            "service": _one_line(clean_for_ticket(draft.service or ""), 200) or None,
            "assignment_group": _one_line(draft.assignment_group or "", 128)
            or self._default_group,
            "assigned_to": None,
            "transcript": clean_for_ticket(draft.transcript),
            "tried": json.dumps([clean_for_ticket(item) for item in draft.tried]),
            "links": json.dumps(
                [
                    [clean_for_ticket(label), clean_for_ticket(url)]
                    for label, url in draft.links
                ]
            ),
            "conversation_id": conversation_id,
            "created_at": now,
            "updated_at": now,
            "sla_due_at": now + timedelta(hours=self._sla_hours[priority - 1]),
        }


# -- reading -------------------------------------------------------------------


def normalize_number(label: str) -> str | None:
    """``inc 1001``, ``INC0001001`` or ``1001`` → ``INC0001001``; None if no number."""
    match = _LABEL.match("".join(label.split()).upper())
    if match is None:
        return None
    return f"INC{int(match.group(1)):07d}"


async def _row(conn: AsyncConnection, label: str) -> Any:
    number = normalize_number(label)
    row = None
    if number is not None:
        row = (
            await conn.execute(tickets.select().where(tickets.c.number == number))
        ).one_or_none()
    if row is None:
        shown = (number or " ".join(label.split()))[:40]
        raise NotFound(
            f"no ticket {shown!r} in the embedded service desk",
            user_message=f"I can't find ticket {shown}. Please check the number.",
        )
    return row


async def _tickets(
    conn: AsyncConnection, rows: Sequence[Any], *, work_notes: bool = False
) -> list[Ticket]:
    """Rows as tickets, with their comments read in one query."""
    comments: dict[int, list[TicketComment]] = {row.id: [] for row in rows}
    if comments:
        query = (
            ticket_comments.select()
            .where(ticket_comments.c.ticket_id.in_(list(comments)))
            .order_by(ticket_comments.c.id)
        )
        if not work_notes:
            query = query.where(ticket_comments.c.work_note.is_(False))
        for c in (await conn.execute(query)).all():
            comments[c.ticket_id].append(
                TicketComment(
                    author=c.author,
                    body=c.body,
                    at=as_utc(c.at),
                    work_note=bool(c.work_note),
                    from_caller=bool(c.from_caller),
                )
            )
    return [_ticket(row, comments[row.id]) for row in rows]


def _ticket(row: Any, comments: list[TicketComment]) -> Ticket:
    return Ticket(
        reference=row.number,
        number=row.number,
        state=row.state,
        short_description=row.short_description,
        caller=Caller(
            object_id=row.caller_id,
            tenant_id=row.tenant_id,
            upn=row.caller_upn,
            name=row.caller_name,
        ),
        category=row.category,
        urgency=row.urgency,
        impact=row.impact,
        priority=int(row.priority),
        description=row.description,
        service=row.service,
        assignment_group=row.assignment_group,
        assigned_to=row.assigned_to,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        sla_due_at=_utc(row.sla_due_at),
        resolution_note=row.resolution_note,
        comments=comments,
    )


# -- changing ------------------------------------------------------------------


def _check_move(number: str, current: str, target: str, note: str) -> None:
    """Refuse the moves the desk does not allow, in words that say what does work."""
    if current == "closed":
        raise _closed(number, "changed")
    if current == "resolved" and target not in ("closed", "in_progress"):
        raise ToolError(
            f"{number} is resolved; it can only be closed or reopened to "
            f"in_progress, not moved to {target}",
            user_message=f"Ticket {number} is resolved: it can be closed, or "
            "reopened if the problem is back.",
        )
    if target == "resolved" and not note:
        raise MissingDetail(
            f"resolving {number} needs a resolution note",
            field="note",
            user_message=f"Say how ticket {number} was resolved: a resolution "
            "note is needed to resolve it.",
        )


async def _move(
    conn: AsyncConnection, row: Any, state: str, note: str, now: datetime
) -> bool:
    """Change the state only if nobody changed it since ``row`` was read."""
    values: dict[str, Any] = {"state": state, "updated_at": now}
    if state == "resolved":
        values.update(resolved_at=now, resolution_note=note)
    elif row.state == "resolved" and state != "closed":
        values.update(resolved_at=None, resolution_note=None)
    result = await conn.execute(
        tickets.update()
        .where(tickets.c.id == row.id)
        .where(tickets.c.state == row.state)
        .values(**values)
    )
    return int(result.rowcount or 0) == 1


def _event_kind(row: Any, state: str, by: str, note: str) -> EventKind | None:
    if state == "resolved":
        return "resolved"
    if row.state == "resolved" and state == "in_progress":
        # The employee who reopened it knows; staff reopening it tell them.
        return None if _is_caller(row, by) else "reopened"
    if state == "closed" and not _is_caller(row, by):
        return "closed"
    if state == "on_hold" and note:
        return "question"
    return None


def _is_caller(row: Any, by: str) -> bool:
    who = by.strip().casefold()
    return bool(who) and who in {
        str(v).casefold() for v in (row.caller_id, row.caller_upn) if v
    }


async def _add_comment(
    conn: AsyncConnection,
    ticket_id: int,
    *,
    author: str,
    body: str,
    work_note: bool,
    from_caller: bool,
    at: datetime | None = None,
) -> int:
    at = at or _now()
    comment_id = (
        await conn.execute(
            ticket_comments.insert()
            .values(
                ticket_id=ticket_id,
                author=_name(author, 256) or "unknown",
                body=body,
                work_note=work_note,
                from_caller=from_caller,
                at=at,
            )
            .returning(ticket_comments.c.id)
        )
    ).scalar_one()
    await _touch(conn, ticket_id, at)
    return int(comment_id)


async def _touch(conn: AsyncConnection, ticket_id: int, at: datetime) -> None:
    await conn.execute(
        tickets.update().where(tickets.c.id == ticket_id).values(updated_at=at)
    )


def _event(
    row: Any,
    event_id: str,
    kind: EventKind,
    text: str,
    author: str,
    *,
    at: datetime | None = None,
) -> TicketEvent:
    return TicketEvent(
        event_id=event_id,
        kind=kind,
        reference=row.number,
        number=row.number,
        caller_id=row.caller_id,
        tenant_id=row.tenant_id,
        text=text,
        author=_name(author, 256),
        conversation_id=row.conversation_id,
        at=at,
    )


def _closed(number: str, what: str) -> ToolError:
    return ToolError(
        f"{number} is closed and cannot be {what}; closed tickets are final",
        user_message=f"Ticket {number} is closed, so it can't be {what}. Please "
        f"open a new ticket and mention {number} in it.",
    )


# -- checks and small helpers --------------------------------------------------


def _content_type(raw: str) -> str:
    content_type = raw.split(";", 1)[0].strip().lower()
    family = content_type.split("/", 1)[0]
    allowed = content_type == "application/pdf" or family in ("image", "text")
    if not allowed or content_type in _REFUSED_TYPES:
        raise InvalidInput(
            f"attachment type {content_type or 'unknown'!r} refused; tickets take "
            "images, text files and PDFs",
            user_message="I can only add pictures, text files and PDFs to a "
            "ticket. Please send a screenshot or a PDF instead.",
        )
    return content_type


def _checked_file(content_type: str, data: bytes) -> bytes:
    if not data:
        raise InvalidInput(
            "empty attachment", user_message="That file is empty, so I did not add it."
        )
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(
            f"attachment of {len(data)} bytes is over the "
            f"{MAX_ATTACHMENT_BYTES} byte limit",
            user_message="That file is larger than 5 MB. Please send a smaller "
            "screenshot, or crop it.",
        )
    if content_type.startswith("text/"):
        return clean_for_ticket(data.decode("utf-8", errors="replace")).encode("utf-8")
    return data


def _file_name(raw: str) -> str:
    # Only the last part of a path: a name is a label, never a location.
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    return _name(name, 256) or "attachment"


def _check_length(what: str, value: str, limit: int, *, required: bool = False) -> None:
    if required and not value.strip():
        raise InvalidInput(f"a ticket needs a {what}")
    if len(value) > limit:
        raise InvalidInput(f"ticket {what} is {len(value)} characters; at most {limit}")


def _one_line(text: str, limit: int = SHORT_DESCRIPTION_MAX) -> str:
    line = " ".join(text.split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line


def _cut(text: str | None, limit: int) -> str | None:
    return _name(text, limit) or None if text else None


def _name(text: str, limit: int) -> str:
    """A name or label on one line, without control characters, cut to fit."""
    cleaned = strip_controls(text).replace("\n", " ").replace("\t", " ")
    return cleaned.strip()[:limit]


def _number(ticket_id: int) -> str:
    return f"INC{_NUMBER_BASE + ticket_id:07d}"


def _utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _now() -> datetime:
    return datetime.now(UTC)
