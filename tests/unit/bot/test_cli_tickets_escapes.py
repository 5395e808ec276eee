"""``helpdesk tickets list`` and ``show`` never hand a terminal an escape to obey,
even from rows stored before tickets were cleaned on the way in."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator

import pytest

from bot.cli import main
from tools.db import create_engine, upgrade
from tools.settings import load_settings
from tools.tickets.base import Caller, TicketDraft
from tools.tickets.embedded import EmbeddedTickets
from tools.tickets.tables import ticket_comments, tickets

CLEAR = "\x1b[2J"
CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07"
HIDDEN = "\x1b[8m"
RLO = "\u202e"
_OBEYED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main`` configures the root logger; put it back for the next test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def _store_hostile_ticket() -> None:
    """A ticket whose stored fields hold escapes, as an older version kept them."""
    settings = load_settings()
    settings.prepare_data_dir()
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        desk = EmbeddedTickets(engine, settings)
        ticket = await desk.acreate(
            TicketDraft(
                idempotency_key="old-1",
                caller=Caller(object_id="u1", tenant_id="t1", upn="alex@x.example"),
                short_description="Printer jams",
                description="placeholder",
                category="hardware",
            )
        )
        await desk.acomment(
            ticket.label, "placeholder", author="Sam", from_caller=False
        )
        async with engine.begin() as conn:
            await conn.execute(
                tickets.update().values(
                    short_description=f"Printer{CLEAR} jams{RLO}gpj.exe",
                    description=f"It jams.\nSee{HIDDEN} here{CLIPBOARD}\r",
                    caller_name=f"Alex{CLEAR}",
                    caller_upn=f"alex@x.example{RLO}",
                    assignment_group=f"Desk{CLIPBOARD}",
                    transcript=f"Alex: help\x1b[1A\x1b[2K\nCopilot: ok{RLO}",
                )
            )
            await conn.execute(
                ticket_comments.update().values(
                    author=f"Sam{HIDDEN}", body=f"Try again{CLIPBOARD}"
                )
            )
    finally:
        await engine.dispose()


@pytest.fixture
def hostile() -> None:
    asyncio.run(_store_hostile_ticket())


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["tickets", *argv]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


@pytest.mark.usefixtures("hostile")
@pytest.mark.parametrize(
    "argv",
    [("list",), ("list", "--json"), ("show", "1001"), ("show", "1001", "--json")],
    ids=["list", "list-json", "show", "show-json"],
)
def test_stored_escapes_are_printed_as_text(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    out = _run(capsys, *argv)

    assert _OBEYED.search(out) is None
    assert ("\\u001b[2J" if "--json" in argv else "\\x1b[2J") in out


@pytest.mark.usefixtures("hostile")
def test_show_keeps_the_lines_of_long_texts_and_escapes_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _run(capsys, "show", "1001")

    assert out.startswith("INC0001001  Printer\\x1b[2J jams\\u202egpj.exe\n")
    assert "  It jams.\n  See\\x1b[8m here\\x1b]52;c;" in out
    assert "\\x07\\x0d\n" in out
    assert "Sam\\x1b[8m\n    Try again\\x1b]52;c;" in out
    assert "  Alex: help\\x1b[1A\\x1b[2K\n  Copilot: ok\\u202e" in out


@pytest.mark.usefixtures("hostile")
def test_json_output_still_holds_the_stored_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    [data] = json.loads(_run(capsys, "list", "--json"))

    assert data["short_description"] == f"Printer{CLEAR} jams{RLO}gpj.exe"
