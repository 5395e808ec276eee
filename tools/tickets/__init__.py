"""Tickets: the contract, the embedded service desk and ServiceNow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from tools.settings import Settings
from tools.tickets.base import TicketSystem


@asynccontextmanager
async def open_tickets(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[TicketSystem]:
    """The configured ticket system, closed on exit.

    ``HELPDESK_TICKET_BACKEND=embedded`` keeps tickets in the app database;
    ``servicenow`` sends them to the instance, through the outbox.
    """
    system: TicketSystem
    if settings.ticket_backend == "servicenow":
        from tools.tickets.servicenow import ServiceNowTickets

        system = ServiceNowTickets(settings, engine)
    else:
        from tools.tickets.embedded import EmbeddedTickets

        system = EmbeddedTickets(engine, settings)
    try:
        yield system
    finally:
        await system.aclose()
