"""``helpdesk eval-tickets``: real employee tickets through the whole bot, routing scored.

Each labelled ticket is said as the first message of a fresh conversation to
the real bot over ``/api/messages``, like ``helpdesk eval`` does with the
golden conversations, and its first action (the first tool the model called,
or a reply without one, or a question back) is judged against the routing
map (``manifests/routing/ticket-labels.yaml``). The bot, its embedded back
ends and the demo data are set up once for the whole run, in a temporary
folder: only the conversation is new for each ticket, so thousands of
tickets take minutes. Nothing is confirmed on any card, so no ticket or
request is really filed.

The map, the first action and the scores are in :mod:`agent.routing_eval`;
this module only drives the conversations.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver

from agent.checkpoint import open_checkpointer
from agent.routing_eval import (
    FAILED,
    RoutingMap,
    Ticket,
    TicketResult,
    first_action,
    format_table,
    judge,
    load_mapping,
    load_tickets,
    report_json,
    score_tickets,
    select_tickets,
)
from bot.chat import ChatSession, render
from bot.cli.eval import embedded_settings, open_agents_channel, thread_messages
from tools.errors import InvalidInput
from tools.logs import LOG_FILE_NAME
from tools.settings import Settings

logger = logging.getLogger(__name__)

MAPPING_FILE = Path("routing") / "ticket-labels.yaml"
"""The routing map, under the manifests folder."""
PROGRESS_EVERY_S = 5.0
"""How often a long run says how far it got."""

Progress = Callable[[int, int, float], None]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``helpdesk eval-tickets``."""
    parser = subparsers.add_parser(
        "eval-tickets",
        help="score the copilot's first action on labelled employee tickets "
        "(exit 1 below --min-score)",
        description="Say each ticket as the first message of a fresh conversation "
        "to the whole bot on embedded back ends, judge its first action against "
        "the routing map, and print the share routed as documented by label.",
    )
    parser.add_argument(
        "path", type=Path, help="tickets, one JSON object a line: id, text, label"
    )
    parser.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="run at most N tickets, spread evenly over the labels",
    )
    parser.add_argument(
        "--label",
        action="append",
        metavar="L",
        help="only tickets with this label (repeat for several)",
    )
    parser.add_argument(
        "--sample-seed",
        type=int,
        metavar="S",
        help="with --limit, draw each label's tickets at random with this seed "
        "instead of taking the first ones of the file",
    )
    parser.add_argument(
        "--min-score",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="fail when the share routed as documented is below this (default 0)",
    )
    parser.add_argument(
        "--mapping",
        type=Path,
        metavar="FILE",
        help=f"the routing map (default {MAPPING_FILE} in the manifests folder)",
    )
    parser.add_argument(
        "--json",
        dest="as_json",
        action="store_true",
        help="print the report and every ticket's verdict as JSON instead of a table",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the bot's logs here instead of in helpdesk.log in the data folder",
    )
    parser.set_defaults(func=_eval_tickets, quiet_logs=True)


def _eval_tickets(args: argparse.Namespace, settings: Settings) -> int:
    if not 0.0 <= args.min_score <= 1.0:
        raise InvalidInput("--min-score is a share between 0 and 1, e.g. 0.5")
    mapping = load_mapping(args.mapping or settings.manifests_dir / MAPPING_FILE)
    tickets = select_tickets(
        load_tickets(args.path),
        labels=args.label,
        limit=args.limit,
        seed=args.sample_seed,
    )
    mapping.check_labels(tickets)
    _say(
        f"Running {len(tickets)} ticket(s) with the {settings.model_provider} model; "
        f"logs go to {settings.data_dir / LOG_FILE_NAME}."
    )

    started = time.perf_counter()
    results = asyncio.run(run_tickets(tickets, mapping, settings, progress=_progress))
    seconds = time.perf_counter() - started

    order = list(mapping.labels)
    _, overall = score_tickets(results, order)
    if args.as_json:
        report = report_json(
            results,
            order=order,
            min_score=args.min_score,
            seconds=seconds,
            model=settings.model_provider,
        )
        print(json.dumps(report, indent=2))
    else:
        print(format_table(results, order))
        print(
            f"\n{sum(r.routed for r in results)} of {len(results)} routed as "
            f"documented ({overall:.1%}; minimum {args.min_score:.1%}) in "
            f"{seconds:.0f} s ({_per_ticket_ms(seconds, results):.0f} ms a ticket)."
        )
    if overall < args.min_score:
        _say(
            f"helpdesk: share routed {overall:.1%} is below --min-score "
            f"{args.min_score:.1%}"
        )
        return 1
    return 0


def _say(text: str) -> None:
    """Where a run talks to its operator: stderr, so stdout stays the report."""
    print(text, file=sys.stderr, flush=True)


def _per_ticket_ms(seconds: float, results: Sequence[TicketResult]) -> float:
    return 1000 * seconds / len(results) if results else 0.0


def _progress(done: int, total: int, seconds: float) -> None:
    _say(f"  {done}/{total} tickets  ({seconds:.0f} s)")


async def run_tickets(
    tickets: Sequence[Ticket],
    mapping: RoutingMap,
    settings: Settings,
    *,
    progress: Progress | None = None,
) -> list[TicketResult]:
    """Say each ticket to one bot, each in a fresh conversation, and judge it.

    Args:
        tickets: the tickets, in the order to run them.
        mapping: the routing map; refused if it names a tool the bot lacks.
        settings: the configured settings; the run gets a copy on embedded
            back ends in a temporary data folder, deleted afterwards.
        progress: called every :data:`PROGRESS_EVERY_S` seconds and at the
            end with (done, total, seconds so far).

    Raises:
        InvalidInput: the map names an action the copilot does not have.
    """
    work = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="helpdesk-tickets-"))
    results: list[TicketResult] = []
    try:
        run_settings = embedded_settings(settings, work / "data")
        async with ChatSession(run_settings) as chat:
            registry = chat.services.registry
            mapping.check_actions(
                {*registry.builtin_manifests(), *registry.enabled_names()}
            )
            await open_agents_channel(chat, run_settings)
            async with open_checkpointer(run_settings) as saver:
                started = last_said = time.perf_counter()
                for ticket in tickets:
                    results.append(await _run_ticket(chat, saver, mapping, ticket))
                    now = time.perf_counter()
                    finished = len(results) == len(tickets)
                    if progress is not None and (
                        finished or now - last_said >= PROGRESS_EVERY_S
                    ):
                        progress(len(results), len(tickets), now - started)
                        last_said = now
    finally:
        await asyncio.to_thread(shutil.rmtree, work, True)
    return results


async def _run_ticket(
    chat: ChatSession,
    saver: BaseCheckpointSaver,
    mapping: RoutingMap,
    ticket: Ticket,
) -> TicketResult:
    """One ticket as the opening message of a new conversation of the same user."""
    started = time.perf_counter()
    chat.conversation_id = f"a:local-{uuid.uuid4().hex}"
    chat.choices = []  # a ticket that is only a number is words, not a click
    try:
        replies = await chat.say(ticket.text)
        messages = await thread_messages(saver, chat)
        action, tools = first_action(
            messages, replies=[render(activity)[0] for activity in replies]
        )
    except Exception as exc:
        # A crash is a verdict on the product, not on the run: count it.
        logger.warning("ticket %s broke the turn: %s", ticket.id, type(exc).__name__)
        logger.debug("ticket %s", ticket.id, exc_info=True)
        action, tools = FAILED, ()
    return judge(mapping, ticket, action, tools, seconds=time.perf_counter() - started)
