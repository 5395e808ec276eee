"""Benchmark live hand-off: relay latency the bot adds, and hand-offs one process holds.

In process, one app on SQLite and the local connector, posted to through
``/api/messages`` as Teams does:

- ``latency``: a hand-off is asked for, taken, then the employee and the agent
  write in turn. Each figure runs from posting the message to the bot until
  the other side's conversation receives the relayed copy: the bot's whole
  share (turn, store, claim, send), not the network's.
- ``capacity``: N hand-offs are opened and taken at once, then one message is
  relayed on each, employee to agent and then agent to employee. A pass is the
  wall time until all N arrived; memory is the process's peak resident set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.app import HANDLER_KEY
from bot.chat import ChatSession, ChatUser, message_activity
from bot.connector import Recorded
from bot.handoff import HandoffDesk
from tools.handoff import store
from tools.settings import Settings, load_settings

CHANNEL = "19:helpdesk-agents@thread.tacv2"
AGENT = ChatUser(id="sam-rivera", name="Sam Rivera")
CLIENTS = 16
"""Concurrent posters in a capacity pass, as many chats typing at once."""
WAIT_S = 600.0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _activity(
    chat: ChatSession, user: ChatUser, conversation: str, text: str, **options: Any
) -> dict[str, Any]:
    return message_activity(
        service_url=chat.connector.url,
        conversation_id=conversation,
        user=user,
        text=text,
        conversation_type="personal" if conversation.startswith("a:") else "channel",
        **options,
    )


async def _post(chat: ChatSession, activity: dict[str, Any]) -> None:
    status = await chat.post(activity)
    if status != 200:
        raise RuntimeError(f"/api/messages answered HTTP {status}")


async def _until(chat: ChatSession, check: Callable[[], bool], what: str) -> None:
    """Wake on each call the connector records until ``check`` holds."""
    try:
        async with asyncio.timeout(WAIT_S):
            while not check():
                calls = len(chat.connector.calls)
                await chat.connector.wait_for_calls(calls + 1, wait_s=None)
    except TimeoutError:
        raise RuntimeError(f"timed out waiting until {what}") from None


def _count(chat: ChatSession, match: Callable[[Recorded], bool]) -> int:
    return sum(
        1
        for c in chat.connector.calls
        if c.method == "POST" and c.activity.get("type") == "message" and match(c)
    )


def _desk(chat: ChatSession) -> HandoffDesk:
    desk = chat._app[HANDLER_KEY].handoffs
    if desk is None:
        raise RuntimeError("the app has no hand-off desk; check HELPDESK_HANDOFF_MODE")
    return desk


async def _designate(chat: ChatSession) -> None:
    before = len(chat.connector.calls)
    await _post(
        chat, _activity(chat, AGENT, CHANNEL, "Helpdesk use this channel for hand-offs")
    )
    await _until(
        chat, lambda: len(chat.connector.calls) > before, "the channel was designated"
    )
    if await store.get_channel(chat.services.db, chat.user.tenant_id) is None:
        raise RuntimeError(
            "the channel was not designated; is Sam Rivera helpdesk staff?"
        )


async def _timed(
    chat: ChatSession, activity: dict[str, Any], match: Callable[[Recorded], bool]
) -> float:
    before = _count(chat, match)
    started = time.perf_counter()
    await _post(chat, activity)
    await _until(chat, lambda: _count(chat, match) > before, "the relayed copy arrived")
    return time.perf_counter() - started


async def latency(settings: Settings, messages: int) -> dict[str, Any]:
    """Ask for a person, take the card, then time ``messages`` relays each way."""
    async with ChatSession(settings) as chat:
        await _designate(chat)
        await chat.say("my second monitor flickers on the dock")
        await chat.say("I want to talk to a person")
        live = await store.live_for_conversation(
            chat.services.db, chat.user.tenant_id, chat.conversation_id
        )
        if live is None or not live.thread_id or not live.card_activity_id:
            raise RuntimeError("asking for a person opened no hand-off with a card")
        take = {"action": "handoff_take", "handoff": live.handoff_id}
        click = _activity(
            chat,
            AGENT,
            live.thread_id,
            "",
            value=take,
            reply_to_id=live.card_activity_id,
        )
        await _post(chat, click)
        await _until(
            chat,
            lambda: any(
                "has joined" in json.dumps(m)
                for m in chat.connector.messages(chat.conversation_id)
            ),
            "the employee was told the agent joined",
        )
        thread, employee_chat = live.thread_id, chat.conversation_id

        def in_thread(c: Recorded) -> bool:
            return c.conversation_id == thread

        def to_employee(c: Recorded) -> bool:
            return c.conversation_id == employee_chat

        up: list[float] = []
        down: list[float] = []
        for n in range(messages + 1):  # the first round warms up
            ask = _activity(chat, chat.user, employee_chat, f"still flickering {n}")
            answer = _activity(chat, AGENT, thread, f"try this, step {n}")
            spent_up = await _timed(chat, ask, in_thread)
            spent_down = await _timed(chat, answer, to_employee)
            if n:
                up.append(spent_up)
                down.append(spent_down)
    return {
        "messages": messages,
        "to_agent_median_ms": round(statistics.median(up) * 1000, 1),
        "to_agent_p99_ms": round(_percentile(up, 0.99) * 1000, 1),
        "to_employee_median_ms": round(statistics.median(down) * 1000, 1),
        "to_employee_p99_ms": round(_percentile(down, 0.99) * 1000, 1),
    }


async def _open_taken(chat: ChatSession, n: int) -> tuple[ChatUser, str, str]:
    """Open, post and take one hand-off as the tool and a Take click would."""
    employee = ChatUser(id=f"bench-employee-{n}", name=f"Employee {n}")
    conversation = f"a:bench-handoff-{n}"
    handoff, _ = await store.open_handoff(
        chat.services.db,
        tenant_id=employee.tenant_id,
        employee_id=employee.id,
        employee_name=employee.name,
        conversation_id=conversation,
        reason="asked for a person",
        summary=f"Monitor {n} flickers",
        category="hardware",
        transcript=f"{employee.name}: monitor {n} flickers",
    )
    await _desk(chat).post_card(handoff)
    # The app's own hand-off loop may have claimed the card's post first.
    for _ in range(100):
        stored = await store.get_handoff(chat.services.db, handoff.handoff_id)
        if stored is not None and stored.thread_id:
            break
        await asyncio.sleep(0.05)
    if stored is None or not stored.thread_id:
        raise RuntimeError(f"hand-off {n} has no thread")
    await store.take(
        chat.services.db, handoff.handoff_id, agent_id=AGENT.id, agent_name=AGENT.name
    )
    return employee, conversation, stored.thread_id


async def _pass(
    chat: ChatSession,
    activities: list[dict[str, Any]],
    match: Callable[[Recorded], bool],
) -> float:
    """Post every activity (``CLIENTS`` at a time); seconds until all arrived."""
    before = _count(chat, match)
    pending = list(reversed(activities))
    started = time.perf_counter()

    async def client() -> None:
        while pending:
            await _post(chat, pending.pop())

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    want = before + len(activities)
    await _until(
        chat, lambda: _count(chat, match) >= want, f"{len(activities)} relays arrived"
    )
    return time.perf_counter() - started


async def capacity(settings: Settings, live: int) -> dict[str, Any]:
    """Hold ``live`` active hand-offs and relay one message each way on each."""
    async with ChatSession(settings) as chat:
        await _designate(chat)
        started = time.perf_counter()
        opened = [await _open_taken(chat, n) for n in range(live)]
        open_s = time.perf_counter() - started

        def in_threads(c: Recorded) -> bool:
            return c.conversation_id.startswith(CHANNEL + ";")

        def to_employees(c: Recorded) -> bool:
            return c.conversation_id.startswith("a:bench-handoff-")

        up = await _pass(
            chat,
            [_activity(chat, e, conv, "is anyone there?") for e, conv, _ in opened],
            in_threads,
        )
        down = await _pass(
            chat,
            [
                _activity(chat, AGENT, thread, "yes, looking now")
                for _, _, thread in opened
            ],
            to_employees,
        )
    return {
        "live": live,
        "open_ms_each": round(open_s / live * 1000, 2),
        "to_agent_pass_s": round(up, 2),
        "to_employee_pass_s": round(down, 2),
        "ms_per_relay": round((up + down) / (2 * live) * 1000, 2),
        "peak_rss_mb": _peak_rss_mb(),
    }


async def run(messages: int, sizes: Sequence[int], scratch: Path) -> dict[str, Any]:
    """Latency first, then each capacity size on a fresh database, smallest first."""
    common = {"handoff_hours": "always", "notify_poll_s": 600}
    figures: dict[str, Any] = {
        "latency": await latency(
            load_settings(data_dir=scratch / "latency", **common), messages
        ),
        "capacity": [],
    }
    for size in sorted(sizes):
        settings = load_settings(data_dir=scratch / f"capacity-{size}", **common)
        figures["capacity"].append(await capacity(settings, size))
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.handoff``: print the figures as text and as JSON."""
    parser = argparse.ArgumentParser(prog="bench handoff", description=__doc__)
    parser.add_argument(
        "--messages", type=int, default=50, help="relays timed each way"
    )
    parser.add_argument(
        "--live",
        type=int,
        nargs="+",
        default=[200, 500, 1000],
        help="simultaneous live hand-offs to hold",
    )
    parser.add_argument("--json", action="store_true", help="print only JSON")
    args, _ = parser.parse_known_args(argv)
    if args.messages < 1 or min(args.live) < 1:
        parser.error("--messages and every --live size must be at least 1")

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as scratch:
        figures = asyncio.run(run(args.messages, args.live, Path(scratch)))
    logging.disable(logging.NOTSET)
    if not args.json:
        f = figures["latency"]
        print(
            f"handoff relay ({f['messages']} each way): employee to agent median "
            f"{f['to_agent_median_ms']} ms, p99 {f['to_agent_p99_ms']} ms; agent to "
            f"employee median {f['to_employee_median_ms']} ms, "
            f"p99 {f['to_employee_p99_ms']} ms"
        )
        for f in figures["capacity"]:
            print(
                f"handoff capacity ({f['live']} live): relay pass to agents "
                f"{f['to_agent_pass_s']} s, to employees {f['to_employee_pass_s']} s "
                f"({f['ms_per_relay']} ms per relay); open+take {f['open_ms_each']} ms "
                f"each; peak RSS {f['peak_rss_mb']} MB"
            )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
