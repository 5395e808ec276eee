"""ServiceNow as the service desk: incidents through the Table API, created through an outbox.

A new ticket is first written to ``ticket_outbox`` in the app database and
given a reference (``HD-`` and six letters or digits, derived from the
idempotency key), then delivered to ServiceNow at once if it answers within
``HELPDESK_SERVICENOW_TIMEOUT_S``. When it does not, the employee keeps the
reference and :meth:`ServiceNowTickets.arun_due` (run by every replica) keeps
trying; when the incident exists, a ``created`` event tells the employee its
number.

ServiceNow does not deduplicate creates, so every delivery first looks for an
incident whose ``correlation_id`` is the idempotency key: a create that timed
out after ServiceNow had made the incident is found, not repeated.

Field mapping:

==============  ===========================================================
ours            ServiceNow ``incident``
==============  ===========================================================
state           ``state``: new 1, in_progress 2, on_hold 3 (``hold_reason``
                1, awaiting caller), resolved 6, closed 7 (canceled 8 reads
                as closed)
urgency, impact ``urgency``, ``impact``: high 1, medium 2, low 3; ServiceNow
                computes ``priority`` from them
category        ``category``/``subcategory`` of the base system: hardware,
                software and network as they are; email is software/email;
                access, security and other are inquiry (Inquiry / Help), the
                words of the request telling a technician the rest; reading
                back, database becomes software and inquiry other
caller          ``caller_id``: the ``sys_user`` whose email or user name is
                the caller's UPN; when none is found the incident has no
                caller and the description starts with the name and email
description     the summary, the affected service, "What the copilot already
                tried:", the conversation and the links back to Teams
idempotency     ``correlation_id`` (the reference instead when the key is
                longer than ServiceNow's 100 characters); ``contact_type``
                is ``virtual_agent``
comments        ``comments`` (the caller sees them) and ``work_notes``, read
                back from ``sys_journal_field``
==============  ===========================================================

Warning:
    The integration user needs the ``itil`` role (incidents, groups, users,
    attachments) and read access to ``sys_journal_field``; without the
    latter, tickets read back without their comments and a warning is logged.
    Resolving sends ``close_code`` "Solved (Permanently)" (see
    :data:`DEFAULT_CLOSE_CODE`); an instance with other resolution codes sets
    ``HELPDESK_SERVICENOW_CLOSE_CODE``. ServiceNow does not reopen a
    closed incident: the employee is asked to open a new ticket.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.db import as_utc
from tools.errors import (
    BackendUnavailable,
    ConfigError,
    HelpdeskError,
    NotFound,
    ToolError,
)
from tools.redact import clean_for_ticket as redact
from tools.settings import Settings
from tools.tickets.base import (
    STATE_LABELS,
    Attachment,
    Caller,
    EventKind,
    Level,
    Ticket,
    TicketComment,
    TicketDraft,
    TicketEvent,
    TicketState,
    priority_of,
)
from tools.tickets.events import backoff, record_event
from tools.tickets.tables import ticket_outbox

logger = logging.getLogger(__name__)

STATE_CODES: dict[TicketState, str] = {
    "new": "1",
    "in_progress": "2",
    "on_hold": "3",
    "resolved": "6",
    "closed": "7",
}
_STATES_BY_CODE: dict[str, TicketState] = {
    **{code: state for state, code in STATE_CODES.items()},
    "8": "closed",  # canceled
}
LEVEL_CODES: dict[Level, str] = {"high": "1", "medium": "2", "low": "3"}
_LEVELS_BY_CODE: dict[str, Level] = {code: lv for lv, code in LEVEL_CODES.items()}
CATEGORY_MAP: dict[str, tuple[str, str]] = {
    "hardware": ("hardware", ""),
    "software": ("software", ""),
    "network": ("network", ""),
    "email": ("software", "email"),
    "access": ("inquiry", ""),
    "security": ("inquiry", ""),
    "other": ("inquiry", ""),
}
"""Our categories as ServiceNow's base-system (category, subcategory)."""
DEFAULT_CLOSE_CODE = "Solved (Permanently)"
CONTACT_TYPE = "virtual_agent"
HOLD_AWAITING_CALLER = "1"
CORRELATION_MAX = 100
"""ServiceNow's length of ``correlation_id``."""
DESCRIPTION_MAX = 4000
"""ServiceNow's default length of ``description``; the transcript is cut to fit."""
TOKEN_MARGIN_S = 60.0
"""An OAuth token is renewed this long before it expires."""
LOOKUP_TTL_S = 600.0
"""How long a caller or group lookup is remembered, found or not."""
MIN_LEASE = timedelta(seconds=60)

_INCIDENTS = "/api/now/table/incident"
_FIELDS = ",".join(
    [
        "sys_id",
        "number",
        "state",
        "short_description",
        "description",
        "category",
        "subcategory",
        "urgency",
        "impact",
        "priority",
        "assignment_group",
        "assigned_to",
        "caller_id",
        "caller_id.email",
        "caller_id.user_name",
        "cmdb_ci",
        "correlation_id",
        "close_notes",
        "sla_due",
        "sys_created_on",
        "sys_updated_on",
        "sys_mod_count",
    ]
)
_READ = {
    "sysparm_display_value": "all",
    "sysparm_exclude_reference_link": "true",
    "sysparm_fields": _FIELDS,
}
_NUMBER = re.compile(r"^[A-Z]{2,8}\d{5,}$")
_REFERENCE = re.compile(r"^HD-[A-Z2-7]{6,10}$")
_COMMENT_HEADER = re.compile(
    r"^\[From (?P<name>[^\]\n]+?)(?P<teams> via Microsoft Teams)?\]\n(?P<body>.*)$",
    re.DOTALL,
)
"""The first line of a comment written here: ServiceNow shows the integration
user as its writer, so the text names the person."""
_UNSAFE_IN_QUERY = re.compile(r"[\^=\n\r]")
_COMMENTS = "c"
_STATE = "s"
"""The parts of a change, as the business rule's event ids end."""
_CALLERS_OWN: frozenset[EventKind] = frozenset({"closed", "reopened", "state_changed"})
"""Moves the caller is not told of when they made them."""

_BUSY = (
    "The service desk is not answering right now. Please try again in a few minutes."
)
_PENDING = (
    "Your ticket {reference} is still being filed with the service desk; I can "
    "do this once it has its number, usually within a few minutes."
)


class _AuthRefused(BackendUnavailable):
    """ServiceNow refuses our credentials: an operator must fix a setting."""


class _Refused(ToolError):
    """ServiceNow refuses this request (400, 403, 409, 415, 422)."""

    def __init__(self, message: str, *, status: int, user_message: str) -> None:
        super().__init__(message, user_message=user_message)
        self.status = status


@dataclass(frozen=True, slots=True)
class _Row:
    """One ``ticket_outbox`` row, with its draft."""

    key: str
    reference: str
    status: str
    draft: TicketDraft
    number: str | None
    sys_id: str | None
    attempts: int
    created_at: datetime


class ServiceNowTickets:
    """Tickets as ServiceNow incidents, created through the app database's outbox.

    Args:
        settings: ``servicenow_url``, the credentials (OAuth client credentials
            when ``servicenow_client_id`` is set, else basic auth),
            ``servicenow_timeout_s``, ``servicenow_assignment_group``,
            ``outbox_max_attempts`` and ``outbox_backoff_max_s``.
        engine: the app database (``ticket_outbox``, ``ticket_events``).
        http: a client to use instead of an owned one (it is not closed).
        close_code: the resolution code sent when resolving.

    Raises:
        ConfigError: the URL or the credentials are missing.
    """

    name = "servicenow"

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        *,
        http: httpx.AsyncClient | None = None,
        close_code: str | None = None,
    ) -> None:
        if not settings.servicenow_url:
            raise ConfigError(
                "the ServiceNow ticket backend needs HELPDESK_SERVICENOW_URL, e.g. "
                "https://NAME.service-now.com"
            )
        self._oauth = bool(
            settings.servicenow_client_id and settings.servicenow_client_secret
        )
        if not self._oauth and not (
            settings.servicenow_user and settings.servicenow_password
        ):
            raise ConfigError(
                "the ServiceNow ticket backend needs HELPDESK_SERVICENOW_USER and "
                "HELPDESK_SERVICENOW_PASSWORD, or HELPDESK_SERVICENOW_CLIENT_ID and "
                "HELPDESK_SERVICENOW_CLIENT_SECRET"
            )
        self._settings = settings
        self._engine = engine
        self._base = settings.servicenow_url.rstrip("/")
        self._timeout = settings.servicenow_timeout_s
        self._close_code = (
            settings.servicenow_close_code if close_code is None else close_code
        )
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(self._timeout), follow_redirects=False
        )
        self._lease = max(MIN_LEASE, timedelta(seconds=6 * self._timeout))
        self._token: str | None = None
        self._token_until = 0.0
        self._token_lock = asyncio.Lock()
        self._lookups: dict[tuple[str, str], tuple[str | None, float]] = {}
        self._journal_readable = True

    # -- the TicketSystem protocol ----------------------------------------------

    async def acreate(self, draft: TicketDraft) -> Ticket:
        """Queue a ticket in the outbox and try to deliver it at once.

        Returns:
            The incident (``pending`` False, ``number`` set) when ServiceNow
            took it within the timeout; otherwise a pending ticket whose
            ``reference`` the employee keeps. A second call with the same key
            returns the same ticket and never makes a second incident.
        """
        draft = _redacted(draft)
        row, fresh = await self._enqueue(draft)
        if row.status == "delivered":
            return self._delivered_ticket(row)
        if row.status != "pending" or not (fresh or await self._claim(row.key)):
            return _pending_ticket(row)

        record = await self._attempt(row, budget_s=self._timeout)
        if record is None:
            return _pending_ticket(row)
        return self._ticket(record, row, [])

    async def aget(self, label: str, *, work_notes: bool = False) -> Ticket:
        """A ticket by incident number (``INC0010001``) or reference (``HD-…``).

        A reference still in the outbox gives a pending ticket built from the
        draft; otherwise the incident is read with its comments (and its work
        notes when ``work_notes`` is set).

        Raises:
            NotFound: no such number or reference.
            BackendUnavailable: ServiceNow does not answer.
        """
        record, row = await self._locate(label, pending_ok=True)
        if record is None:
            assert row is not None
            return _pending_ticket(row)
        return await self._full(record, row, work_notes=work_notes)

    async def alist(
        self,
        *,
        caller_id: str | None = None,
        caller_upn: str | None = None,
        open_only: bool = True,
        group: str | None = None,
        limit: int = 20,
    ) -> list[Ticket]:
        """Tickets of one caller, or a group's queue, newest first.

        A caller's tickets are the incidents whose caller is their
        ``sys_user`` plus those delivered for them without one (the lookup
        failed), and their tickets still in the outbox.
        """
        rows = await self._caller_rows(caller_id) if caller_id else []
        upn = caller_upn or next(
            (r.draft.caller.upn for r in rows if r.draft.caller.upn), None
        )
        pending = [_pending_ticket(r) for r in rows if r.status != "delivered"]

        ours = [r.number for r in rows if r.status == "delivered" and r.number]
        alternatives: list[str] = []
        if upn and (user := await self._lookup("sys_user", upn)):
            alternatives.append(f"caller_id={user}")
        if ours:
            alternatives.append("numberIN" + ",".join(ours[:100]))
        if group:
            group_id = await self._lookup("sys_user_group", group)
            if group_id is None:
                raise NotFound(
                    f"ServiceNow has no assignment group named {group!r}",
                    user_message=f"There is no support group called {group}.",
                )
            alternatives.append(f"assignment_group={group_id}")
        if (caller_id or caller_upn or group) and not alternatives:
            return _newest(pending, limit)

        terms = ["^OR".join(alternatives)] if alternatives else []
        if open_only:
            terms.append("stateIN1,2,3")
        terms.append("ORDERBYDESCsys_created_on^ORDERBYDESCnumber")
        records = await self._call(
            "GET",
            _INCIDENTS,
            params={
                **_READ,
                "sysparm_query": "^".join(terms),
                "sysparm_limit": str(limit),
            },
        )
        by_number = {r.number: r for r in rows if r.number}
        tickets = [
            self._ticket(record, by_number.get(_value(record, "number")), [])
            for record in _records(records)
        ]
        if open_only:
            pending = [t for t in pending if t.is_open]
        return _newest(pending + tickets, limit)

    async def acomment(
        self,
        label: str,
        body: str,
        *,
        author: str,
        from_caller: bool,
        work_note: bool = False,
    ) -> Ticket:
        """Add a comment (``comments``) or a work note (``work_notes``).

        The text is redacted and headed with who wrote it (ServiceNow shows
        the integration user as the writer). A staff comment that is not a
        work note becomes a ``commented`` event for the caller; the caller's
        own comment is recorded muted (see :meth:`_record_change`).
        """
        record, row = await self._locate(label)
        sys_id = _value(record, "sys_id")
        text = redact(body).strip()
        if not text:
            raise _Refused(
                "an empty comment was not sent to ServiceNow",
                status=400,
                user_message="There is nothing to add: the comment is empty.",
            )
        via = " via Microsoft Teams" if from_caller else ""
        field = "work_notes" if work_note else "comments"
        updated = await self._call(
            "PATCH",
            f"{_INCIDENTS}/{sys_id}",
            params=_READ,
            json_body={field: f"[From {author}{via}]\n{text}"},
        )
        if not work_note:
            await self._record_change(
                row,
                updated,
                {_COMMENTS: "commented"},
                told=None if from_caller else _COMMENTS,
                text=text,
                author=author,
            )
        return await self._full(updated, row)

    async def aattach(self, label: str, attachment: Attachment) -> None:
        """Upload a file to the incident with the Attachment API."""
        record, _ = await self._locate(label)
        await self._call(
            "POST",
            "/api/now/attachment/file",
            params={
                "table_name": "incident",
                "table_sys_id": _value(record, "sys_id"),
                "file_name": attachment.name,
            },
            content=attachment.data,
            content_type=attachment.content_type or "application/octet-stream",
        )

    async def aset_state(
        self, label: str, state: TicketState, *, by: str, note: str = ""
    ) -> Ticket:
        """Move an incident to ``state``.

        Resolving and closing send ``close_code`` and ``close_notes`` (the note,
        or who resolved it); putting on hold sets "awaiting caller" and sends
        the note as a comment (the question to the caller); reopening a
        resolved incident moves it to in progress.

        The caller hears of the change (``question``, ``resolved``,
        ``closed``, ``reopened``, ``state_changed``) unless they made it: a
        close, reopen or other move whose ``by`` is the caller's object id or
        UPN is recorded muted, as the embedded system does.

        Args:
            label: the incident number or the help desk reference.
            state: where to move it.
            by: who moves it: a technician's name, or the caller's object id
                or UPN when the employee does it.
            note: the resolution, the question to the caller, or why.

        Raises:
            ToolError: the incident is closed (ServiceNow does not reopen it),
                or ServiceNow refuses the change.
        """
        record, row = await self._locate(label)
        sys_id = _value(record, "sys_id")
        before = _STATES_BY_CODE.get(_value(record, "state"), "in_progress")
        if before == "closed" and state != "closed":
            raise _Refused(
                f"{_value(record, 'number')} is closed; ServiceNow does not reopen "
                "closed incidents",
                status=409,
                user_message="That ticket is closed and cannot be reopened; I can "
                "open a new one for you.",
            )

        body: dict[str, str] = {"state": STATE_CODES[state]}
        text = redact(note).strip()
        if state in ("resolved", "closed") and before != "resolved":
            # ServiceNow's data policy wants both to leave the open states.
            body["close_code"] = self._close_code
            body["close_notes"] = text or f"Resolved by {by}."
        elif state in ("resolved", "closed") and text:
            body["close_notes"] = text
        elif text:
            body["comments"] = f"[From {by}]\n{text}"
        if state == "on_hold":
            body["hold_reason"] = HOLD_AWAITING_CALLER
        updated = await self._call(
            "PATCH", f"{_INCIDENTS}/{sys_id}", params=_READ, json_body=body
        )

        parts: dict[str, EventKind] = {}
        if "comments" in body:
            parts[_COMMENTS] = "question" if state == "on_hold" else "commented"
        moved = _move_kind(before, state)
        if moved is not None:
            parts[_STATE] = moved
        told: str | None = None
        if state == "on_hold" and text:
            told = _COMMENTS  # the question is the news
        elif moved is not None and not (moved in _CALLERS_OWN and _is_caller(row, by)):
            told = _STATE
        number = _value(updated, "number")
        default = f"{number} is now {STATE_LABELS[state].lower()}."
        await self._record_change(
            row, updated, parts, told=told, text=text or default, author=by
        )
        return await self._full(updated, row)

    async def aassign(
        self, label: str, *, group: str | None, assignee: str | None, by: str
    ) -> Ticket:
        """Assign to a group (name or sys_id) and/or a person (email or user name).

        Raises:
            ToolError: no such group or person in ServiceNow.
        """
        record, row = await self._locate(label)
        body: dict[str, str] = {}
        for table, wanted, field in (
            ("sys_user_group", group, "assignment_group"),
            ("sys_user", assignee, "assigned_to"),
        ):
            if not wanted:
                continue
            found = await self._lookup(table, wanted)
            if found is None:
                what = "support group" if table == "sys_user_group" else "person"
                raise _Refused(
                    f"ServiceNow has no {table} matching {wanted!r}",
                    status=404,
                    user_message=f"I could not find the {what} {wanted} in the "
                    "service desk.",
                )
            body[field] = found
        if not body:
            return await self._full(record, row)
        updated = await self._call(
            "PATCH",
            f"{_INCIDENTS}/{_value(record, 'sys_id')}",
            params=_READ,
            json_body=body,
        )
        logger.info("%s reassigned", _value(updated, "number"))
        return await self._full(updated, row)

    async def aclose(self) -> None:
        """Close the HTTP client when this object made it."""
        if self._owns_http:
            await self._http.aclose()

    # -- the OutboxWork protocol ------------------------------------------------

    async def arun_due(self, *, now: datetime | None = None, limit: int = 20) -> int:
        """Deliver the outbox rows that are due; returns how many were delivered.

        Each row is leased with a conditional UPDATE, so replicas running this
        at once never deliver the same ticket twice. A delivered ticket gets a
        ``created`` event with its number.

        Args:
            now: the time to compare ``next_attempt_at`` with (tests).
            limit: rows to take in one run.
        """
        now = now or _now()
        table = ticket_outbox
        due = (
            sa.select(table.c.idempotency_key)
            .where(table.c.status == "pending")
            .where(table.c.next_attempt_at <= now)
            .where(sa.or_(table.c.lease_until.is_(None), table.c.lease_until <= now))
            .order_by(table.c.created_at)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            keys = list((await conn.execute(due)).scalars())

        delivered = 0
        for key in keys:
            if not await self._claim(key, now=now):
                continue  # another replica took it
            row = await self._row(key=key)
            if row is None:
                continue
            try:
                record = await self._attempt(row, budget_s=4 * self._timeout)
            except Exception:
                # The lease runs out and another run tries again; the rest
                # of this run goes on.
                logger.exception("delivery of ticket %s broke", row.reference)
                continue
            if record is None:
                continue
            delivered += 1
            number = _value(record, "number")
            await record_event(
                self._engine,
                TicketEvent(
                    event_id=_event_id(row.key, "created"),
                    kind="created",
                    reference=row.reference,
                    number=number,
                    caller_id=row.draft.caller.object_id,
                    tenant_id=row.draft.caller.tenant_id,
                    conversation_id=row.draft.conversation_id,
                    text=f"Your ticket is now {number} in the service desk.",
                ),
            )
        return delivered

    # -- delivery -----------------------------------------------------------------

    async def _attempt(self, row: _Row, *, budget_s: float) -> dict[str, Any] | None:
        """One delivery of a leased row; settles the row either way."""
        try:
            async with asyncio.timeout(budget_s):
                record = await self._deliver(row)
        except TimeoutError:
            await self._failed(
                row,
                BackendUnavailable(
                    f"ServiceNow did not take {row.reference} within {budget_s:g} s"
                ),
            )
            return None
        except HelpdeskError as exc:
            await self._failed(row, exc)
            return None

        number, sys_id = _value(record, "number"), _value(record, "sys_id")
        await self._delivered(row.key, number, sys_id)
        logger.info("ticket %s delivered as %s", row.reference, number)
        return record

    async def _deliver(self, row: _Row) -> dict[str, Any]:
        """Find the incident made for this key, or make it."""
        draft = row.draft
        correlation = _correlation(draft.idempotency_key, row.reference)
        found = await self._call(
            "GET",
            _INCIDENTS,
            params={
                **_READ,
                "sysparm_query": f"correlation_id={correlation}",
                "sysparm_limit": "1",
            },
        )
        if records := _records(found):
            logger.info("ticket %s was already in ServiceNow", draft.idempotency_key)
            return records[0]

        body = await self._incident_body(draft, correlation)
        return _record(
            await self._call("POST", _INCIDENTS, params=_READ, json_body=body)
        )

    async def _incident_body(
        self, draft: TicketDraft, correlation: str
    ) -> dict[str, str]:
        caller = await self._caller_sys_id(draft.caller.upn)
        category, subcategory = CATEGORY_MAP.get(draft.category, ("inquiry", ""))
        body = {
            "short_description": draft.short_description[:160],
            "description": _description(draft, caller_known=caller is not None),
            "category": category,
            "subcategory": subcategory,
            "urgency": LEVEL_CODES[draft.urgency],
            "impact": LEVEL_CODES[draft.impact],
            "contact_type": CONTACT_TYPE,
            "correlation_id": correlation,
            "correlation_display": "Helpdesk Copilot",
        }
        if caller:
            body["caller_id"] = caller
        wanted = draft.assignment_group or self._settings.servicenow_assignment_group
        if wanted:
            group = await self._lookup("sys_user_group", wanted)
            if group:
                body["assignment_group"] = group
            else:
                logger.error(
                    "ServiceNow has no assignment group %r; new incidents go "
                    "unassigned until HELPDESK_SERVICENOW_ASSIGNMENT_GROUP names "
                    "one (a group name or sys_id)",
                    wanted,
                )
        return body

    async def _caller_sys_id(self, upn: str | None) -> str | None:
        """The caller's ``sys_user``; None (never an error) when not found or
        not readable, so a ticket is never refused over it."""
        if not upn:
            return None
        try:
            return await self._lookup("sys_user", upn)
        except (NotFound, _Refused) as exc:
            logger.warning("caller lookup in ServiceNow failed: %s", exc)
            return None

    async def _lookup(self, table: str, wanted: str) -> str | None:
        """The sys_id of a user (by email or user name) or a group (by name),
        remembered for :data:`LOOKUP_TTL_S`; a sys_id is taken as it is."""
        if re.fullmatch(r"[0-9a-f]{32}", wanted):
            return wanted
        cache_key = (table, wanted.lower())
        cached = self._lookups.get(cache_key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        if _UNSAFE_IN_QUERY.search(wanted):
            return None
        query = (
            f"email={wanted}^ORuser_name={wanted}^active=true"
            if table == "sys_user"
            else f"name={wanted}"
        )
        found = _records(
            await self._call(
                "GET",
                f"/api/now/table/{table}",
                params={
                    "sysparm_query": query,
                    "sysparm_fields": "sys_id",
                    "sysparm_limit": "1",
                },
            )
        )
        sys_id = _value(found[0], "sys_id") if found else None
        self._lookups[cache_key] = (sys_id, time.monotonic() + LOOKUP_TTL_S)
        return sys_id

    # -- reading --------------------------------------------------------------------

    async def _locate(
        self, label: str, *, pending_ok: bool = False
    ) -> tuple[Any, _Row | None]:
        """The incident for a number or a reference, and our outbox row for it.

        Returns ``(None, row)`` for a reference still in the outbox when
        ``pending_ok``; raises ToolError for one otherwise.
        """
        label = label.strip().upper()
        if _REFERENCE.match(label):
            row = await self._row(reference=label)
            if row is None:
                raise _not_found(label)
            if row.status != "delivered" or not row.sys_id:
                if pending_ok:
                    return None, row
                raise ToolError(
                    f"ticket {label} is not in ServiceNow yet (outbox: {row.status})",
                    user_message=_PENDING.format(reference=label),
                )
            record = await self._call("GET", f"{_INCIDENTS}/{row.sys_id}", params=_READ)
            return _record(record), row
        if not _NUMBER.match(label):
            raise _not_found(label)
        found = _records(
            await self._call(
                "GET",
                _INCIDENTS,
                params={
                    **_READ,
                    "sysparm_query": f"number={label}",
                    "sysparm_limit": "1",
                },
            )
        )
        if not found:
            raise _not_found(label)
        return found[0], await self._row(number=label)

    async def _full(
        self, record: dict[str, Any], row: _Row | None, *, work_notes: bool = False
    ) -> Ticket:
        comments = await self._comments(_value(record, "sys_id"), work_notes=work_notes)
        return self._ticket(record, row, comments)

    async def _comments(self, sys_id: str, *, work_notes: bool) -> list[TicketComment]:
        """The incident's journal: comments, and work notes when asked."""
        if not self._journal_readable:
            return []
        elements = "elementINcomments,work_notes" if work_notes else "element=comments"
        try:
            rows = await self._call(
                "GET",
                "/api/now/table/sys_journal_field",
                params={
                    "sysparm_query": f"element_id={sys_id}^{elements}"
                    "^ORDERBYsys_created_on",
                    "sysparm_fields": "sys_created_on,sys_created_by,element,value",
                },
            )
        except _Refused as exc:
            self._journal_readable = False
            logger.warning(
                "cannot read comments from ServiceNow (%s); give the integration "
                "user read access to sys_journal_field",
                exc,
            )
            return []
        comments = []
        for entry in _records(rows):
            text = _value(entry, "value")
            author = _value(entry, "sys_created_by")
            from_caller = False
            header = _COMMENT_HEADER.match(text) if self._ours(author) else None
            if header:
                author, text = header.group("name"), header.group("body")
                from_caller = header.group("teams") is not None
            comments.append(
                TicketComment(
                    author=author,
                    body=text,
                    at=_parse_time(_value(entry, "sys_created_on")) or _now(),
                    work_note=_value(entry, "element") == "work_notes",
                    from_caller=from_caller,
                )
            )
        return comments

    def _ours(self, writer: str) -> bool:
        """Whether a journal entry may have been written here: by the basic-auth
        user, or by anyone with OAuth (whose user this side does not know)."""
        return self._oauth or writer == self._settings.servicenow_user

    def _ticket(
        self, record: dict[str, Any], row: _Row | None, comments: list[TicketComment]
    ) -> Ticket:
        """A ticket from an incident read with ``sysparm_display_value=all``."""
        number = _value(record, "number")
        sys_id = _value(record, "sys_id")
        if row is not None:
            caller = row.draft.caller
            if not caller.name and _display(record, "caller_id"):
                caller = replace(caller, name=_display(record, "caller_id"))
        else:
            # Not made here: the ServiceNow user stands in for the Entra one.
            caller = Caller(
                object_id=_value(record, "caller_id"),
                tenant_id="",
                upn=_value(record, "caller_id.email") or None,
                name=_display(record, "caller_id") or None,
            )
        urgency = _LEVELS_BY_CODE.get(_value(record, "urgency"), "medium")
        impact = _LEVELS_BY_CODE.get(_value(record, "impact"), "low")
        try:
            priority = int(_value(record, "priority"))
        except ValueError:
            priority = priority_of(urgency, impact)
        return Ticket(
            reference=row.reference if row else number,
            number=number,
            state=_STATES_BY_CODE.get(_value(record, "state"), "in_progress"),
            short_description=_value(record, "short_description"),
            caller=caller,
            category=_category(
                _value(record, "category"), _value(record, "subcategory")
            )
            if row is None
            else row.draft.category,
            urgency=urgency,
            impact=impact,
            priority=priority,
            description=_value(record, "description"),
            service=_display(record, "cmdb_ci") or (row.draft.service if row else None),
            assignment_group=_display(record, "assignment_group") or None,
            assigned_to=_display(record, "assigned_to") or None,
            created_at=_parse_time(_value(record, "sys_created_on")),
            updated_at=_parse_time(_value(record, "sys_updated_on")),
            sla_due_at=_parse_time(_value(record, "sla_due")),
            resolution_note=_value(record, "close_notes") or None,
            comments=comments,
            pending=False,
            url=f"{self._base}/nav_to.do?uri=incident.do?sys_id={sys_id}",
        )

    def _delivered_ticket(self, row: _Row) -> Ticket:
        """A delivered row as a ticket, without asking ServiceNow (a repeat create)."""
        return replace(
            _pending_ticket(row),
            number=row.number,
            pending=False,
            url=f"{self._base}/nav_to.do?uri=incident.do?sys_id={row.sys_id}",
        )

    async def _record_change(
        self,
        row: _Row | None,
        record: dict[str, Any],
        parts: dict[str, EventKind],
        *,
        told: str | None,
        text: str,
        author: str,
    ) -> None:
        """Record the events of one change made here, when the ticket is ours.

        ServiceNow's business rule (``infra/servicenow/business_rule.js``)
        reports a change as one event per part that changed: ``c`` for a
        comment, ``s`` for the state, with the id
        ``{sys_id}:{sys_mod_count}:{part}``, which the ITSM webhook stores
        with ``itsm:`` in front. Each part of a change made here is recorded
        under that same id: the part the caller is told of (``told``) as news,
        the others muted. The rule's report of the change is then a replay
        (409), so the caller hears of it once, and not at all when they made
        it, even where the rule does not skip the integration user's changes.

        Args:
            row: our outbox row of the ticket; None (not raised here) records
                nothing.
            record: the incident as ServiceNow answered the change.
            parts: the parts that changed, each with the event kind the rule
                would report.
            told: the part that is news for the caller, or None.
            text: the news, in words for the caller.
            author: who made the change.

        Warning:
            The rule posts asynchronously, normally well after ServiceNow has
            answered the update. Should its report still reach the bot before
            this records the change, the report is the one kept: the caller
            hears of the change once, but also of one they made themselves
            when ``x_helpdesk.integration_user`` is not set.
        """
        if row is None:
            return
        sys_id = _value(record, "sys_id")
        number = _value(record, "number")
        count = _value(record, "sys_mod_count")
        for part, kind in parts.items():
            event_id = _change_id(sys_id, count, part)
            if event_id is None:
                if part != told:
                    continue  # no id to recognise a report by
                # Without a modification count no report can be matched; a
                # unique id still delivers the news.
                stamp = int(_now().timestamp() * 1_000_000)
                event_id = f"{number}:{kind}:{stamp}"
            await record_event(
                self._engine,
                TicketEvent(
                    event_id=event_id,
                    kind=kind,
                    reference=row.reference,
                    number=number,
                    caller_id=row.draft.caller.object_id,
                    tenant_id=row.draft.caller.tenant_id,
                    conversation_id=row.draft.conversation_id,
                    text=text,
                    author=author,
                ),
                muted=part != told,
            )

    # -- HTTP ---------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        """One Table or Attachment API call; returns ``result``.

        With OAuth, a 401 drops the token and the call is tried once more
        with a new one.
        """
        request = (method, path, params, json_body, content, content_type)
        response = await self._send(*request)
        if response.status_code == 401 and self._oauth:
            self._token = None
            response = await self._send(*request)
        if response.status_code >= 400:
            raise self._failure(method, path, response)

        transaction = response.headers.get("X-Transaction-ID")
        try:
            body = response.json()
        except ValueError as exc:
            raise BackendUnavailable(
                f"ServiceNow answered {method} {path} with a body that is not JSON "
                f"(transaction {transaction})",
                user_message=_BUSY,
                request_id=transaction,
            ) from exc
        if not isinstance(body, dict) or "result" not in body:
            raise BackendUnavailable(
                f"ServiceNow answered {method} {path} without a result "
                f"(transaction {transaction})",
                user_message=_BUSY,
                request_id=transaction,
            )
        return body["result"]

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json_body: dict[str, Any] | None,
        content: bytes | None,
        content_type: str | None,
    ) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        auth: httpx.Auth | None = None
        if self._oauth:
            headers["Authorization"] = f"Bearer {await self._access_token()}"
        else:
            password = self._settings.servicenow_password
            auth = httpx.BasicAuth(
                self._settings.servicenow_user or "",
                password.get_secret_value() if password else "",
            )

        started = time.monotonic()
        try:
            response = await self._http.request(
                method,
                self._base + path,
                params=params,
                json=json_body,
                content=content,
                headers=headers,
                auth=auth,
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            logger.warning(
                "servicenow %s %s: no answer within %g s", method, path, self._timeout
            )
            raise BackendUnavailable(
                f"ServiceNow did not answer {method} {path} within {self._timeout:g} s "
                "(HELPDESK_SERVICENOW_TIMEOUT_S)",
                user_message=_BUSY,
            ) from exc
        except httpx.TransportError as exc:
            logger.warning("servicenow %s %s: %s", method, path, type(exc).__name__)
            raise BackendUnavailable(
                f"cannot reach ServiceNow at {self._base} ({type(exc).__name__}); "
                "check HELPDESK_SERVICENOW_URL and the network",
                user_message=_BUSY,
            ) from exc
        logger.info(
            "servicenow %s %s -> %d in %.0f ms (transaction %s)",
            method,
            path,
            response.status_code,
            (time.monotonic() - started) * 1000,
            response.headers.get("X-Transaction-ID"),
        )
        return response

    async def _access_token(self) -> str:
        """An OAuth token from ``/oauth_token.do``, reused until shortly before
        it expires."""
        async with self._token_lock:
            if self._token and time.monotonic() < self._token_until:
                return self._token
            secret = self._settings.servicenow_client_secret
            form = {
                "grant_type": "client_credentials",
                "client_id": self._settings.servicenow_client_id or "",
                "client_secret": secret.get_secret_value() if secret else "",
            }
            started = time.monotonic()
            try:
                response = await self._http.post(
                    f"{self._base}/oauth_token.do",
                    data=form,
                    headers={"Accept": "application/json"},
                    timeout=self._timeout,
                )
            except httpx.TimeoutException as exc:
                raise BackendUnavailable(
                    f"ServiceNow's token endpoint did not answer within "
                    f"{self._timeout:g} s",
                    user_message=_BUSY,
                ) from exc
            except httpx.TransportError as exc:
                raise BackendUnavailable(
                    f"cannot reach ServiceNow at {self._base} ({type(exc).__name__}); "
                    "check HELPDESK_SERVICENOW_URL and the network",
                    user_message=_BUSY,
                ) from exc
            logger.info(
                "servicenow POST /oauth_token.do -> %d in %.0f ms",
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
            if response.status_code in (400, 401, 403):
                error = _AuthRefused(
                    f"ServiceNow refused the OAuth client credentials "
                    f"({response.status_code}); check HELPDESK_SERVICENOW_CLIENT_ID "
                    "and HELPDESK_SERVICENOW_CLIENT_SECRET, and that the OAuth "
                    "application allows the client_credentials grant",
                    user_message=_BUSY,
                )
                logger.error("%s", error)
                raise error
            if response.status_code >= 400:
                raise BackendUnavailable(
                    f"ServiceNow's token endpoint answered {response.status_code}",
                    user_message=_BUSY,
                    retry_after=_retry_after(response),
                )
            try:
                body = response.json()
                token = str(body["access_token"])
                lifetime = float(body.get("expires_in") or 1800)
            except (ValueError, KeyError, TypeError) as exc:
                raise BackendUnavailable(
                    "ServiceNow's token endpoint answered without an access token",
                    user_message=_BUSY,
                ) from exc
            self._token = token
            self._token_until = (
                time.monotonic() + lifetime - min(TOKEN_MARGIN_S, lifetime / 2)
            )
            return token

    def _failure(
        self, method: str, path: str, response: httpx.Response
    ) -> HelpdeskError:
        """ServiceNow's error answer as the product's error, with its transaction id."""
        status = response.status_code
        transaction = response.headers.get("X-Transaction-ID")
        message, detail = _error_text(response)
        what = f"ServiceNow answered {method} {path} with {status} {message}".rstrip()
        if detail:
            what += f": {detail}"
        what += f" (transaction {transaction})"

        error: HelpdeskError
        if status == 404:
            error = NotFound(what, user_message="I could not find that ticket.")
        elif status == 429 or status >= 500:
            error = BackendUnavailable(
                what,
                user_message=_BUSY,
                retry_after=_retry_after(response),
                request_id=transaction,
            )
        elif status == 401:
            error = _AuthRefused(
                f"{what}; check {self._credential_settings}",
                user_message=_BUSY,
                request_id=transaction,
            )
            logger.error("%s", error)
        elif status == 403:
            error = _Refused(
                f"{what}; the integration user may lack a role (itil) or an ACL "
                "refuses the change",
                status=status,
                user_message="The service desk refused that change.",
            )
        else:
            error = _Refused(
                what,
                status=status,
                user_message="The service desk refused that request.",
            )
        error.request_id = transaction
        return error

    @property
    def _credential_settings(self) -> str:
        if self._oauth:
            return "HELPDESK_SERVICENOW_CLIENT_ID and HELPDESK_SERVICENOW_CLIENT_SECRET"
        return "HELPDESK_SERVICENOW_USER and HELPDESK_SERVICENOW_PASSWORD"

    # -- the outbox table -------------------------------------------------------

    async def _enqueue(self, draft: TicketDraft) -> tuple[_Row, bool]:
        """Insert the draft's row unless its key is there; True when inserted.

        A fresh row is inserted already leased, so the immediate delivery
        owns it.
        """
        now = _now()
        caller = draft.caller
        values = {
            "idempotency_key": draft.idempotency_key,
            "tenant_id": caller.tenant_id,
            "caller_id": caller.object_id,
            "caller_upn": caller.upn,
            "conversation_id": draft.conversation_id,
            "short_description": draft.short_description[:200],
            "payload": json.dumps(_draft_json(draft), sort_keys=True),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "lease_until": now + self._lease,
            "created_at": now,
        }
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        for length in (6, 8, 10):
            statement = (
                dialect.insert(ticket_outbox)
                .values(**values, reference=_reference(draft.idempotency_key, length))
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
            )
            try:
                async with self._engine.begin() as conn:
                    result = await conn.execute(statement)
            except IntegrityError:
                continue  # another key has this reference: take a longer one
            row = await self._row(key=draft.idempotency_key)
            assert row is not None
            return row, int(result.rowcount or 0) == 1
        raise ToolError(f"no free reference for ticket key {draft.idempotency_key!r}")

    async def _claim(self, key: str, *, now: datetime | None = None) -> bool:
        """Lease a due pending row; False when it is not due or another has it."""
        now = now or _now()
        table = ticket_outbox
        statement = (
            table.update()
            .where(table.c.idempotency_key == key)
            .where(table.c.status == "pending")
            .where(table.c.next_attempt_at <= now)
            .where(sa.or_(table.c.lease_until.is_(None), table.c.lease_until <= now))
            .values(lease_until=now + self._lease)
        )
        async with self._engine.begin() as conn:
            return int((await conn.execute(statement)).rowcount or 0) == 1

    async def _delivered(self, key: str, number: str, sys_id: str) -> None:
        table = ticket_outbox
        async with self._engine.begin() as conn:
            await conn.execute(
                table.update()
                .where(table.c.idempotency_key == key)
                .values(
                    status="delivered",
                    number=number,
                    sys_id=sys_id,
                    delivered_at=_now(),
                    lease_until=None,
                    last_error=None,
                    attempts=table.c.attempts + 1,
                )
            )

    async def _failed(self, row: _Row, error: HelpdeskError) -> None:
        """Settle a failed delivery: retry with backoff, wait long for an
        operator, or give up after ``outbox_max_attempts``."""
        settings = self._settings
        attempts = row.attempts + 1
        operator = isinstance(error, (_AuthRefused, _Refused, NotFound))
        cap = settings.outbox_backoff_max_s
        values: dict[str, Any] = {
            "attempts": attempts,
            "lease_until": None,
            "last_error": str(error)[:2000],
        }
        if attempts >= settings.outbox_max_attempts:
            values["status"] = "failed"
            logger.error(
                "ticket %s was not delivered to ServiceNow after %d attempts and "
                "needs an operator; last error: %s",
                row.reference,
                attempts,
                error,
            )
        elif operator:
            values["next_attempt_at"] = _now() + timedelta(seconds=cap)
            logger.error(
                "ServiceNow refused ticket %s (attempt %d), next try in %g s: %s%s",
                row.reference,
                attempts,
                cap,
                error,
                _operator_hint(error),
            )
        else:
            wait = backoff(attempts, cap_s=cap)
            retry_after = getattr(error, "retry_after", None)
            if retry_after:
                wait = max(wait, timedelta(seconds=min(float(retry_after), 86400.0)))
            values["next_attempt_at"] = _now() + wait
            logger.warning(
                "ticket %s kept in the outbox (attempt %d), next try in %.0f s: %s",
                row.reference,
                attempts,
                wait.total_seconds(),
                error,
            )
        table = ticket_outbox
        async with self._engine.begin() as conn:
            await conn.execute(
                table.update()
                .where(table.c.idempotency_key == row.key)
                .where(table.c.status == "pending")
                .values(**values)
            )

    async def _row(
        self,
        *,
        key: str | None = None,
        reference: str | None = None,
        number: str | None = None,
    ) -> _Row | None:
        table = ticket_outbox
        query = table.select()
        if key is not None:
            query = query.where(table.c.idempotency_key == key)
        elif reference is not None:
            query = query.where(table.c.reference == reference)
        else:
            query = query.where(table.c.number == number)
        async with self._engine.connect() as conn:
            found = (await conn.execute(query.limit(1))).first()
        return _row(found) if found is not None else None

    async def _caller_rows(self, caller_id: str) -> list[_Row]:
        table = ticket_outbox
        query = (
            table.select()
            .where(table.c.caller_id == caller_id)
            .order_by(table.c.created_at.desc())
            .limit(200)
        )
        async with self._engine.connect() as conn:
            return [_row(r) for r in (await conn.execute(query)).all()]


# -- helpers ------------------------------------------------------------------------


def _redacted(draft: TicketDraft) -> TicketDraft:
    """The draft with every free text redacted again; links built by the
    product keep their https address (redaction would mangle the ids in it)."""
    return replace(
        draft,
        short_description=redact(draft.short_description),
        description=redact(draft.description),
        service=redact(draft.service) if draft.service else None,
        transcript=redact(draft.transcript),
        tried=[redact(t) for t in draft.tried],
        links=[
            (redact(label), url if url.startswith("https://") else redact(url))
            for label, url in draft.links
        ],
    )


def _description(draft: TicketDraft, *, caller_known: bool) -> str:
    """The incident's description: caller (when not linked), summary, service,
    what was tried, the conversation (cut from the start to fit) and links."""
    head: list[str] = []
    caller = draft.caller
    if not caller_known:
        who = caller.name or "unknown"
        head.append(f"Caller: {who} <{caller.upn}>" if caller.upn else f"Caller: {who}")
        head.append("")
    head.append(draft.description.strip())
    if draft.service:
        head += ["", f"Affected service: {draft.service}"]
    if draft.tried:
        head += ["", "What the copilot already tried:"]
        head += [f"- {t}" for t in draft.tried]
    tail: list[str] = []
    if draft.links:
        tail += ["", "Links:"]
        tail += [f"- {label}: {url}" for label, url in draft.links]

    before, after = "\n".join(head), "\n".join(tail)
    transcript = draft.transcript.strip()
    if not transcript:
        return (before + after)[:DESCRIPTION_MAX]
    room = DESCRIPTION_MAX - len(before) - len(after) - len("\n\nConversation:\n")
    if len(transcript) > room:
        marker = "[earlier messages cut]\n"
        transcript = marker + transcript[len(transcript) - max(0, room - len(marker)) :]
    return (before + "\n\nConversation:\n" + transcript + after)[:DESCRIPTION_MAX]


def _draft_json(draft: TicketDraft) -> dict[str, Any]:
    caller = draft.caller
    return {
        "idempotency_key": draft.idempotency_key,
        "caller": {
            "object_id": caller.object_id,
            "tenant_id": caller.tenant_id,
            "upn": caller.upn,
            "name": caller.name,
        },
        "short_description": draft.short_description,
        "description": draft.description,
        "category": draft.category,
        "urgency": draft.urgency,
        "impact": draft.impact,
        "service": draft.service,
        "transcript": draft.transcript,
        "tried": list(draft.tried),
        "links": [list(link) for link in draft.links],
        "conversation_id": draft.conversation_id,
        "assignment_group": draft.assignment_group,
    }


def _draft_from_json(data: dict[str, Any]) -> TicketDraft:
    return TicketDraft(
        idempotency_key=data["idempotency_key"],
        caller=Caller(**data["caller"]),
        short_description=data["short_description"],
        description=data["description"],
        category=data.get("category", "other"),
        urgency=data.get("urgency", "medium"),
        impact=data.get("impact", "low"),
        service=data.get("service"),
        transcript=data.get("transcript", ""),
        tried=list(data.get("tried", [])),
        links=[(str(a), str(b)) for a, b in data.get("links", [])],
        conversation_id=data.get("conversation_id"),
        assignment_group=data.get("assignment_group"),
    )


def _row(found: Any) -> _Row:
    return _Row(
        key=found.idempotency_key,
        reference=found.reference,
        status=found.status,
        draft=_draft_from_json(json.loads(found.payload)),
        number=found.number,
        sys_id=found.sys_id,
        attempts=int(found.attempts),
        created_at=as_utc(found.created_at),
    )


def _pending_ticket(row: _Row) -> Ticket:
    """A ticket still in the outbox, as the employee knows it."""
    draft = row.draft
    return Ticket(
        reference=row.reference,
        number=None,
        state="new",
        short_description=draft.short_description,
        caller=draft.caller,
        category=draft.category,
        urgency=draft.urgency,
        impact=draft.impact,
        priority=draft.priority,
        description=draft.description,
        service=draft.service,
        created_at=row.created_at,
        updated_at=row.created_at,
        pending=True,
    )


def _newest(tickets: list[Ticket], limit: int) -> list[Ticket]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(
        tickets,
        key=lambda t: (t.created_at or epoch, t.number or t.reference),
        reverse=True,
    )[:limit]


def _reference(key: str, length: int = 6) -> str:
    digest = hashlib.sha256(key.encode()).digest()
    return "HD-" + base64.b32encode(digest).decode()[:length]


def _correlation(key: str, reference: str) -> str:
    """The idempotency key as ``correlation_id`` when it fits and cannot break
    an encoded query, else the reference (as unique, and also what the ITSM
    webhook looks tickets up by)."""
    if len(key) <= CORRELATION_MAX and not _UNSAFE_IN_QUERY.search(key):
        return key
    return reference


def _move_kind(before: TicketState, state: TicketState) -> EventKind | None:
    """The event a move from ``before`` to ``state`` is, as the rule names it."""
    if state == before:
        return None
    if state in ("resolved", "closed"):
        return "resolved" if state == "resolved" else "closed"
    if before in ("resolved", "closed"):
        return "reopened"
    return "state_changed"


def _is_caller(row: _Row | None, by: str) -> bool:
    """Whether ``by`` (an object id, a UPN or a technician's name) is the caller."""
    if row is None:
        return False
    who = by.strip().casefold()
    caller = row.draft.caller
    return bool(who) and who in {
        v.casefold() for v in (caller.object_id, caller.upn) if v
    }


def _change_id(sys_id: str, count: str, part: str) -> str | None:
    """``itsm:{sys_id}:{sys_mod_count}:{part}``, the id the webhook stores the
    business rule's report of the same change under; None without a count."""
    if not sys_id or not count.isdecimal():
        return None
    return f"itsm:{sys_id}:{count}:{part}"


def _event_id(key: str, kind: str) -> str:
    event_id = f"{key}:{kind}"
    if len(event_id) <= 128:
        return event_id
    return f"{hashlib.sha256(key.encode()).hexdigest()}:{kind}"


def _category(category: str, subcategory: str) -> str:
    if subcategory == "email":
        return "email"
    if category in ("hardware", "software", "network"):
        return category
    if category == "database":
        return "software"
    return "other"


def _records(result: Any) -> list[dict[str, Any]]:
    if isinstance(result, list):
        return [r for r in result if isinstance(r, dict)]
    if isinstance(result, dict):
        return [result]
    return []


def _record(result: Any) -> dict[str, Any]:
    records = _records(result)
    if not records:
        raise BackendUnavailable(
            "ServiceNow answered without the record", user_message=_BUSY
        )
    return records[0]


def _value(record: dict[str, Any], name: str) -> str:
    """A field's value, whatever ``sysparm_display_value`` shaped it as."""
    raw = record.get(name)
    if isinstance(raw, dict):
        raw = raw.get("value", "")
    return "" if raw is None else str(raw)


def _display(record: dict[str, Any], name: str) -> str:
    raw = record.get(name)
    if isinstance(raw, dict):
        raw = raw.get("display_value", "")
    return "" if raw is None else str(raw)


def _parse_time(text: str) -> datetime | None:
    """ServiceNow's ``YYYY-MM-DD HH:MM:SS`` (UTC in values) as an aware datetime."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("message") or ""), " ".join(
        str(error.get("detail") or "").split()
    )


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), when given."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - _now()).total_seconds())


def _operator_hint(error: HelpdeskError) -> str:
    """What an operator should check for a refused create, beyond the error."""
    if isinstance(error, _AuthRefused):
        return ""  # the error names the credential settings already
    if isinstance(error, _Refused) and error.status == 403:
        return (
            "; give the integration user (HELPDESK_SERVICENOW_USER, or the OAuth "
            "application's user) the itil role"
        )
    return (
        "; check HELPDESK_SERVICENOW_ASSIGNMENT_GROUP and the instance's "
        "mandatory incident fields"
    )


def _not_found(label: str) -> NotFound:
    return NotFound(
        f"no ServiceNow ticket {label!r}",
        user_message=f"I could not find a ticket {label}. Ticket numbers look "
        "like INC0010001, references like HD-AB12CD.",
    )


def _now() -> datetime:
    return datetime.now(UTC)
