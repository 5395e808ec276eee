"""Live hand-off to a person: the shared types.

CONTRACT: shared by the store (:mod:`tools.handoff.store`), the tool
(:mod:`tools.handoff.tool`), the bot's relay (:mod:`bot.handoff`) and the
``helpdesk agent`` terminal.

A hand-off moves only forward, each step a conditional UPDATE, so that two
clicks, two replicas or a re-sent activity change it once::

    waiting ──take──▶ active ──hand back──▶ returned
       │                 └────close───────▶ closed
       └──nobody in time / outside hours──▶ withdrawn

While a hand-off of a conversation is ``waiting`` or ``active`` the copilot
stays quiet there: what the employee writes becomes a relay message to the
agent (held until pickup), and what an agent writes in the hand-off's thread
in the agents' channel becomes a relay message to the employee. Relay
messages are numbered rows, delivered in order, once, by any replica.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

HandoffStatus = Literal["waiting", "active", "returned", "closed", "withdrawn"]
LIVE: frozenset[str] = frozenset({"waiting", "active"})
Direction = Literal["to_agent", "to_employee"]
AgentStatus = Literal["available", "away"]


@dataclass(frozen=True, slots=True)
class Handoff:
    """One employee's request for a person, and where it stands."""

    handoff_id: str
    tenant_id: str
    employee_id: str
    employee_name: str
    conversation_id: str
    """The employee's conversation with the bot, where replies to them go."""
    status: HandoffStatus
    reason: str
    summary: str
    category: str = "other"
    tried: list[str] = field(default_factory=list)
    transcript: str = ""
    ticket: str | None = None
    """A ticket this conversation already has; the outcome goes onto it."""
    created_at: datetime | None = None
    deadline_at: datetime | None = None
    """Withdrawn, with a ticket offered, when nobody has taken it by then."""
    agent_id: str | None = None
    agent_name: str | None = None
    taken_at: datetime | None = None
    channel_id: str | None = None
    """The agents' channel the card went to."""
    thread_id: str | None = None
    """The card's thread (``<channel>;messageid=<card activity id>``): agents
    write there, and the bot relays there."""
    card_activity_id: str | None = None
    ended_at: datetime | None = None
    end_note: str | None = None

    @property
    def live(self) -> bool:
        return self.status in LIVE


@dataclass(frozen=True, slots=True)
class RelayMessage:
    """One message to relay, numbered in arrival order (``seq``) across the store."""

    seq: int
    handoff_id: str
    direction: Direction
    author_id: str
    author_name: str
    text: str
    attachments: list[dict[str, str]] = field(default_factory=list)
    """Bot Framework attachments (``contentType``, ``contentUrl``, ``name``)."""
    created_at: datetime | None = None
