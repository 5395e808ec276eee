"""``helpdesk audit``: list the audit trail of tool calls with side effects."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, datetime, timedelta

from tools.audit import AUDIT_OUTCOMES, AuditEvent, alist
from tools.db import create_engine, upgrade
from tools.settings import Settings

_AGE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``helpdesk audit``."""
    parser = subparsers.add_parser(
        "audit", help="list who did what to whose account, newest first"
    )
    parser.add_argument(
        "--since", default="7d", help="how far back: 30m, 12h, 7d, 2w (default 7d)"
    )
    parser.add_argument("--user", help="object id of who asked or who was acted on")
    parser.add_argument(
        "--tool", help="only this tool, e.g. issue_temporary_access_pass"
    )
    parser.add_argument("--outcome", choices=AUDIT_OUTCOMES, help="only this outcome")
    parser.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    parser.set_defaults(func=_audit)


MAX_AGE = timedelta(days=3650)
"""The longest window anything looks back over: ten years."""


def parse_age(text: str) -> timedelta:
    """``7d`` → 7 days (``7D`` too).

    Raises:
        ValueError: not a number and m, h, d or w; zero; or past ten years.
            The message names the accepted forms.
    """
    match = _AGE.match(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r}: use a number and m, h, d or w, e.g. 7d")
    digits, unit = match.group(1), match.group(2)
    if len(digits) > 9:  # 999999999 minutes is past the limit already
        raise ValueError(f"{text!r}: at most {MAX_AGE.days}d")
    age = timedelta(**{_UNITS[unit]: int(digits)})
    if not age:
        raise ValueError(f"{text!r}: must be more than zero, e.g. 7d")
    if age > MAX_AGE:
        raise ValueError(f"{text!r}: at most {MAX_AGE.days}d")
    return age


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    try:
        since = datetime.now(UTC) - parse_age(args.since)
    except ValueError as exc:
        print(f"helpdesk audit: --since {exc}", file=sys.stderr)
        return 2
    if args.limit < 1:
        print("helpdesk audit: --limit must be 1 or more", file=sys.stderr)
        return 2
    events = asyncio.run(_events(settings, args, since))
    if not events:
        print("No audit records match.")
        return 0
    print(format_table(events))
    return 0


async def _events(
    settings: Settings, args: argparse.Namespace, since: datetime
) -> list[AuditEvent]:
    settings.prepare_data_dir()
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        return await alist(
            engine,
            since=since,
            user=args.user,
            tool=args.tool,
            outcome=args.outcome,
            limit=args.limit,
        )
    finally:
        await engine.dispose()


def format_table(events: list[AuditEvent]) -> str:
    """The records as an aligned text table."""
    rows = [
        ("WHEN (UTC)", "ACTOR", "SUBJECT", "TOOL", "OUTCOME", "APPROVAL", "REQUEST ID")
    ]
    for e in events:
        rows.append(
            (
                e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                e.actor_id,
                e.subject_id,
                e.tool,
                e.outcome,
                e.approval_id or "-",
                e.backend_request_id or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
