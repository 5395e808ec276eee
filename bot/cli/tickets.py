"""``helpdesk tickets``: support staff work the service desk's queue from a terminal.

``list`` shows the queue, ``show`` one ticket with everything the copilot
handed over (transcript, what was tried, links, work notes), and ``assign``,
``comment``, ``hold``, ``resolve``, ``reopen`` and ``close`` change it. The
employee hears about comments, questions and resolutions in Teams.

Exit codes follow ``helpdesk``: 2 for a wrong argument, an unknown ticket or
a move the desk refuses; 1 when the database cannot be reached.

Everything printed from a ticket goes through :func:`tools.text.printable`:
a field that holds a terminal escape (``ESC [2J``, an OSC 52 clipboard write)
or a right-to-left override shows it as ``\\x1b[2J`` or ``\\u202e`` instead of
obeying it, including rows stored before tickets were cleaned on the way in.
``--json`` escapes them as JSON does.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TypeVar

from tools.db import create_engine, upgrade
from tools.errors import ConfigError, InvalidInput, NotFound, ToolError
from tools.settings import Settings
from tools.text import printable
from tools.tickets.base import PRIORITY_LABELS, STATE_LABELS, Ticket, TicketState
from tools.tickets.embedded import EmbeddedTickets, TicketDetails
from tools.tickets.health import OutboxRow, outbox_rows, retry_failed

T = TypeVar("T")
_Command = Callable[[argparse.Namespace, Settings], int]

_DESCRIPTION_WIDTH = 60
_FALLBACK_STAFF = "support"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``helpdesk tickets`` and its sub-commands."""
    parser = subparsers.add_parser(
        "tickets", help="list, show and work service desk tickets (support staff)"
    )
    # Logs go to the data folder's log file: the terminal shows only results.
    parser.set_defaults(quiet_logs=True)
    commands = parser.add_subparsers(dest="tickets_command", required=True)

    listing = commands.add_parser("list", help="the queue, newest first")
    listing.add_argument(
        "--all",
        action="store_true",
        dest="everything",
        help="include resolved and closed tickets",
    )
    listing.add_argument("--group", help="only this assignment group")
    listing.add_argument("--caller", help="only this employee (UPN or object id)")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_refusals_exit_2(_list))

    show = commands.add_parser("show", help="one ticket with comments and context")
    show.add_argument("number", help="e.g. INC0001001, or just 1001")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=_refusals_exit_2(_show))

    assign = _change(commands, "assign", "give a ticket to a group and/or a person")
    assign.add_argument("--group", help="assignment group, e.g. 'Network'")
    assign.add_argument("--to", dest="assignee", help="the person who works it")
    assign.set_defaults(func=_refusals_exit_2(_assign))

    comment = _change(commands, "comment", "write to the employee (or a work note)")
    comment.add_argument("text", help="the comment")
    comment.add_argument(
        "--work-note",
        action="store_true",
        help="for staff only: the employee never sees it",
    )
    comment.set_defaults(func=_refusals_exit_2(_comment))

    resolve = _change(commands, "resolve", "resolve; the employee is told how")
    resolve.add_argument("--note", required=True, help="how it was resolved")
    resolve.set_defaults(func=_refusals_exit_2(_resolve))

    hold = _change(commands, "hold", "put on hold with a question to the employee")
    hold.add_argument("--question", required=True, help="what the employee must answer")
    hold.set_defaults(func=_refusals_exit_2(_hold))

    reopen = _change(commands, "reopen", "reopen a resolved ticket (in progress)")
    reopen.add_argument("--note", default="", help="why it is reopened")
    reopen.set_defaults(func=_refusals_exit_2(_reopen))

    outbox = commands.add_parser(
        "outbox", help="tickets waiting to reach ServiceNow, and failed ones"
    )
    outbox.add_argument(
        "--all", action="store_true", dest="everything", help="delivered ones too"
    )
    outbox.add_argument(
        "--retry", metavar="REFERENCE", help="queue one failed ticket again"
    )
    outbox.add_argument(
        "--retry-failed", action="store_true", help="queue every failed ticket again"
    )
    outbox.set_defaults(func=_refusals_exit_2(_outbox))

    close = _change(commands, "close", "close for good (a closed ticket is final)")
    close.add_argument("--note", default="", help="why, for the employee")
    close.set_defaults(func=_refusals_exit_2(_close))


def _change(
    commands: argparse._SubParsersAction, name: str, help_text: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
    parser.add_argument("number", help="e.g. INC0001001, or just 1001")
    parser.add_argument(
        "--as",
        dest="staff",
        help="your name as the employee sees it (default: your login name)",
    )
    return parser


# -- commands ------------------------------------------------------------------


def _list(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.limit <= 500:
        return _fail("--limit must be 1 to 500")
    caller = (args.caller or "").strip()
    by_upn = "@" in caller

    async def run(desk: EmbeddedTickets) -> list[Ticket]:
        return await desk.alist(
            caller_id=caller if caller and not by_upn else None,
            caller_upn=caller if by_upn else None,
            open_only=not args.everything,
            group=args.group,
            limit=args.limit,
        )

    found = _with_desk(settings, run)
    if args.json:
        print(json.dumps([_json(t) for t in found], indent=2, default=_iso))
    elif not found:
        print("No tickets match." if args.everything else "No open tickets match.")
    else:
        print(format_table(found))
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    async def run(desk: EmbeddedTickets) -> TicketDetails:
        return await desk.adetails(args.number)

    details = _with_desk(settings, run)
    if args.json:
        data = asdict(details)
        data["ticket"] = _json(details.ticket)
        print(json.dumps(data, indent=2, default=_iso))
    else:
        print(format_details(details))
    return 0


def _assign(args: argparse.Namespace, settings: Settings) -> int:
    if not (args.group or "").strip() and not (args.assignee or "").strip():
        return _fail("assign needs --group, --to, or both")

    async def run(desk: EmbeddedTickets) -> Ticket:
        return await desk.aassign(
            args.number, group=args.group, assignee=args.assignee, by=_staff(args)
        )

    ticket = _with_desk(settings, run)
    whom = " / ".join(x for x in (ticket.assignment_group, ticket.assigned_to) if x)
    print(_cell(f"{ticket.label} assigned to {whom}; {STATE_LABELS[ticket.state]}."))
    return 0


def _comment(args: argparse.Namespace, settings: Settings) -> int:
    async def run(desk: EmbeddedTickets) -> Ticket:
        return await desk.acomment(
            args.number,
            args.text,
            author=_staff(args),
            from_caller=False,
            work_note=args.work_note,
        )

    ticket = _with_desk(settings, run)
    if args.work_note:
        print(f"Work note added to {ticket.label} (staff only).")
    else:
        print(f"Comment added to {ticket.label}; the employee will see it in Teams.")
    return 0


def _resolve(args: argparse.Namespace, settings: Settings) -> int:
    return _move(
        args,
        settings,
        "resolved",
        args.note,
        "resolved; the employee will be asked in Teams whether it is fixed",
    )


def _hold(args: argparse.Namespace, settings: Settings) -> int:
    if not args.question.strip():
        return _fail("--question must say what the employee should answer")
    return _move(
        args,
        settings,
        "on_hold",
        args.question,
        "on hold; the question goes to the employee in Teams",
    )


def _reopen(args: argparse.Namespace, settings: Settings) -> int:
    return _move(args, settings, "in_progress", args.note, "reopened (in progress)")


def _close(args: argparse.Namespace, settings: Settings) -> int:
    return _move(args, settings, "closed", args.note, "closed")


def _move(
    args: argparse.Namespace,
    settings: Settings,
    state: TicketState,
    note: str,
    done: str,
) -> int:
    async def run(desk: EmbeddedTickets) -> str:
        before = await desk.aget(args.number)
        label = before.label
        if state == "in_progress" and before.is_open:
            current = STATE_LABELS[before.state]
            return f"{label} is still open ({current}); nothing to reopen."
        if state == "on_hold" and before.state == "on_hold":
            # Already waiting: a further question is a comment, which the
            # employee is asked as a question too.
            await desk.acomment(label, note, author=_staff(args), from_caller=False)
            return f"{label} is already on hold; the question goes to the employee."
        if before.state == state:
            return f"{label} is already {STATE_LABELS[state].lower()}; nothing changed."
        await desk.aset_state(label, state, by=_staff(args), note=note)
        return f"{label} {done}."

    print(_cell(_with_desk(settings, run)))
    return 0


# -- the desk ------------------------------------------------------------------


def _refusals_exit_2(command: _Command) -> _Command:
    """An unknown ticket, a bad argument or a refused move: one line, exit 2."""

    @functools.wraps(command)
    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return command(args, settings)
        except NotFound as exc:
            return _fail(f"{exc}; helpdesk tickets list --all shows the numbers")
        except (InvalidInput, ToolError) as exc:
            return _fail(str(exc))

    return run


def _outbox(args: argparse.Namespace, settings: Settings) -> int:
    """Tickets on their way to ServiceNow, and the failed ones put back."""

    async def run() -> tuple[int, list[OutboxRow]]:
        settings.prepare_data_dir()
        engine = create_engine(settings)
        try:
            await upgrade(engine)
            retried = 0
            if args.retry or args.retry_failed:
                retried = await retry_failed(engine, args.retry)
            rows = await outbox_rows(engine, everything=args.everything)
        finally:
            await engine.dispose()
        return retried, rows

    retried, rows = asyncio.run(run())
    if args.retry and not retried:
        return _fail(f"{args.retry} is not a failed delivery (see the list)")
    if retried:
        print(f"{retried} ticket(s) queued again; the bot delivers them within seconds")
    if not rows:
        print("The outbox is empty: every ticket reached ServiceNow.")
        return 0
    for row in rows:
        where = (
            row.number or f"attempt {row.attempts}, next {_when(row.next_attempt_at)}"
        )
        print(
            f"{row.reference}  {row.status:<9}  {where}  "
            f"{_cut(_text(row.short_description), 50)}"
        )
        if row.last_error and row.status != "delivered":
            print(f"    last error: {_cut(_text(row.last_error), 120)}")
    return 0


def _with_desk(settings: Settings, run: Callable[[EmbeddedTickets], Awaitable[T]]) -> T:
    """Open the app database, run ``run`` on the desk, and close it again."""
    if settings.ticket_backend != "embedded":
        # TODO(servicenow): open the configured backend once it can be built
        # here; until then ServiceNow tickets are worked in ServiceNow.
        raise ConfigError(
            "helpdesk tickets works the embedded service desk, but "
            "HELPDESK_TICKET_BACKEND is servicenow: work these tickets in "
            "ServiceNow, or unset HELPDESK_TICKET_BACKEND"
        )
    return asyncio.run(_open(settings, run))


async def _open(
    settings: Settings, run: Callable[[EmbeddedTickets], Awaitable[T]]
) -> T:
    settings.prepare_data_dir()
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        desk = EmbeddedTickets(engine, settings)
        try:
            return await run(desk)
        finally:
            await desk.aclose()
    finally:
        await engine.dispose()


def _staff(args: argparse.Namespace) -> str:
    if args.staff and args.staff.strip():
        return str(args.staff).strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        # No login name in a bare container: still say who it was, roughly.
        return _FALLBACK_STAFF


def _fail(message: str) -> int:
    print(f"helpdesk tickets: {_cell(message)}", file=sys.stderr)
    return 2


# -- output --------------------------------------------------------------------


def format_table(found: Sequence[Ticket], *, now: datetime | None = None) -> str:
    """The tickets as an aligned text table, one line each."""
    now = now or datetime.now(UTC)
    rows = [
        (
            "NUMBER",
            "STATE",
            "PRI",
            "SLA DUE (UTC)",
            "GROUP",
            "ASSIGNED TO",
            "CALLER",
            "SHORT DESCRIPTION",
        )
    ]
    for t in found:
        rows.append(
            (
                _cell(t.label),
                STATE_LABELS[t.state],
                str(t.priority),
                _due(t, now),
                _cell(t.assignment_group or "-"),
                _cell(t.assigned_to or "-"),
                _cell(t.caller.upn or t.caller.object_id),
                _cut(_cell(t.short_description), _DESCRIPTION_WIDTH),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def format_details(details: TicketDetails, *, now: datetime | None = None) -> str:
    """One ticket, every field and its history, for a technician.

    Single-line fields show a line break as ``\\x0a``; the description, the
    comments and the transcript keep their lines. Nothing else a terminal
    would act on is printed as it is.
    """
    now = now or datetime.now(UTC)
    t = details.ticket
    caller = t.caller
    who = caller.name or caller.upn or caller.object_id
    if caller.upn and caller.upn != who:
        who += f" <{caller.upn}>"
    fields = [
        ("State", STATE_LABELS[t.state]),
        (
            "Priority",
            f"{PRIORITY_LABELS.get(t.priority, t.priority)} "
            f"(urgency {t.urgency}, impact {t.impact})",
        ),
        ("Category", t.category),
        ("Service", t.service or "-"),
        ("Caller", f"{who} ({caller.object_id}, tenant {caller.tenant_id or '-'})"),
        ("Group", t.assignment_group or "-"),
        ("Assigned to", t.assigned_to or "-"),
        ("Opened", _when(t.created_at)),
        ("Updated", _when(t.updated_at)),
        ("SLA due", _due(t, now, utc=True)),
    ]
    if details.resolved_at is not None:
        fields.append(("Resolved", _when(details.resolved_at)))
    if t.resolution_note:
        fields.append(("Resolution", t.resolution_note))
    width = max(len(name) for name, _ in fields)
    lines = [f"{_cell(t.label)}  {_cell(t.short_description)}", ""]
    lines += [f"{name.ljust(width)}  {_cell(str(value))}" for name, value in fields]

    description = [_text(t.description)] if t.description else []
    lines += _section("Description", description)
    lines += _section("Tried", [f"- {_cell(item)}" for item in details.tried])
    lines += _section(
        "Links", [f"{_cell(label)}: {_cell(url)}" for label, url in details.links]
    )
    lines += _section("Comments", _comments(t))
    lines += _section(
        "Attachments",
        [
            f"{_cell(a.name)}  {_cell(a.content_type)}  {_size(a.size)}  {_when(a.at)}"
            for a in details.attachments
        ],
    )
    transcript = [_text(details.transcript)] if details.transcript else []
    lines += _section("Transcript", transcript)
    return "\n".join(lines)


def _comments(t: Ticket) -> list[str]:
    lines: list[str] = []
    for c in t.comments:
        mark = " [work note]" if c.work_note else " (employee)" if c.from_caller else ""
        lines.append(f"{_when(c.at)}  {_cell(c.author)}{mark}")
        lines += [f"  {line}" for line in _text(c.body).splitlines()]
    return lines


def _cell(value: str) -> str:
    """A single-line value as it may be printed: every control escaped."""
    return printable(value, keep="")


def _text(value: str) -> str:
    """A multi-line value as it may be printed: lines and tabs kept, every
    other control escaped (a carriage return too: it would overwrite)."""
    return printable(value, keep="\n\t")


def _section(title: str, body: list[str]) -> list[str]:
    if not body:
        return []
    text = "\n".join(body)
    return ["", title, *(f"  {line}" for line in text.splitlines())]


def _due(t: Ticket, now: datetime, *, utc: bool = False) -> str:
    if t.sla_due_at is None:
        return "-"
    text = _when(t.sla_due_at) if utc else _stamp(t.sla_due_at)
    return text + (" (late)" if t.is_open and t.sla_due_at < now else "")


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _when(at: datetime | None) -> str:
    return f"{_stamp(at)} UTC" if at is not None else "-"


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KB"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _json(ticket: Ticket) -> dict[str, Any]:
    data = asdict(ticket)
    data["state_label"] = STATE_LABELS[ticket.state]
    return data


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
