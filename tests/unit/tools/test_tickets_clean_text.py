"""No control character, terminal escape or bidi override lands in a ticket."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.db import create_engine, upgrade
from tools.settings import load_settings
from tools.tickets.base import Attachment, Caller, TicketDraft
from tools.tickets.embedded import EmbeddedTickets
from tools.tickets.tables import (
    ticket_attachments,
    ticket_comments,
    ticket_events,
    tickets,
)

CLEAR = "\x1b[2J"
CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07"
HIDDEN = "\x1b[8m"
RLO = "\u202e"
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
async def engine(app_database_url: str | None) -> AsyncIterator[AsyncEngine]:
    settings = load_settings(database_url=app_database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    created = create_engine(settings)
    await upgrade(created)
    yield created
    await created.dispose()


def _hostile(text: str) -> str:
    return f"{CLEAR}{text}{HIDDEN}\x00{RLO}{CLIPBOARD}"


async def _stored(engine: AsyncEngine) -> list[Any]:
    """Every value of every ticket table, as stored."""
    values: list[Any] = []
    async with engine.connect() as conn:
        for table in (tickets, ticket_comments, ticket_events, ticket_attachments):
            for row in (await conn.execute(sa.select(table))).all():
                values.extend(row)
    return values


async def test_every_text_of_a_ticket_is_stored_without_controls(
    engine: AsyncEngine,
) -> None:
    desk = EmbeddedTickets(engine, load_settings())
    caller = Caller(
        object_id="local-user",
        tenant_id="tenant-1",
        upn=_hostile("alex@contoso.example"),
        name=_hostile("Alex Employee"),
    )

    ticket = await desk.acreate(
        TicketDraft(
            idempotency_key="approval-1",
            caller=caller,
            short_description=_hostile("Laptop will not start"),
            description=_hostile("Black screen.\r\nThen nothing."),
            category="hardware",
            service=_hostile("Laptops"),
            transcript=_hostile("Alex: my laptop will not start"),
            tried=[_hostile("Restarted it")],
            links=[(_hostile("Conversation"), "https://teams.example/l/chat/1")],
        )
    )
    await desk.acomment(
        ticket.label, _hostile("It beeps twice"), author="local-user", from_caller=True
    )
    await desk.aassign(
        ticket.label, group=_hostile("Desk"), assignee=_hostile("Sam"), by="Sam"
    )
    await desk.acomment(
        ticket.label, _hostile("Bring it by"), author=_hostile("Sam"), from_caller=False
    )
    await desk.aattach(
        ticket.label,
        Attachment(
            name=_hostile("boot.log"),
            content_type="text/plain",
            data=_hostile("boot failed").encode(),
        ),
    )
    await desk.aset_state(ticket.label, "on_hold", by="Sam", note=_hostile("Which?"))

    stored = await _stored(engine)
    texts = [v.decode() if isinstance(v, bytes) else v for v in stored]
    dirty = [v for v in texts if isinstance(v, str) and _UNWANTED.search(v)]
    assert dirty == []
    shown = await desk.adetails(ticket.label)
    assert shown.ticket.short_description == "Laptop will not start"
    assert shown.ticket.description == "Black screen.\nThen nothing."
    assert shown.ticket.caller.name == "Alex Employee"
    assert [c.body for c in shown.ticket.comments if not c.work_note] == [
        "It beeps twice",
        "Bring it by",
        "Which?",
    ]
    assert (shown.ticket.assignment_group, shown.ticket.assigned_to) == ("Desk", "Sam")
    assert [a.name for a in shown.attachments] == ["boot.log"]
