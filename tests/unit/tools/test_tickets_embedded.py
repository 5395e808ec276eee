"""The embedded service desk: numbers, idempotency, redaction, states and events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.db import create_engine, upgrade
from tools.errors import InvalidInput, MissingDetail, NotFound, ToolError
from tools.settings import load_settings
from tools.tickets.base import Attachment, Caller, Level, TicketDraft
from tools.tickets.embedded import (
    MAX_ATTACHMENT_BYTES,
    EmbeddedTickets,
    normalize_number,
)
from tools.tickets.tables import ticket_attachments, ticket_events, tickets

ALEX = Caller(
    object_id="local-user",
    tenant_id="tenant-1",
    upn="alex@contoso.example",
    name="Alex Employee",
)
PRIYA = Caller(
    object_id="priya-shah", tenant_id="tenant-1", upn="priya@contoso.example"
)


@pytest.fixture
async def engine(app_database_url: str | None) -> AsyncIterator[AsyncEngine]:
    settings = load_settings(database_url=app_database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    created = create_engine(settings)
    await upgrade(created)
    yield created
    await created.dispose()


@pytest.fixture
def desk(engine: AsyncEngine) -> EmbeddedTickets:
    return EmbeddedTickets(engine, load_settings())


def _draft(key: str = "approval-1", **changes: Any) -> TicketDraft:
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "caller": ALEX,
        "short_description": "Laptop will not start",
        "description": "The laptop shows a black screen after the logo.",
        "category": "hardware",
        "transcript": "Alex: my laptop will not start",
        "tried": ["Showed the article 'Laptop will not turn on'"],
        "links": [("Conversation", "https://teams.example/l/chat/1")],
        "conversation_id": "conv-1",
    }
    fields.update(changes)
    return TicketDraft(**fields)


async def _events(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        query = ticket_events.select().order_by(ticket_events.c.created_at)
        return list((await conn.execute(query)).all())


async def test_numbers_start_at_inc0001001_and_count_up(desk: EmbeddedTickets) -> None:
    first = await desk.acreate(_draft("a"))
    second = await desk.acreate(_draft("b", caller=PRIYA))

    assert (first.number, second.number) == ("INC0001001", "INC0001002")
    assert first.reference == first.number
    assert first.state == "new"
    assert first.assignment_group == "Service Desk"
    assert not first.pending
    assert (await desk.aget(" inc0001002 ")).caller == PRIYA
    assert (await desk.aget("1001")).number == "INC0001001"


@pytest.mark.parametrize(
    ("label", "number"),
    [
        pytest.param("INC0001001", "INC0001001", id="number"),
        pytest.param("inc 1001", "INC0001001", id="short-lowercase"),
        pytest.param("1001", "INC0001001", id="digits"),
        pytest.param("REF-12", None, id="not-a-number"),
        pytest.param("INC12345678", None, id="too-long"),
    ],
)
def test_labels_are_read_as_numbers(label: str, number: str | None) -> None:
    assert normalize_number(label) == number


async def test_one_key_makes_one_ticket_even_when_five_calls_race(
    desk: EmbeddedTickets, engine: AsyncEngine
) -> None:
    again = [await desk.acreate(_draft("twice")) for _ in range(2)]
    raced = await asyncio.gather(*(desk.acreate(_draft("race")) for _ in range(5)))

    assert again[0].number == again[1].number
    assert len({t.number for t in raced}) == 1
    assert raced[0].number is not None
    async with engine.connect() as conn:
        count = (
            await conn.execute(sa.select(sa.func.count()).select_from(tickets))
        ).scalar_one()
    assert count == 2


async def test_secrets_never_reach_the_stored_ticket(
    desk: EmbeddedTickets, engine: AsyncEngine
) -> None:
    ticket = await desk.acreate(
        _draft(
            short_description="Locked out, my password is Hunter2!",
            description="I tried everything, my password is Hunter2!",
            transcript="Alex: my password is Hunter2!",
            tried=["password: Hunter2!"],
        )
    )
    await desk.acomment(
        ticket.label, "new one: pwd=Tr0ub4dor&3", author="Sam", from_caller=False
    )

    assert ticket.description == "I tried everything, my password is [redacted]"
    async with engine.connect() as conn:
        row = (await conn.execute(tickets.select())).one()
    assert "Hunter2" not in repr(tuple(row))
    details = await desk.adetails(ticket.label)
    assert "Tr0ub4dor" not in details.ticket.comments[0].body
    assert [e.text for e in await _events(engine)] == ["new one: pwd=[redacted]"]


async def test_short_description_is_one_line_of_at_most_160_characters(
    desk: EmbeddedTickets,
) -> None:
    ticket = await desk.acreate(_draft(short_description="Printer\njams " * 40))

    assert len(ticket.short_description) == 160
    assert "\n" not in ticket.short_description
    assert ticket.short_description.endswith("…")


async def test_lists_by_caller_open_only_and_newest_first(
    desk: EmbeddedTickets,
) -> None:
    old = await desk.acreate(_draft("a"))
    new = await desk.acreate(_draft("b"))
    await desk.acreate(_draft("c", caller=PRIYA))
    await desk.aset_state(old.label, "resolved", by="Sam", note="Replaced the disk.")

    open_only = await desk.alist(caller_id="local-user")
    everything = await desk.alist(caller_upn="ALEX@contoso.example", open_only=False)
    queue = await desk.alist(group="service desk", limit=2)

    assert [t.number for t in open_only] == [new.number]
    assert [t.number for t in everything] == [new.number, old.number]
    assert [t.caller.object_id for t in queue] == ["priya-shah", "local-user"]
    assert await desk.alist(group="Network") == []
    with pytest.raises(InvalidInput):
        await desk.alist(limit=0)


async def test_staff_comment_raises_one_event_and_a_caller_comment_none(
    desk: EmbeddedTickets, engine: AsyncEngine
) -> None:
    ticket = await desk.acreate(_draft())

    await desk.acomment(ticket.label, "I am on it.", author="Sam", from_caller=False)
    await desk.acomment(ticket.label, "Thanks!", author="Alex", from_caller=True)
    await desk.acomment(
        ticket.label,
        "Disk looks dead.",
        author="Sam",
        from_caller=False,
        work_note=True,
    )

    [event] = await _events(engine)
    assert event.event_id.startswith("INC0001001:comment:")
    assert (event.kind, event.text, event.author) == ("commented", "I am on it.", "Sam")
    assert (event.tenant_id, event.caller_id) == ("tenant-1", "local-user")
    assert (event.conversation_id, event.reference) == ("conv-1", "INC0001001")
    assert event.status == "pending"
    staff = (await desk.aget(ticket.label, work_notes=True)).comments
    caller = (await desk.aget(ticket.label)).comments
    assert [(c.body, c.from_caller, c.work_note) for c in staff] == [
        ("I am on it.", False, False),
        ("Thanks!", True, False),
        ("Disk looks dead.", False, True),
    ]
    assert [c.body for c in caller] == ["I am on it.", "Thanks!"]


async def test_a_staff_comment_on_hold_is_a_question_and_the_answer_resumes(
    desk: EmbeddedTickets, engine: AsyncEngine
) -> None:
    ticket = await desk.acreate(_draft())
    await desk.aset_state(ticket.label, "on_hold", by="Sam")

    await desk.acomment(ticket.label, "Which model?", author="Sam", from_caller=False)
    answered = await desk.acomment(
        ticket.label, "A T14.", author="Alex", from_caller=True
    )

    assert [e.kind for e in await _events(engine)] == ["question"]
    assert answered.state == "in_progress"


async def test_resolving_needs_a_note_and_raises_one_event(
    desk: EmbeddedTickets, engine: AsyncEngine
) -> None:
    ticket = await desk.acreate(_draft())

    with pytest.raises(MissingDetail) as missing:
        await desk.aset_state(ticket.label, "resolved", by="Sam", note="  ")
    resolved = await desk.aset_state(
        ticket.label, "resolved", by="Sam", note="Replaced the disk."
    )
    again = await desk.aset_state(ticket.label, "resolved", by="Sam", note="Again.")

    assert missing.value.field == "note"
    assert resolved.state == again.state == "resolved"
    assert again.resolution_note == "Replaced the disk."
    [event] = await _events(engine)
    assert (event.kind, event.text, event.author) == (
        "resolved",
        "Replaced the disk.",
        "Sam",
    )
    details = await desk.adetails(ticket.label)
    assert details.resolved_at is not None


async def test_reopen_then_close_and_closed_is_final(
    desk: EmbeddedTickets, engine: AsyncEngine
) -> None:
    ticket = await desk.acreate(_draft())
    await desk.aset_state(ticket.label, "resolved", by="Sam", note="Rebooted.")

    with pytest.raises(ToolError):
        await desk.aset_state(ticket.label, "on_hold", by="Sam")
    reopened = await desk.aset_state(
        ticket.label, "in_progress", by="alex@contoso.example", note="Still dead."
    )
    await desk.aset_state(ticket.label, "resolved", by="Sam", note="Try again.")
    await desk.aset_state(ticket.label, "in_progress", by="Sam", note="Reopened.")
    await desk.aset_state(ticket.label, "resolved", by="Sam", note="New disk.")
    closed = await desk.aset_state(ticket.label, "closed", by="Sam")
    with pytest.raises(ToolError) as final:
        await desk.aset_state(ticket.label, "in_progress", by="Sam")
    with pytest.raises(ToolError):
        await desk.acomment(ticket.label, "Hello?", author="Alex", from_caller=True)

    assert reopened.state == "in_progress"
    assert reopened.resolution_note is None
    assert reopened.comments[-1].from_caller
    assert closed.state == "closed"
    assert "open a new ticket" in final.value.user_message
    kinds = [e.kind for e in await _events(engine)]
    # The caller who reopened it is not told; staff reopening it tell them.
    assert kinds == ["resolved", "resolved", "reopened", "resolved", "closed"]
    assert len({e.event_id for e in await _events(engine)}) == 5


async def test_a_caller_closing_their_own_ticket_is_not_told_about_it(
    desk: EmbeddedTickets, engine: AsyncEngine
) -> None:
    ticket = await desk.acreate(_draft())

    await desk.aset_state(ticket.label, "closed", by="local-user")

    assert await _events(engine) == []


async def test_on_hold_with_a_question_tells_the_caller(
    desk: EmbeddedTickets, engine: AsyncEngine
) -> None:
    ticket = await desk.acreate(_draft())

    held = await desk.aset_state(
        ticket.label, "on_hold", by="Sam", note="Is it plugged in?"
    )

    [event] = await _events(engine)
    assert (event.kind, event.text) == ("question", "Is it plugged in?")
    assert held.comments[-1].body == "Is it plugged in?"
    assert not held.comments[-1].work_note


@pytest.mark.parametrize(
    ("urgency", "impact", "priority", "hours"),
    [
        pytest.param("high", "high", 1, 4, id="critical"),
        pytest.param("high", "medium", 2, 8, id="high"),
        pytest.param("medium", "medium", 3, 24, id="moderate"),
        pytest.param("medium", "low", 4, 72, id="low"),
        pytest.param("low", "low", 5, 120, id="planning"),
    ],
)
async def test_sla_due_time_follows_the_priority(
    desk: EmbeddedTickets, urgency: Level, impact: Level, priority: int, hours: int
) -> None:
    ticket = await desk.acreate(_draft(urgency=urgency, impact=impact))

    assert ticket.priority == priority
    assert ticket.created_at is not None
    assert ticket.sla_due_at == ticket.created_at + timedelta(hours=hours)


async def test_assigning_a_person_starts_work_and_leaves_a_work_note(
    desk: EmbeddedTickets,
) -> None:
    ticket = await desk.acreate(_draft())

    assigned = await desk.aassign(
        ticket.label, group="Hardware", assignee="Sam Rivera", by="Dana"
    )

    assert (assigned.assignment_group, assigned.assigned_to) == (
        "Hardware",
        "Sam Rivera",
    )
    assert assigned.state == "in_progress"
    assert assigned.comments == []
    [note] = (await desk.adetails(ticket.label)).ticket.comments
    assert note.work_note
    assert note.author == "Dana"
    with pytest.raises(InvalidInput):
        await desk.aassign(ticket.label, group=" ", assignee=None, by="Dana")


async def test_unknown_number_is_not_found_in_plain_words(
    desk: EmbeddedTickets,
) -> None:
    with pytest.raises(NotFound) as missing:
        await desk.aget("INC0009999")

    assert missing.value.user_message.startswith("I can't find ticket INC0009999.")


@pytest.mark.parametrize(
    ("content_type", "size", "accepted"),
    [
        pytest.param("image/png", 1024, True, id="png"),
        pytest.param("application/pdf", MAX_ATTACHMENT_BYTES, True, id="pdf-at-limit"),
        pytest.param("image/png", MAX_ATTACHMENT_BYTES + 1, False, id="too-large"),
        pytest.param("application/zip", 1024, False, id="zip"),
        pytest.param("image/svg+xml", 1024, False, id="svg"),
        pytest.param("image/png", 0, False, id="empty"),
    ],
)
async def test_attachments_are_limited_by_size_and_type(
    desk: EmbeddedTickets, content_type: str, size: int, accepted: bool
) -> None:
    ticket = await desk.acreate(_draft())
    file = Attachment("C:\\Users\\alex\\shot.png", content_type, b"x" * size)

    if not accepted:
        with pytest.raises(InvalidInput):
            await desk.aattach(ticket.label, file)
        return
    await desk.aattach(ticket.label, file)
    [info] = (await desk.adetails(ticket.label)).attachments
    assert (info.name, info.content_type, info.size) == ("shot.png", content_type, size)


async def test_text_files_are_redacted_too(
    desk: EmbeddedTickets, engine: AsyncEngine
) -> None:
    ticket = await desk.acreate(_draft())

    await desk.aattach(
        ticket.label,
        Attachment("log.txt", "text/plain; charset=utf-8", b"login ok\npwd=Hunter2!\n"),
    )

    async with engine.connect() as conn:
        data = (await conn.execute(sa.select(ticket_attachments.c.data))).scalar_one()
    assert data == b"login ok\npwd=[redacted]\n"


async def test_details_keep_the_hand_off_context(desk: EmbeddedTickets) -> None:
    ticket = await desk.acreate(_draft())

    details = await desk.adetails(ticket.label)

    assert details.transcript == "Alex: my laptop will not start"
    assert details.tried == ["Showed the article 'Laptop will not turn on'"]
    assert details.links == [("Conversation", "https://teams.example/l/chat/1")]


async def test_racing_resolutions_raise_one_event(
    desk: EmbeddedTickets, engine: AsyncEngine
) -> None:
    ticket = await desk.acreate(_draft())

    results = await asyncio.gather(
        *(
            desk.aset_state(ticket.label, "resolved", by="Sam", note="Rebooted.")
            for _ in range(4)
        )
    )

    assert {t.state for t in results} == {"resolved"}
    assert [e.kind for e in await _events(engine)] == ["resolved"]
