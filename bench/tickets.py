"""Benchmark tickets: tickets created per second through the whole turn.

One ticket is two requests to ``/api/messages``, as in Teams: the employee asks
for a ticket (the offline model drafts it and the bot shows the card), then
clicks Approve (the graph resumes, the ticket is created, the card is
redrawn and the answer sent). Three back ends, one after the other in one run:

- ``embedded``: tickets in the app database (SQLite).
- ``servicenow``: a local ServiceNow Table API on loopback (the test fake),
  each ticket delivered at once.
- ``outbox``: ServiceNow unreachable; each ticket is kept in the outbox and the
  employee gets a reference at once. Then the outbox is drained against the
  local ServiceNow and its deliveries per second are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.chat import ChatSession, ChatUser, message_activity
from tools.db import create_engine
from tools.settings import PROJECT_ROOT, load_settings

PROBLEMS = (
    "the printer on floor {n} jams all the time, open a ticket",
    "my second monitor flickers on the dock, please raise a ticket",
    "Excel crashes when I open the budget file number {n}, log a ticket",
)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


async def _post_and_wait(
    chat: ChatSession, activity: dict[str, Any], conversation: str, more: int
) -> list[dict[str, Any]]:
    before = len(chat.connector.messages(conversation))
    status = await chat.post(activity)
    if status != 200:
        raise RuntimeError(f"HTTP {status}")
    await chat.connector.wait_for_messages(
        before + more, conversation_id=conversation, wait_s=120
    )
    return chat.connector.messages(conversation)[before:]


async def _one_ticket(chat: ChatSession, user: ChatUser, n: int) -> float:
    conversation = f"a:bench-ticket-{uuid.uuid4().hex}"
    ask = message_activity(
        service_url=chat.connector.url,
        conversation_id=conversation,
        user=user,
        text=PROBLEMS[n % len(PROBLEMS)].format(n=n),
    )
    started = time.perf_counter()
    shown = await _post_and_wait(chat, ask, conversation, 2)
    card = next(m for m in shown if m.get("attachments"))
    approve = card["attachments"][0]["content"]["actions"][0]["data"]
    click = message_activity(
        service_url=chat.connector.url,
        conversation_id=conversation,
        user=user,
        text="",
        value=approve,
        reply_to_id=card.get("id") or "card",
    )
    answered = await _post_and_wait(chat, click, conversation, 2)
    if not any("ticket" in json.dumps(m).lower() for m in answered):
        raise RuntimeError(f"ticket {n}: no confirmation in {answered!r}")
    return time.perf_counter() - started


async def _measure(settings: Any, tickets: int, clients: int) -> dict[str, Any]:
    async with ChatSession(settings) as chat:
        await _one_ticket(chat, chat.user, 0)  # warm-up
        latencies = [await _one_ticket(chat, chat.user, n) for n in range(tickets)]

        async def client(index: int) -> None:
            user = ChatUser(id=f"bench-{index}", name=f"Bench {index}")
            for n in range(tickets // clients):
                await _one_ticket(chat, user, n)

        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "tickets": tickets,
        "median_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "clients": clients,
        "tickets_per_s": round((tickets // clients) * clients / elapsed, 2),
    }


@asynccontextmanager
async def _servicenow() -> AsyncIterator[Any]:
    """The local ServiceNow of the tests (a real HTTP server on loopback)."""
    sys.path.insert(0, str(PROJECT_ROOT / "tests"))
    from fakes.servicenow_server import PASSWORD, USER, serve_fake_servicenow

    async with serve_fake_servicenow() as fake:
        fake.add_user("alex@contoso.example", "Alex Employee")
        yield fake, USER, PASSWORD


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run(tickets: int, clients: int, scratch: Path) -> dict[str, Any]:
    """Run the three phases and the outbox drain; return their figures."""
    figures: dict[str, Any] = {}
    embedded = load_settings(data_dir=scratch / "embedded", notify_poll_s=600)
    figures["embedded"] = await _measure(embedded, tickets, clients)

    async with _servicenow() as (fake, user, password):
        common = {
            "ticket_backend": "servicenow",
            "servicenow_user": user,
            "servicenow_password": password,
            "notify_poll_s": 600,
        }
        direct = load_settings(
            data_dir=scratch / "servicenow", servicenow_url=fake.url, **common
        )
        figures["servicenow"] = await _measure(direct, tickets, clients)

        down = load_settings(
            data_dir=scratch / "outbox",
            servicenow_url=f"http://127.0.0.1:{_closed_port()}",
            **common,
        )
        figures["outbox"] = await _measure(down, tickets, clients)
        figures["outbox"]["drain_per_s"] = await _drain(down, fake.url)
    return figures


async def _drain(settings: Any, url: str) -> float:
    """Deliver every ticket the outbox holds to the now reachable ServiceNow."""
    from tools.tickets.servicenow import ServiceNowTickets

    healthy = settings.model_copy(update={"servicenow_url": url})
    engine = create_engine(healthy)
    desk = ServiceNowTickets(healthy, engine)
    far_future = None
    try:
        from datetime import UTC, datetime, timedelta

        far_future = datetime.now(UTC) + timedelta(days=1)  # every row is due
        delivered = 0
        started = time.perf_counter()
        while True:
            done = await desk.arun_due(now=far_future, limit=50)
            if done == 0:
                break
            delivered += done
        elapsed = time.perf_counter() - started
    finally:
        await desk.aclose()
        await engine.dispose()
    return round(delivered / elapsed, 2) if delivered else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.tickets``: print the figures as text and as JSON."""
    parser = argparse.ArgumentParser(prog="bench tickets", description=__doc__)
    parser.add_argument("--tickets", type=int, default=30, help="tickets per phase")
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients")
    parser.add_argument("--json", action="store_true", help="print only JSON")
    args, _ = parser.parse_known_args(argv)
    if args.tickets < args.clients or args.clients < 1:
        parser.error("--tickets must be at least --clients, and --clients at least 1")

    # The outbox phase warns once per kept ticket, by design; not for this report.
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as scratch:
        figures = asyncio.run(run(args.tickets, args.clients, Path(scratch)))
    logging.disable(logging.NOTSET)
    if not args.json:
        for name, f in figures.items():
            line = (
                f"tickets ({name}): median {f['median_ms']} ms, p99 {f['p99_ms']} ms "
                f"per ticket (ask + approve); {f['clients']} clients: "
                f"{f['tickets_per_s']} tickets/s"
            )
            if "drain_per_s" in f:
                line += f"; outbox drained at {f['drain_per_s']} tickets/s"
            print(line)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
