"""``helpdesk eval``: run the golden conversations through the whole bot and score them.

Each case gets a data folder of its own, seeded from scratch like a first
start (demo directory, catalogue and articles, plus the case's own setup), and
is spoken to the real bot over ``/api/messages`` by :class:`~bot.chat.ChatSession`,
so routing, approvals, cards, citations and redaction are all in play. The
model is the configured one (the offline model unless one is set); the
back ends are always the embedded ones, since a golden set that wrote tickets
into a real ServiceNow would be an incident, not a test.

The checks are in :mod:`agent.evaluation`; this module only drives the
conversations and records what happened.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.checkpoint import open_checkpointer
from agent.evaluation import (
    CLICK,
    CardSeen,
    CaseResult,
    CaseRun,
    CitationSeen,
    EffectSeen,
    GoldenCase,
    Setup,
    check,
    format_report,
    load_cases,
    report_json,
    score,
    tool_calls_in,
)
from bot.agent_console import AGENTS_CHANNEL, DEFAULT_AGENT, LOCAL_TEAM
from bot.cards import ADAPTIVE_CARD, SECRET_CONTAINER
from bot.chat import ChatSession, ChatUser, message_activity, render
from tools.approvals import get_approval
from tools.audit import alist as audit_list
from tools.errors import ConfigError, InvalidInput
from tools.logs import LOG_FILE_NAME
from tools.settings import Settings, load_settings
from tools.tickets.base import Caller, TicketDraft

DEFAULT_MIN_SCORE = 0.9
EMBEDDED_BACKENDS: dict[str, Any] = {
    "database_url": None,
    "knowledge_backend": "embedded",
    "directory_backend": "local",
    "ticket_backend": "embedded",
}
"""Every case runs on fresh embedded back ends, whatever is configured."""
STEADY_CLOCK: dict[str, Any] = {"handoff_hours": "always", "handoff_holidays": []}
"""Agents' hours that do not depend on when the eval runs; a case about the
hours sets its own."""
_AUDIT_LIMIT = 10_000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``helpdesk eval``."""
    parser = subparsers.add_parser(
        "eval",
        help="score the copilot on golden conversations (exit 1 below --min-score)",
        description="Run every golden case through the whole bot on fresh "
        "embedded back ends, print scores by category and the failing cases.",
    )
    parser.add_argument(
        "path", type=Path, help="a golden case file, or a folder of them"
    )
    parser.add_argument(
        "--min-score",
        type=float,
        default=DEFAULT_MIN_SCORE,
        metavar="SHARE",
        help=f"fail when the share of cases passed is below this (default "
        f"{DEFAULT_MIN_SCORE})",
    )
    parser.add_argument(
        "--category",
        action="append",
        metavar="NAME",
        help="only this category (repeat for several)",
    )
    parser.add_argument(
        "--case",
        action="append",
        metavar="ID",
        help="only this case (repeat for several)",
    )
    parser.add_argument(
        "--json",
        dest="json_out",
        type=Path,
        metavar="FILE",
        help="also write the scores and every case's verdict to FILE as JSON",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the bot's logs here instead of in helpdesk.log in the data folder",
    )
    parser.set_defaults(func=_eval, quiet_logs=True)


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    if not 0.0 <= args.min_score <= 1.0:
        raise InvalidInput("--min-score is a share between 0 and 1, e.g. 0.9")
    cases = select(load_cases(args.path), args.category, args.case)
    print(
        f"Running {len(cases)} golden case(s) with the {settings.model_provider} "
        f"model; logs go to {settings.data_dir / LOG_FILE_NAME}.",
        flush=True,
    )
    started = time.perf_counter()
    results = asyncio.run(run_cases(cases, settings, progress=_progress))
    print()
    print(format_report(results))
    _, overall = score(results)
    print(
        f"\n{sum(r.passed for r in results)} of {len(results)} passed "
        f"({overall:.1%}; minimum {args.min_score:.1%}) in "
        f"{time.perf_counter() - started:.0f} s."
    )
    if args.json_out is not None:
        data = report_json(results, min_score=args.min_score)
        args.json_out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if overall < args.min_score:
        print(
            f"helpdesk: score {overall:.1%} is below --min-score {args.min_score:.1%}",
            file=sys.stderr,
        )
        return 1
    return 0


def select(
    cases: list[GoldenCase], categories: list[str] | None, ids: list[str] | None
) -> list[GoldenCase]:
    """The cases of the categories and ids asked for, grouped by category.

    Raises:
        InvalidInput: a category or id that no case has (a typo would
            otherwise pass with nothing run).
    """
    known_categories = {c.category for c in cases}
    known_ids = {c.id for c in cases}
    for wanted, known, what in (
        (categories or [], known_categories, "category"),
        (ids or [], known_ids, "case"),
    ):
        missing = sorted(set(wanted) - known)
        if missing:
            raise InvalidInput(
                f"no golden {what} {', '.join(missing)}; "
                f"known: {', '.join(sorted(known))}"
            )
    chosen = [
        c
        for c in cases
        if (not categories or c.category in categories) and (not ids or c.id in ids)
    ]
    order = list(dict.fromkeys(c.category for c in chosen))
    return sorted(chosen, key=lambda c: order.index(c.category))


def _progress(category: str, done: list[CaseResult], seconds: float) -> None:
    passed = sum(r.passed for r in done)
    print(
        f"  {category:<16} {passed:>3}/{len(done):<3} passed  ({seconds:.1f} s)",
        flush=True,
    )


async def run_cases(
    cases: list[GoldenCase],
    settings: Settings,
    *,
    progress: Callable[[str, list[CaseResult], float], None] | None = None,
) -> list[CaseResult]:
    """Run ``cases`` one after another, each on its own fresh data folder.

    Args:
        cases: the cases, grouped by category (see :func:`select`).
        settings: the configured settings; each case gets a copy with its own
            data folder and the embedded back ends.
        progress: called after each category with its results and duration.
    """
    results: list[CaseResult] = []
    work = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="helpdesk-eval-"))
    try:
        category_started = time.perf_counter()
        current: list[CaseResult] = []
        for index, case in enumerate(cases):
            result = await run_case(case, settings, work / f"{index:04d}")
            results.append(result)
            current.append(result)
            last_of_category = (
                index + 1 == len(cases) or cases[index + 1].category != case.category
            )
            if last_of_category:
                if progress is not None:
                    progress(
                        case.category, current, time.perf_counter() - category_started
                    )
                current = []
                category_started = time.perf_counter()
    finally:
        await asyncio.to_thread(shutil.rmtree, work, True)
    return results


async def run_case(case: GoldenCase, base: Settings, folder: Path) -> CaseResult:
    """Run one case on a fresh data folder under ``folder`` and judge it."""
    started = time.perf_counter()
    run = CaseRun()
    try:
        settings = await _case_settings(case, base, folder)
        async with ChatSession(settings, as_user=case.as_user) as chat:
            await _check_speaker(chat, case)
            await _prepare(chat, case.setup, settings)
            await _converse(chat, case, run, settings)
            run.stored = await _stored_texts(chat.services.db)
    except ConfigError as exc:
        run.problems.append(f"cannot set the case up: {exc}")
    except Exception as exc:
        # A crash is a verdict on the product, not on the eval: report it.
        run.problems.append(f"the conversation broke: {type(exc).__name__}: {exc}")
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
    return CaseResult(
        case.id, case.category, check(case, run), time.perf_counter() - started
    )


def embedded_settings(base: Settings, data_dir: Path, **overrides: Any) -> Settings:
    """The configured settings on fresh embedded back ends in ``data_dir``.

    Args:
        base: the configured settings (their model is kept).
        data_dir: an empty folder for the run's app database, state and index.
        **overrides: further settings, applied last.
    """
    return load_settings(
        **{
            **base.model_dump(exclude_unset=True),
            **EMBEDDED_BACKENDS,
            **STEADY_CLOCK,
            **overrides,
            "data_dir": data_dir,
        }
    )


async def _case_settings(case: GoldenCase, base: Settings, folder: Path) -> Settings:
    overrides: dict[str, Any] = dict(case.settings)
    if case.setup.articles:
        overrides["kb_seed_dir"] = await asyncio.to_thread(
            _knowledge_folder, base.kb_seed_dir, case.setup.articles, folder / "kb"
        )
    return embedded_settings(base, folder / "data", **overrides)


def _knowledge_folder(seed: Path, articles: dict[str, str], folder: Path) -> Path:
    """The demo articles plus the case's own, in a folder of this case only."""
    shutil.copytree(seed, folder)
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


async def _check_speaker(chat: ChatSession, case: GoldenCase) -> None:
    if case.as_user is None:
        return
    directory = chat.services.directory
    matches = await directory.afind_users(case.as_user, limit=2)
    if len(matches) != 1:
        raise ConfigError(
            f"as_user {case.as_user!r} is not one person in the directory"
        )


async def _prepare(chat: ChatSession, setup: Setup, settings: Settings) -> None:
    """Put the case's world in place through the product's own interfaces."""
    if setup.agents_channel:
        await open_agents_channel(chat, settings)
    tickets = chat.services.tickets
    for seed in setup.tickets:
        [person] = await chat.services.directory.afind_users(seed.caller, limit=1)
        ticket = await tickets.acreate(
            TicketDraft(
                idempotency_key=uuid.uuid4().hex,
                caller=Caller(
                    object_id=person.object_id,
                    tenant_id=chat.user.tenant_id,
                    upn=person.upn,
                    name=person.display_name,
                ),
                short_description=seed.short_description,
                description=seed.description or seed.short_description,
                category=seed.category,
            )
        )
        label = ticket.number or ticket.reference
        if seed.reply:
            await tickets.acomment(
                label, seed.reply, author="Service Desk", from_caller=False
            )
        if seed.state == "resolved":
            await tickets.aset_state(
                label, "resolved", by="Service Desk", note="Fixed by the service desk."
            )


async def open_agents_channel(chat: ChatSession, settings: Settings) -> None:
    """IT support designates its channel and says available, as in Teams.

    Raises:
        ConfigError: the bot refused the channel's messages.
    """
    [agent] = await chat.services.directory.afind_users(DEFAULT_AGENT, limit=1)
    speaker = ChatUser(agent.object_id, agent.display_name, chat.user.tenant_id)
    thread = f"{AGENTS_CHANNEL};messageid={uuid.uuid4().hex}"
    for text in (f"{settings.bot_name} use this channel for hand-offs", "available"):
        activity = message_activity(
            service_url=chat.connector.url,
            conversation_id=thread,
            user=speaker,
            text=text,
            conversation_type="channel",
        )
        activity["channelData"].update(
            {"team": {"id": LOCAL_TEAM}, "channel": {"id": AGENTS_CHANNEL}}
        )
        status = await chat.post(activity)
        if status >= 300:
            raise ConfigError(f"the agents' channel answered HTTP {status}")


async def _converse(
    chat: ChatSession, case: GoldenCase, run: CaseRun, settings: Settings
) -> None:
    db = chat.services.db
    audited = len(await audit_list(db, limit=_AUDIT_LIMIT))
    first_seen: dict[str, int] = {}
    choices_shown = 0
    async with open_checkpointer(settings) as saver:
        for step, said in enumerate(case.say, start=1):
            click = CLICK.match(said)
            if click:
                number = int(click.group(1))
                if not 0 < number <= choices_shown:
                    run.problems.append(
                        f"step {step} clicks choice {number}, but the answer "
                        f"before it showed {choices_shown} choice(s)"
                    )
                    return
                run.clicks.add(step)

            replies = await chat.say(said)

            choices_shown = await _observe_replies(db, replies, chat.updated, step, run)
            events = await audit_list(db, limit=_AUDIT_LIMIT)
            fresh = events[: len(events) - audited]
            audited = len(events)
            run.effects += [
                EffectSeen(e.tool, e.outcome, step) for e in reversed(fresh)
            ]
            messages = await thread_messages(saver, chat)
            run.tool_calls = tool_calls_in(messages, step=step, first_seen=first_seen)


async def thread_messages(
    saver: BaseCheckpointSaver, chat: ChatSession
) -> list[BaseMessage]:
    """The messages of ``chat``'s conversation as the graph last saved them."""
    thread: RunnableConfig = {
        "configurable": {
            "thread_id": f"{chat.user.tenant_id}:{chat.conversation_id}",
            "checkpoint_ns": "",
        }
    }
    saved = await saver.aget_tuple(thread)
    if saved is None:
        return []
    return list(saved.checkpoint["channel_values"].get("messages", []))


async def _observe_replies(
    db: AsyncEngine,
    replies: list[dict[str, Any]],
    updated: list[dict[str, Any]],
    step: int,
    run: CaseRun,
) -> int:
    """Record what one step's answer showed; return how many choices it offered."""
    offered = 0
    for activity in replies:
        text, choices = render(activity, first=offered + 1)
        offered += len(choices)
        run.texts.append(text)
        run.raw.append(json.dumps(activity, ensure_ascii=False))
        for entity in activity.get("entities") or []:
            for claim in entity.get("citation") or []:
                appearance = claim.get("appearance") or {}
                run.citations.append(
                    CitationSeen(
                        str(appearance.get("name") or ""),
                        str(appearance.get("url") or ""),
                    )
                )
        for approval_id in dict.fromkeys(str(c.get("approval") or "") for c in choices):
            record = await get_approval(db, approval_id) if approval_id else None
            if record is not None:
                run.cards.append(CardSeen(record.request.tool, step))
        secrets = _boxed_secrets(activity)
        if secrets:
            run.secret_boxes += 1
            run.secrets += secrets
    run.raw += [json.dumps(activity, ensure_ascii=False) for activity in updated]
    return offered


def _boxed_secrets(activity: dict[str, Any]) -> list[str]:
    """The values shown in a one-time secret's box (its monospace lines)."""
    found: list[str] = []

    def walk(elements: list[dict[str, Any]], inside: bool) -> None:
        for element in elements:
            here = inside or element.get("id") == SECRET_CONTAINER
            if here and element.get("fontType") == "Monospace" and element.get("text"):
                found.append(str(element["text"]))
            walk(element.get("items") or [], here)
            for column in element.get("columns") or []:
                walk(column.get("items") or [], here)

    for attachment in activity.get("attachments") or []:
        if attachment.get("contentType") == ADAPTIVE_CARD:
            walk((attachment.get("content") or {}).get("body") or [], False)
    return found


async def _stored_texts(db: AsyncEngine) -> list[str]:
    """Every text value in every table of the app database, for "never stored"."""
    found = sa.MetaData()
    texts: list[str] = []
    async with db.connect() as conn:
        # Reflected rather than imported: a table added later is searched too.
        await conn.run_sync(found.reflect)
        for table in found.sorted_tables:
            for row in await conn.execute(sa.select(table)):
                texts += [v for v in row if isinstance(v, str) and v]
    return texts
