"""Benchmark the host: bot-plus-agent time per turn through ``/api/messages``.

Runs the real app (offline model, embedded backends, a fresh data folder) with
a local connector, posts Teams-shaped messages, and reports the median and p99
latency of one client, the turns per second of several concurrent clients,
and the process's peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.chat import ChatSession, ChatUser, message_activity
from tools.settings import load_settings

QUESTIONS = (
    "How do I connect to the VPN from home?",
    "My Outlook keeps asking for my password",
    "How do I set up multi-factor authentication on a new phone?",
    "The printer on floor 3 shows a paper jam",
    "How can I share a large file with someone outside the company?",
)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


async def _one_turn(
    chat: ChatSession, conversation: str, user: ChatUser, n: int
) -> float:
    before = len(chat.connector.messages(conversation))
    activity = message_activity(
        service_url=chat.connector.url,
        conversation_id=conversation,
        user=user,
        text=QUESTIONS[n % len(QUESTIONS)],
    )
    started = time.perf_counter()
    status = await chat.post(activity)
    if status != 200:
        raise RuntimeError(f"turn {n}: HTTP {status}")
    await chat.connector.wait_for_messages(
        before + 1, conversation_id=conversation, wait_s=120
    )
    return time.perf_counter() - started


async def run(turns: int, clients: int, data_dir: Path) -> dict[str, Any]:
    """Run the benchmark and return its figures."""
    settings = load_settings(data_dir=data_dir)
    async with ChatSession(settings) as chat:
        await _one_turn(chat, "a:warm-up", chat.user, 0)

        latencies = []
        conversation = f"a:bench-{uuid.uuid4().hex}"
        for n in range(turns):
            latencies.append(await _one_turn(chat, conversation, chat.user, n))

        async def client(index: int) -> None:
            user = ChatUser(id=f"bench-{index}", name=f"Bench {index}")
            conv = f"a:bench-{index}-{uuid.uuid4().hex}"
            for n in range(turns // clients):
                await _one_turn(chat, conv, user, n)

        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.perf_counter() - started

    return {
        "turns": turns,
        "median_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "clients": clients,
        "turns_per_s": round((turns // clients) * clients / elapsed, 2),
        "peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench turn``: print the figures as text and as JSON."""
    parser = argparse.ArgumentParser(prog="bench turn", description=__doc__)
    parser.add_argument("--turns", type=int, default=50, help="turns per phase")
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="default: a temp dir"
    )
    parser.add_argument("--json", action="store_true", help="print only JSON")
    # The bench runner passes one argv to every benchmark; skip the others' flags.
    args, _ = parser.parse_known_args(argv)
    if args.turns < args.clients or args.clients < 1:
        parser.error("--turns must be at least --clients, and --clients at least 1")

    with tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as scratch:
        figures = asyncio.run(
            run(args.turns, args.clients, args.data_dir or Path(scratch))
        )
    if not args.json:
        print(
            f"turn latency over {figures['turns']} turns: median "
            f"{figures['median_ms']} ms, p99 {figures['p99_ms']} ms\n"
            f"{figures['clients']} concurrent clients: {figures['turns_per_s']} "
            f"turns/s\npeak memory: {figures['peak_rss_mb']} MB"
        )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
