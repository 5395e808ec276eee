"""The hand-off store: sessions, relay messages, agents and the agents' channel.

Every change is a conditional UPDATE or an insert that ignores a duplicate, so
two clicks, two replicas or a re-sent activity change a row once, on SQLite
and on PostgreSQL alike. Relay messages flow in lanes (one hand-off, one
direction); only the first pending message of a lane is handed out, so a lane
is delivered in order even when several replicas poll at once.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.db import as_utc
from tools.handoff.base import (
    LIVE,
    AgentStatus,
    Direction,
    Handoff,
    HandoffStatus,
    RelayMessage,
)
from tools.handoff.tables import (
    handoff_agents,
    handoff_channels,
    handoff_messages,
    handoffs,
)

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
"""How long a replica owns a claimed relay message before another may take it."""
MAX_ATTEMPTS = 10
"""Failed sends of one message before it is marked ``failed`` and its lane moves on."""
_RETRY_CAP_S = 60.0

_ENDINGS: dict[str, str] = {
    "returned": "active",
    "closed": "active",
    "withdrawn": "waiting",
}
"""Each final status and the only status it may be reached from."""


async def open_handoff(
    engine: AsyncEngine,
    *,
    tenant_id: str,
    employee_id: str,
    employee_name: str,
    conversation_id: str,
    reason: str,
    summary: str,
    category: str = "other",
    tried: Sequence[str] = (),
    transcript: str = "",
    ticket: str | None = None,
    deadline_at: datetime | None = None,
) -> tuple[Handoff, bool]:
    """Create a ``waiting`` hand-off, unless the conversation has a live one.

    The insert carries its own "no live hand-off here" condition, and on
    PostgreSQL runs under a transaction lock on the conversation, so a request
    sent twice (or by two replicas) makes one hand-off.

    Returns:
        The conversation's live hand-off, and True when this call created it.
    """
    handoff_id = "ho_" + secrets.token_hex(12)
    values: dict[str, Any] = {
        "handoff_id": handoff_id,
        "tenant_id": tenant_id,
        "employee_id": employee_id,
        "employee_name": employee_name,
        "conversation_id": conversation_id,
        "status": "waiting",
        "reason": reason,
        "summary": summary,
        "category": category,
        "tried": json.dumps(list(tried)),
        "transcript": transcript,
        "ticket": ticket,
        "created_at": _now(),
        "deadline_at": as_utc(deadline_at) if deadline_at is not None else None,
    }
    columns = list(values)
    live_here = (
        sa.select(sa.literal(1))
        .select_from(handoffs)
        .where(handoffs.c.tenant_id == tenant_id)
        .where(handoffs.c.conversation_id == conversation_id)
        .where(handoffs.c.status.in_(LIVE))
    )
    source = sa.select(
        *[sa.literal(values[c], type_=handoffs.c[c].type).label(c) for c in columns]
    ).where(~live_here.exists())
    insert = handoffs.insert().from_select(columns, source)

    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": f"handoff:{tenant_id}:{conversation_id}"},
            )
        created = int((await conn.execute(insert)).rowcount or 0) == 1
        row = (
            await conn.execute(
                handoffs.select()
                .where(handoffs.c.tenant_id == tenant_id)
                .where(handoffs.c.conversation_id == conversation_id)
                .where(handoffs.c.status.in_(LIVE))
                .order_by(handoffs.c.created_at)
                .limit(1)
            )
        ).one()
    if created:
        logger.info("hand-off %s opened for %s", handoff_id, employee_id)
    return _handoff(row), created


async def get_handoff(engine: AsyncEngine, handoff_id: str) -> Handoff | None:
    """The hand-off ``handoff_id``, or None when there is none."""
    return await _one(
        engine, handoffs.select().where(handoffs.c.handoff_id == handoff_id)
    )


async def live_for_conversation(
    engine: AsyncEngine, tenant_id: str, conversation_id: str
) -> Handoff | None:
    """The conversation's waiting or active hand-off, if any."""
    query = (
        handoffs.select()
        .where(handoffs.c.tenant_id == tenant_id)
        .where(handoffs.c.conversation_id == conversation_id)
        .where(handoffs.c.status.in_(LIVE))
        .order_by(handoffs.c.created_at)
        .limit(1)
    )
    return await _one(engine, query)


async def by_thread(engine: AsyncEngine, thread_id: str) -> Handoff | None:
    """The newest hand-off whose card thread is ``thread_id``, whatever its status."""
    query = (
        handoffs.select()
        .where(handoffs.c.thread_id == thread_id)
        .order_by(handoffs.c.created_at.desc())
        .limit(1)
    )
    return await _one(engine, query)


async def claim_card(
    engine: AsyncEngine,
    handoff_id: str,
    *,
    hold: timedelta = LEASE,
    now: datetime | None = None,
) -> bool:
    """Claim the posting of a waiting hand-off's card, for ``hold``.

    True for one caller at a time: the turn that opened the hand-off, or the
    background job retrying a post that failed. A posted card is never
    claimed again, so it is posted once.
    """
    now = as_utc(now or _now())
    h = handoffs
    statement = (
        h.update()
        .where(h.c.handoff_id == handoff_id)
        .where(h.c.status == "waiting")
        .where(h.c.card_activity_id.is_(None))
        .where(sa.or_(h.c.card_claimed_until.is_(None), h.c.card_claimed_until <= now))
        .values(card_claimed_until=now + hold)
    )
    return await _changed(engine, statement)


async def unposted(
    engine: AsyncEngine, *, now: datetime | None = None
) -> list[Handoff]:
    """Waiting hand-offs whose card is not posted and not claimed, oldest first."""
    now = as_utc(now or _now())
    h = handoffs
    query = (
        h.select()
        .where(h.c.status == "waiting")
        .where(h.c.card_activity_id.is_(None))
        .where(sa.or_(h.c.card_claimed_until.is_(None), h.c.card_claimed_until <= now))
        .order_by(h.c.created_at)
        .limit(50)
    )
    return await _many(engine, query)


async def note_card(
    engine: AsyncEngine,
    handoff_id: str,
    *,
    channel_id: str,
    thread_id: str,
    card_activity_id: str,
) -> None:
    """Remember where the hand-off's card was posted in the agents' channel."""
    statement = (
        handoffs.update()
        .where(handoffs.c.handoff_id == handoff_id)
        .values(
            channel_id=channel_id,
            thread_id=thread_id,
            card_activity_id=card_activity_id,
        )
    )
    async with engine.begin() as conn:
        await conn.execute(statement)


async def take(
    engine: AsyncEngine, handoff_id: str, *, agent_id: str, agent_name: str
) -> bool:
    """Give a waiting hand-off to an agent; True for exactly one caller."""
    statement = (
        handoffs.update()
        .where(handoffs.c.handoff_id == handoff_id)
        .where(handoffs.c.status == "waiting")
        .values(
            status="active", agent_id=agent_id, agent_name=agent_name, taken_at=_now()
        )
    )
    return await _changed(engine, statement)


async def finish(
    engine: AsyncEngine, handoff_id: str, status: HandoffStatus, *, note: str = ""
) -> bool:
    """End a hand-off: ``returned`` or ``closed`` from active, ``withdrawn`` from
    waiting. True once, for the caller that changed it.

    Raises:
        ValueError: ``status`` is not one of the three endings.
    """
    origin = _ENDINGS.get(status)
    if origin is None:
        raise ValueError(
            f"a hand-off ends as returned, closed or withdrawn, not {status!r}"
        )
    statement = (
        handoffs.update()
        .where(handoffs.c.handoff_id == handoff_id)
        .where(handoffs.c.status == origin)
        .values(status=status, ended_at=_now(), end_note=note or None)
    )
    return await _changed(engine, statement)


async def queue(engine: AsyncEngine, tenant_id: str | None = None) -> list[Handoff]:
    """Waiting hand-offs, oldest first (of one tenant when ``tenant_id`` is given)."""
    query = handoffs.select().where(handoffs.c.status == "waiting")
    if tenant_id is not None:
        query = query.where(handoffs.c.tenant_id == tenant_id)
    return await _many(engine, query.order_by(handoffs.c.created_at))


async def overdue(engine: AsyncEngine, *, now: datetime | None = None) -> list[Handoff]:
    """Waiting hand-offs whose pickup deadline has passed, oldest first."""
    query = (
        handoffs.select()
        .where(handoffs.c.status == "waiting")
        .where(handoffs.c.deadline_at.is_not(None))
        .where(handoffs.c.deadline_at <= as_utc(now or _now()))
        .order_by(handoffs.c.deadline_at)
    )
    return await _many(engine, query)


async def idle_active(
    engine: AsyncEngine, *, idle: timedelta, now: datetime | None = None
) -> list[Handoff]:
    """Active hand-offs with no message either way for ``idle`` (since taken,
    when nothing was written yet): an agent who left without closing."""
    now = as_utc(now or _now())
    h, m = handoffs, handoff_messages
    last = (
        sa.select(sa.func.max(m.c.created_at))
        .where(m.c.handoff_id == h.c.handoff_id)
        .scalar_subquery()
    )
    query = (
        h.select()
        .where(h.c.status == "active")
        .where(sa.func.coalesce(last, h.c.taken_at) <= now - idle)
        .order_by(h.c.taken_at)
        .limit(100)
    )
    return await _many(engine, query)


async def add_message(
    engine: AsyncEngine,
    *,
    handoff_id: str,
    direction: Direction,
    author_id: str,
    author_name: str,
    text: str,
    attachments: Iterable[dict[str, str]] = (),
    source_key: str,
) -> bool:
    """Append a relay message; False when ``source_key`` was already stored.

    Args:
        source_key: the activity id it came from, so a re-sent activity is one
            message.
    """
    values = {
        "handoff_id": handoff_id,
        "direction": direction,
        "author_id": author_id,
        "author_name": author_name,
        "text": text,
        "attachments": json.dumps(list(attachments)),
        "source_key": source_key,
        "created_at": _now(),
        "status": "pending",
        "attempts": 0,
    }
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(handoff_messages)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["source_key"])
    )
    async with engine.begin() as conn:
        result = await conn.execute(statement)
    return int(result.rowcount or 0) == 1


async def count_messages(
    engine: AsyncEngine, handoff_id: str, direction: Direction
) -> int:
    """How many relay messages a hand-off has in one direction."""
    m = handoff_messages
    query = (
        sa.select(sa.func.count())
        .select_from(m)
        .where(m.c.handoff_id == handoff_id)
        .where(m.c.direction == direction)
    )
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def due_messages(
    engine: AsyncEngine,
    *,
    limit: int = 50,
    now: datetime | None = None,
    handoff_id: str | None = None,
) -> list[RelayMessage]:
    """Claim, for :data:`LEASE`, the first pending message of each lane that may flow.

    ``to_agent`` flows only while the hand-off is active: what the employee
    writes while it waits is held and follows on pickup, in order.
    ``to_employee`` flows once an agent has taken it, also after the agent
    ended it, so a closing word still arrives. A lane whose first message is
    leased by another replica is skipped: order holds, the next message is
    handed out only after this one is marked.

    With ``handoff_id``, only that hand-off's lanes.

    Returns:
        The claimed messages, in ``seq`` order.
    """
    now = as_utc(now or _now())
    m, h = handoff_messages, handoffs
    pending = sa.select(sa.func.min(m.c.seq).label("seq")).where(
        m.c.status == "pending"
    )
    if handoff_id is not None:
        # One conversation's turn relays its own lanes, not everyone's.
        pending = pending.where(m.c.handoff_id == handoff_id)
    heads = pending.group_by(m.c.handoff_id, m.c.direction).subquery()
    may_flow = sa.or_(
        sa.and_(m.c.direction == "to_agent", h.c.status == "active"),
        sa.and_(m.c.direction == "to_employee", h.c.status != "waiting"),
    )
    free = sa.or_(m.c.lease_until.is_(None), m.c.lease_until <= now)
    query = (
        sa.select(m.c.seq)
        .join(heads, heads.c.seq == m.c.seq)
        .join(h, h.c.handoff_id == m.c.handoff_id)
        .where(may_flow)
        .where(free)
        .order_by(m.c.seq)
        .limit(limit)
    )
    async with engine.connect() as conn:
        seqs = list((await conn.execute(query)).scalars())

    claimed: list[RelayMessage] = []
    for seq in seqs:
        claim = (
            m.update()
            .where(m.c.seq == seq)
            .where(m.c.status == "pending")
            .where(free)
            .values(lease_until=now + LEASE)
        )
        async with engine.begin() as conn:
            if int((await conn.execute(claim)).rowcount or 0) != 1:
                continue  # another replica claimed it first
            row = (await conn.execute(m.select().where(m.c.seq == seq))).one()
        claimed.append(_message(row))
    return claimed


async def mark_message(
    engine: AsyncEngine, seq: int, *, delivered: bool, error: str | None = None
) -> None:
    """Record a claimed message as delivered, or release it for another try.

    A released message waits a short backoff before it is due again; after
    :data:`MAX_ATTEMPTS` failed sends it is ``failed`` and its lane moves on.
    """
    now = _now()
    m = handoff_messages
    if delivered:
        values: dict[str, Any] = {
            "status": "delivered",
            "delivered_at": now,
            "lease_until": None,
            "last_error": None,
        }
    else:
        async with engine.connect() as conn:
            attempts = (
                await conn.execute(sa.select(m.c.attempts).where(m.c.seq == seq))
            ).scalar_one_or_none() or 0
        attempts += 1
        wait = min(_RETRY_CAP_S, 2.0 ** (attempts - 1))
        values = {
            "attempts": attempts,
            "last_error": error,
            "lease_until": now + timedelta(seconds=wait),
        }
        if attempts >= MAX_ATTEMPTS:
            values["status"] = "failed"
            logger.error(
                "relay message %d failed after %d attempts: %s", seq, attempts, error
            )
    statement = m.update().where(m.c.seq == seq).where(m.c.status == "pending")
    async with engine.begin() as conn:
        await conn.execute(statement.values(**values))


async def transcript_of(engine: AsyncEngine, handoff_id: str) -> list[RelayMessage]:
    """Every relay message of a hand-off, both directions, in arrival order."""
    m = handoff_messages
    query = m.select().where(m.c.handoff_id == handoff_id).order_by(m.c.seq)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [_message(row) for row in rows]


async def set_agent_status(
    engine: AsyncEngine,
    *,
    tenant_id: str,
    agent_id: str,
    name: str,
    status: AgentStatus,
) -> None:
    """Record that a support agent is available or away."""
    values = {
        "tenant_id": tenant_id,
        "agent_id": agent_id,
        "name": name,
        "status": status,
        "updated_at": _now(),
    }
    await _upsert(engine, handoff_agents, values, keys=["tenant_id", "agent_id"])


async def agents(
    engine: AsyncEngine, tenant_id: str
) -> list[tuple[str, str, AgentStatus]]:
    """The tenant's agents as (id, name, status), by name."""
    a = handoff_agents
    query = (
        sa.select(a.c.agent_id, a.c.name, a.c.status)
        .where(a.c.tenant_id == tenant_id)
        .order_by(a.c.name, a.c.agent_id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [(row.agent_id, row.name, row.status) for row in rows]


async def set_channel(
    engine: AsyncEngine,
    *,
    tenant_id: str,
    channel_id: str,
    reference: dict[str, Any],
    designated_by: str,
) -> None:
    """Make ``channel_id`` the tenant's agents' channel (replacing any other).

    Args:
        reference: the Bot Framework conversation reference to post there.
    """
    values = {
        "tenant_id": tenant_id,
        "channel_id": channel_id,
        "reference": json.dumps(reference),
        "designated_by": designated_by,
        "designated_at": _now(),
    }
    await _upsert(engine, handoff_channels, values, keys=["tenant_id"])


async def get_channel(
    engine: AsyncEngine, tenant_id: str
) -> tuple[str, dict[str, Any]] | None:
    """The tenant's agents' channel and its conversation reference, if designated."""
    c = handoff_channels
    query = sa.select(c.c.channel_id, c.c.reference).where(c.c.tenant_id == tenant_id)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one_or_none()
    if row is None:
        return None
    return row.channel_id, json.loads(row.reference)


async def _upsert(
    engine: AsyncEngine, table: sa.Table, values: dict[str, Any], *, keys: list[str]
) -> None:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table).values(**values)
    statement = insert.on_conflict_do_update(
        index_elements=keys,
        set_={k: insert.excluded[k] for k in values if k not in keys},
    )
    async with engine.begin() as conn:
        await conn.execute(statement)


async def _one(engine: AsyncEngine, query: Any) -> Handoff | None:
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return _handoff(row) if row is not None else None


async def _many(engine: AsyncEngine, query: Any) -> list[Handoff]:
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [_handoff(row) for row in rows]


async def _changed(engine: AsyncEngine, statement: Any) -> bool:
    async with engine.begin() as conn:
        result = await conn.execute(statement)
    return int(result.rowcount or 0) == 1


def _handoff(row: Any) -> Handoff:
    return Handoff(
        handoff_id=row.handoff_id,
        tenant_id=row.tenant_id,
        employee_id=row.employee_id,
        employee_name=row.employee_name,
        conversation_id=row.conversation_id,
        status=row.status,
        reason=row.reason,
        summary=row.summary,
        category=row.category,
        tried=[str(t) for t in json.loads(row.tried or "[]")],
        transcript=row.transcript,
        ticket=row.ticket,
        created_at=_maybe_utc(row.created_at),
        deadline_at=_maybe_utc(row.deadline_at),
        agent_id=row.agent_id,
        agent_name=row.agent_name,
        taken_at=_maybe_utc(row.taken_at),
        channel_id=row.channel_id,
        thread_id=row.thread_id,
        card_activity_id=row.card_activity_id,
        ended_at=_maybe_utc(row.ended_at),
        end_note=row.end_note,
    )


def _message(row: Any) -> RelayMessage:
    return RelayMessage(
        seq=int(row.seq),
        handoff_id=row.handoff_id,
        direction=row.direction,
        author_id=row.author_id,
        author_name=row.author_name,
        text=row.text,
        attachments=list(json.loads(row.attachments or "[]")),
        created_at=_maybe_utc(row.created_at),
    )


def _maybe_utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _now() -> datetime:
    return datetime.now(UTC)
