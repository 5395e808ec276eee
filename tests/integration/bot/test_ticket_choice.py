""" "Did this fix it?": the caller's click closes or reopens their ticket, once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ticket_news import (
    NOT_FIXED_COMMENT,
    TicketChoice,
    apply_ticket_choice,
    decide_ticket_choice,
)
from tools.db import create_engine, upgrade
from tools.identity import Requester
from tools.settings import load_settings
from tools.tickets.base import Caller, TicketDraft
from tools.tickets.embedded import EmbeddedTickets

CALLER = Requester(
    object_id="priya-shah",
    tenant_id="contoso",
    upn="priya.shah@contoso.example",
    name="Priya Shah",
)


@pytest.fixture
async def engine(app_database_url: str | None) -> AsyncIterator[AsyncEngine]:
    settings = load_settings(database_url=app_database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings)
    await upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def tickets(engine: AsyncEngine) -> EmbeddedTickets:
    return EmbeddedTickets(engine, load_settings())


async def _resolved(tickets: EmbeddedTickets) -> str:
    draft = TicketDraft(
        idempotency_key=uuid.uuid4().hex,
        caller=Caller(
            object_id=CALLER.object_id,
            tenant_id=CALLER.tenant_id,
            upn=CALLER.upn,
            name=CALLER.name,
        ),
        short_description="VPN drops every few minutes",
        description="The VPN disconnects every five minutes since Monday.",
        category="network",
    )
    ticket = await tickets.acreate(draft)
    assert ticket.number is not None
    await tickets.aset_state(
        ticket.number, "resolved", by="Alex Tech", note="Replaced the VPN profile."
    )
    return ticket.number


def _choice(number: str, *, fixed: bool) -> TicketChoice:
    return TicketChoice(number, f"{number}:resolved:1", fixed=fixed)


async def test_yes_closes_the_ticket_and_a_second_click_changes_nothing(
    tickets: EmbeddedTickets,
) -> None:
    number = await _resolved(tickets)

    first = await decide_ticket_choice(_choice(number, fixed=True), CALLER, tickets)
    again = await decide_ticket_choice(_choice(number, fixed=True), CALLER, tickets)
    ticket = await tickets.aget(number)

    assert (first.outcome, first.redraw) == ("closed", True)
    assert first.reply == f"Thanks! I closed {number}. Glad it's fixed."
    assert (again.outcome, again.redraw) == ("already_closed", False)
    assert again.reply == f"{number} is already closed."
    assert ticket.state == "closed"


async def test_no_reopens_with_a_caller_comment_once(
    tickets: EmbeddedTickets,
) -> None:
    number = await _resolved(tickets)

    reply = await apply_ticket_choice(_choice(number, fixed=False), CALLER, tickets)
    again = await decide_ticket_choice(_choice(number, fixed=False), CALLER, tickets)
    late_yes = await decide_ticket_choice(_choice(number, fixed=True), CALLER, tickets)
    ticket = await tickets.aget(number)

    assert reply.startswith(f"Sorry it's not fixed. I reopened {number}")
    assert again.outcome == late_yes.outcome == "already_open"
    assert ticket.state == "in_progress"
    caller_comments = [c for c in ticket.comments if c.from_caller]
    assert [c.body for c in caller_comments] == [NOT_FIXED_COMMENT]


async def test_no_on_a_closed_ticket_offers_a_new_one(tickets: EmbeddedTickets) -> None:
    number = await _resolved(tickets)
    await tickets.aset_state(number, "closed", by="Alex Tech")

    result = await decide_ticket_choice(_choice(number, fixed=False), CALLER, tickets)

    assert result.outcome == "already_closed"
    assert "I'll open a new ticket" in result.reply


@pytest.mark.parametrize(
    "clicker",
    [
        Requester(
            object_id="sam-rivera", tenant_id="contoso", upn="sam@contoso.example"
        ),
        Requester(object_id="priya-shah", tenant_id="fabrikam"),
        Requester(object_id="someone", tenant_id="contoso"),
    ],
    ids=["colleague", "same-id-other-tenant", "no-upn"],
)
async def test_someone_else_is_refused_without_the_tickets_details(
    tickets: EmbeddedTickets, clicker: Requester
) -> None:
    number = await _resolved(tickets)

    result = await decide_ticket_choice(_choice(number, fixed=True), clicker, tickets)
    ticket = await tickets.aget(number)

    assert result.outcome == "not_yours"
    assert number not in result.reply
    assert "VPN" not in result.reply
    assert ticket.state == "resolved"


async def test_the_same_upn_in_another_case_is_the_caller(
    tickets: EmbeddedTickets,
) -> None:
    number = await _resolved(tickets)
    same_person = Requester(
        object_id="priya-shah-guest-id",
        tenant_id="contoso",
        upn="Priya.Shah@CONTOSO.example",
    )

    result = await decide_ticket_choice(
        _choice(number, fixed=True), same_person, tickets
    )

    assert result.outcome == "closed"


async def test_an_unknown_ticket_is_said_plainly(tickets: EmbeddedTickets) -> None:
    result = await decide_ticket_choice(
        _choice("INC0999999", fixed=True), CALLER, tickets
    )

    assert result.outcome == "not_found"
    assert result.reply.startswith("I can't find ticket INC0999999.")
