"""``helpdesk tickets``: support staff list, show and work tickets end to end."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bot.cli import main
from tools.db import create_engine, upgrade
from tools.settings import load_settings
from tools.tickets.base import Caller, Ticket, TicketDraft
from tools.tickets.embedded import EmbeddedTickets
from tools.tickets.tables import ticket_events

ALEX = Caller(
    object_id="local-user",
    tenant_id="tenant-1",
    upn="alex@contoso.example",
    name="Alex Employee",
)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main`` configures the root logger; put it back for the next test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def _create(key: str, short: str, caller: Caller = ALEX) -> Ticket:
    settings = load_settings()
    settings.prepare_data_dir()
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        return await EmbeddedTickets(engine, settings).acreate(
            TicketDraft(
                idempotency_key=key,
                caller=caller,
                short_description=short,
                description="Outlook asks for the password again and again.",
                category="email",
                transcript="Alex: outlook keeps asking for my password",
                tried=["Article: Outlook keeps prompting for credentials"],
                links=[("Conversation", "https://teams.example/l/chat/1")],
                conversation_id="conv-1",
            )
        )
    finally:
        await engine.dispose()


async def _event_kinds() -> list[str]:
    engine = create_engine(load_settings())
    try:
        async with engine.connect() as conn:
            query = sa.select(ticket_events.c.kind).order_by(ticket_events.c.created_at)
            return list((await conn.execute(query)).scalars())
    finally:
        await engine.dispose()


@pytest.fixture
def ticket() -> Ticket:
    return asyncio.run(_create("approval-1", "Outlook keeps asking for a password"))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["tickets", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_open_tickets_and_all_includes_resolved(
    capsys: pytest.CaptureFixture[str], ticket: Ticket
) -> None:
    other = asyncio.run(_create("approval-2", "VPN drops every hour"))
    _run(capsys, "resolve", "1002", "--note", "New VPN profile.", "--as", "Sam")

    code, out, err = _run(capsys, "list")
    _, everything, _ = _run(capsys, "list", "--all")
    _, as_json, _ = _run(capsys, "list", "--all", "--json", "--caller", ALEX.upn or "")

    assert (code, err) == (0, "")
    header, row = out.splitlines()
    assert header.split()[:3] == ["NUMBER", "STATE", "PRI"]
    assert row.startswith("INC0001001  New")
    assert "alex@contoso.example" in row
    assert "Service Desk" in row
    assert other.number in everything and "Resolved" in everything
    data = json.loads(as_json)
    assert [t["number"] for t in data] == ["INC0001002", "INC0001001"]
    assert data[0]["state"] == "resolved"


def test_list_of_an_empty_queue_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "list", "--group", "Network")

    assert (code, out) == (0, "No open tickets match.\n")


def test_show_prints_every_field_comments_and_context(
    capsys: pytest.CaptureFixture[str], ticket: Ticket
) -> None:
    _run(
        capsys, "comment", ticket.label, "Looks like MFA.", "--work-note", "--as", "Sam"
    )
    _run(capsys, "comment", ticket.label, "Please restart Outlook.", "--as", "Sam")

    code, out, err = _run(capsys, "show", "inc0001001")

    assert (code, err) == (0, "")
    assert out.startswith("INC0001001  Outlook keeps asking for a password\n")
    for expected in (
        "State        New",
        "Priority     4 - Low (urgency medium, impact low)",
        "Caller       Alex Employee <alex@contoso.example> (local-user, tenant tenant-1)",
        "Group        Service Desk",
        "Outlook asks for the password again and again.",
        "- Article: Outlook keeps prompting for credentials",
        "Conversation: https://teams.example/l/chat/1",
        "Sam [work note]\n    Looks like MFA.",
        "Sam\n    Please restart Outlook.",
        "Transcript\n  Alex: outlook keeps asking for my password",
    ):
        assert expected in out, expected


def test_comment_resolve_and_hold_tell_the_employee(
    capsys: pytest.CaptureFixture[str], ticket: Ticket
) -> None:
    hold = _run(capsys, "hold", ticket.label, "--question", "Which device?")
    comment = _run(capsys, "comment", ticket.label, "Thanks, on it.", "--as", "Sam")
    note = _run(capsys, "comment", ticket.label, "MFA reset.", "--work-note")
    resolve = _run(capsys, "resolve", ticket.label, "--note", "Reset MFA.")
    again = _run(capsys, "resolve", ticket.label, "--note", "Reset MFA.")

    assert [r[0] for r in (hold, comment, note, resolve, again)] == [0] * 5
    assert hold[1] == (
        "INC0001001 on hold; the question goes to the employee in Teams.\n"
    )
    assert "the employee will see it in Teams" in comment[1]
    assert note[1] == "Work note added to INC0001001 (staff only).\n"
    assert resolve[1].startswith("INC0001001 resolved;")
    assert again[1] == "INC0001001 is already resolved; nothing changed.\n"
    assert asyncio.run(_event_kinds()) == ["question", "question", "resolved"]


def test_assign_to_a_person_starts_work(
    capsys: pytest.CaptureFixture[str], ticket: Ticket
) -> None:
    code, out, _ = _run(
        capsys, "assign", ticket.label, "--group", "Messaging", "--to", "Sam Rivera"
    )
    _, shown, _ = _run(capsys, "show", ticket.label)

    assert code == 0
    assert out == "INC0001001 assigned to Messaging / Sam Rivera; In progress.\n"
    assert "Assigned to  Sam Rivera" in shown
    assert "[work note]\n    Assigned to Messaging and Sam Rivera." in shown


def test_closed_is_final(capsys: pytest.CaptureFixture[str], ticket: Ticket) -> None:
    _run(capsys, "close", ticket.label, "--as", "Sam")

    code, out, err = _run(capsys, "reopen", ticket.label)

    assert (code, out) == (2, "")
    assert err.startswith("helpdesk tickets: INC0001001 is closed")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(("show", "INC0009999"), id="show"),
        pytest.param(("comment", "9999", "hello"), id="comment"),
        pytest.param(("resolve", "INC0009999", "--note", "done"), id="resolve"),
    ],
)
def test_an_unknown_number_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code, out, err = _run(capsys, *argv)

    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith("helpdesk tickets: no ticket 'INC0009999'")
    assert "helpdesk tickets list --all" in line


def test_assign_without_group_or_person_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], ticket: Ticket
) -> None:
    code, _, err = _run(capsys, "assign", ticket.label)

    assert code == 2
    assert err == "helpdesk tickets: assign needs --group, --to, or both\n"


def test_the_servicenow_backend_is_named_not_worked_here(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HELPDESK_TICKET_BACKEND", "servicenow")
    monkeypatch.setenv("HELPDESK_SERVICENOW_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("HELPDESK_SERVICENOW_USER", "integration")
    monkeypatch.setenv("HELPDESK_SERVICENOW_PASSWORD", "pw")

    code, _, err = _run(capsys, "list")

    assert code == 2
    [line] = err.splitlines()
    assert "HELPDESK_TICKET_BACKEND is servicenow" in line


def test_a_second_hold_asks_again_and_reopen_needs_a_resolved_ticket(
    capsys: pytest.CaptureFixture[str], ticket: Ticket
) -> None:
    _run(capsys, "hold", ticket.label, "--question", "Which device?")

    _, second, _ = _run(capsys, "hold", ticket.label, "--question", "And which app?")
    code, reopen, _ = _run(capsys, "reopen", ticket.label)

    assert second == (
        "INC0001001 is already on hold; the question goes to the employee.\n"
    )
    assert (code, reopen) == (
        0,
        "INC0001001 is still open (On hold); nothing to reopen.\n",
    )
    assert asyncio.run(_event_kinds()) == ["question", "question"]


def test_an_unreachable_database_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "HELPDESK_DATABASE_URL", "postgresql://app:s3cret@127.0.0.1:1/helpdesk"
    )

    code, out, err = _run(capsys, "show", "INC0001001")

    assert (code, out) == (1, "")
    [line] = err.splitlines()
    assert line.startswith("helpdesk: cannot reach the app database at 127.0.0.1:1/")
    assert "s3cret" not in line
