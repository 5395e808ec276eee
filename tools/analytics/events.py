"""Writing, reading and forgetting analytics events, with the least personal data.

A row carries the tenant id, a keyed hash of the conversation, a keyed hash of
the employee, the kind of event, the tool, a short redacted detail and a
number. Never a name, a UPN, or message text, with two exceptions, both
redacted by :func:`tools.redact.clean_for_ticket` and cut to
:data:`MAX_DETAIL_CHARS`: the question behind a ``knowledge_gap`` event, so
that the report can show what the knowledge base is missing, and the comment
an employee chose to type with Teams feedback, which is written for the help
desk to read.

The ``article_*`` events carry an article's source id (its file name or URL)
as their detail: one per article the rated answer cited.

The hash key: HMAC-SHA256 keyed with the bot's app password
(``MICROSOFT_APP_PASSWORD``) when it is set, else with the fixed string
:data:`_LOCAL_KEY`. The password is a per-deployment secret that every
production bot already has, so no new setting is needed, and HMAC does not
reveal its key.

Warning:
    In local mode (no app password) the key is a constant in this source, so
    anyone with a list of user ids can tell which hash is whose: the hashes
    are pseudonyms against casual reading, no more. When the app password is
    rotated, every hash changes: a conversation that spans the rotation
    counts as two, and the same employee as two people.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.analytics.tables import analytics_events
from tools.db import as_utc
from tools.redact import clean_for_ticket
from tools.settings import Settings

logger = logging.getLogger(__name__)

EventKind = Literal[
    "turn",
    "tool_call",
    "tool_failed",
    "ticket_opened",
    "handoff_requested",
    "handoff_taken",
    "resolved_by_user",
    "knowledge_gap",
    "feedback",
    "satisfaction",
    "not_fixed",
    "article_feedback",
    "article_fixed",
]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)
MAX_DETAIL_CHARS = 200
"""A detail is a reason or a question's gist, never a transcript."""
_LOCAL_KEY = b"helpdesk-copilot analytics, local mode"
_TOOL_CHARS = 64


@dataclass(frozen=True, slots=True)
class AnalyticsEvent:
    """One row of ``analytics_events``.

    Build it with :func:`new_event`, which hashes the ids; ``conversation`` and
    ``user_hash`` hold hashes, never raw ids.
    """

    at: datetime
    tenant_id: str
    conversation: str
    kind: EventKind
    user_hash: str | None = None
    tool: str | None = None
    detail: str | None = None
    value: int | None = None


def hash_key(settings: Settings) -> bytes:
    """The HMAC key of this deployment (see the module docstring for which)."""
    if settings.app_password is None:
        return _LOCAL_KEY
    secret = settings.app_password.get_secret_value().encode()
    # Derived, so the stored hashes are not HMACs under the bot's credential.
    return hashlib.sha256(b"helpdesk analytics key\0" + secret).digest()


def conversation_hash(key: bytes, tenant_id: str, conversation_id: str) -> str:
    """The stable pseudonym of a conversation: tenant and conversation together."""
    return _hmac(key, "conversation", tenant_id, conversation_id)


def user_hash(key: bytes, tenant_id: str, user_id: str) -> str:
    """The stable pseudonym of an employee (their Entra object id) in a tenant."""
    return _hmac(key, "user", tenant_id, user_id)


def _hmac(key: bytes, *parts: str) -> str:
    message = "\0".join(parts).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def clean_detail(text: str | None) -> str | None:
    """``text`` fit to store: secrets masked, then cut short, one line."""
    if not text:
        return None
    # Redact first: a cut could split a secret into a piece redaction misses.
    cleaned = " ".join(clean_for_ticket(text).split())
    if len(cleaned) > MAX_DETAIL_CHARS:
        cleaned = cleaned[: MAX_DETAIL_CHARS - 1].rstrip() + "…"
    return cleaned or None


def new_event(
    settings: Settings,
    kind: EventKind,
    *,
    tenant_id: str,
    conversation_id: str,
    user_id: str | None = None,
    tool: str | None = None,
    detail: str | None = None,
    value: int | None = None,
    at: datetime | None = None,
) -> AnalyticsEvent:
    """An event with its ids hashed and its detail cleaned.

    Args:
        settings: gives the hash key.
        kind: what happened.
        tenant_id: the Entra tenant.
        conversation_id: the Teams conversation id (hashed with the tenant).
        user_id: the employee's object id (hashed), when one is involved.
        tool: the tool's name, for tool events.
        detail: a short reason or, for ``knowledge_gap``, the question.
        value: a number: +1/-1 for feedback, 1-5 for satisfaction.
        at: when; now by default.
    """
    key = hash_key(settings)
    return AnalyticsEvent(
        at=at or datetime.now(UTC),
        tenant_id=tenant_id,
        conversation=conversation_hash(key, tenant_id, conversation_id),
        kind=kind,
        user_hash=user_hash(key, tenant_id, user_id) if user_id else None,
        tool=tool,
        detail=detail,
        value=value,
    )


async def record(engine: AsyncEngine, event: AnalyticsEvent) -> bool:
    """Append one event; never raises, because analytics must not break a reply.

    The detail is cleaned here too, so that no caller can store raw text.

    Returns:
        True when the row was written; False when it was lost (logged).
    """
    values = asdict(event)
    values["detail"] = clean_detail(event.detail)
    values["tool"] = (event.tool or "")[:_TOOL_CHARS] or None
    values["tenant_id"] = event.tenant_id[:128]
    try:
        async with engine.begin() as conn:
            await conn.execute(analytics_events.insert().values(**values))
    except Exception:
        logger.warning(
            "analytics event %s lost: could not write it", event.kind, exc_info=True
        )
        return False
    return True


async def record_turn(
    engine: AsyncEngine,
    settings: Settings,
    *,
    tenant_id: str,
    conversation_id: str,
    user_id: str,
) -> bool:
    """An employee's message was answered by the copilot (after the reply went)."""
    return await record(
        engine,
        new_event(
            settings,
            "turn",
            tenant_id=tenant_id,
            conversation_id=conversation_id,
            user_id=user_id,
        ),
    )


async def record_tool(
    engine: AsyncEngine,
    settings: Settings,
    *,
    tenant_id: str,
    conversation_id: str,
    user_id: str,
    tool: str,
    failed: bool,
    refused: bool = False,
    reason: str | None = None,
) -> bool:
    """One tool call that ended: ``tool_failed`` when something broke, else
    ``tool_call`` (with the detail ``refused`` when the tool rightly said no).

    Args:
        failed: a system was down, a setting missing, or the code broke.
        refused: the tool answered no for a reason of the request's own
            ("you already have Visio"); it worked, so it is not a failure.
        reason: for a failure, the error's class name (``BackendUnavailable``),
            not its message.
    """
    return await record(
        engine,
        new_event(
            settings,
            "tool_failed" if failed else "tool_call",
            tenant_id=tenant_id,
            conversation_id=conversation_id,
            user_id=user_id,
            tool=tool,
            detail=reason if failed else ("refused" if refused else None),
        ),
    )


async def record_escalation(
    engine: AsyncEngine,
    settings: Settings,
    kind: Literal["ticket_opened", "handoff_requested", "handoff_taken"],
    *,
    tenant_id: str,
    conversation_id: str,
    user_id: str | None,
    reason: str,
) -> bool:
    """A ticket was opened or a person was asked for / took over.

    Args:
        reason: a short label the report groups by: the ticket's category or
            the hand-off's reason (``asked for a person``), never the text.
    """
    return await record(
        engine,
        new_event(
            settings,
            kind,
            tenant_id=tenant_id,
            conversation_id=conversation_id,
            user_id=user_id,
            detail=reason,
        ),
    )


async def record_resolved(
    engine: AsyncEngine,
    settings: Settings,
    *,
    tenant_id: str,
    conversation_id: str,
    user_id: str,
) -> bool:
    """The employee said the copilot's answer fixed it ("Did this fix it? Yes")."""
    return await record(
        engine,
        new_event(
            settings,
            "resolved_by_user",
            tenant_id=tenant_id,
            conversation_id=conversation_id,
            user_id=user_id,
        ),
    )


async def record_knowledge_gap(
    engine: AsyncEngine,
    settings: Settings,
    *,
    tenant_id: str,
    conversation_id: str,
    user_id: str,
    question: str,
) -> bool:
    """The knowledge base had nothing for ``question`` (stored redacted, cut)."""
    return await record(
        engine,
        new_event(
            settings,
            "knowledge_gap",
            tenant_id=tenant_id,
            conversation_id=conversation_id,
            user_id=user_id,
            tool="search_knowledge",
            detail=question,
        ),
    )


async def record_feedback(
    engine: AsyncEngine,
    settings: Settings,
    *,
    tenant_id: str,
    conversation_id: str,
    user_id: str,
    positive: bool,
    comment: str | None = None,
    sources: Sequence[str] = (),
) -> bool:
    """A thumbs up (+1) or down (-1) on an answer, and one ``article_feedback``
    per article that answer cited.

    Args:
        comment: what the employee typed with it, if anything; stored
            redacted and cut to :data:`MAX_DETAIL_CHARS`.
        sources: the articles the answer cited (source ids).
    """
    value = 1 if positive else -1
    kept = await record(
        engine,
        new_event(
            settings,
            "feedback",
            tenant_id=tenant_id,
            conversation_id=conversation_id,
            user_id=user_id,
            detail=comment,
            value=value,
        ),
    )
    await _record_articles(
        engine,
        settings,
        "article_feedback",
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        sources=sources,
        value=value,
    )
    return kept


async def record_fix_answer(
    engine: AsyncEngine,
    settings: Settings,
    *,
    tenant_id: str,
    conversation_id: str,
    user_id: str,
    fixed: bool,
    sources: Sequence[str] = (),
) -> bool:
    """The employee's answer to "Did this fix it?": ``resolved_by_user`` or
    ``not_fixed``, and one ``article_fixed`` (+1 or -1) per cited article."""
    kept = await record(
        engine,
        new_event(
            settings,
            "resolved_by_user" if fixed else "not_fixed",
            tenant_id=tenant_id,
            conversation_id=conversation_id,
            user_id=user_id,
        ),
    )
    await _record_articles(
        engine,
        settings,
        "article_fixed",
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        sources=sources,
        value=1 if fixed else -1,
    )
    return kept


async def _record_articles(
    engine: AsyncEngine,
    settings: Settings,
    kind: Literal["article_feedback", "article_fixed"],
    *,
    tenant_id: str,
    conversation_id: str,
    sources: Sequence[str],
    value: int,
) -> None:
    """One ``kind`` event per cited article (each once), scored ``value``."""
    for source in dict.fromkeys(sources):
        await record(
            engine,
            new_event(
                settings,
                kind,
                tenant_id=tenant_id,
                conversation_id=conversation_id,
                detail=source,
                value=value,
            ),
        )


async def record_satisfaction(
    engine: AsyncEngine,
    settings: Settings,
    *,
    tenant_id: str,
    conversation_id: str,
    user_id: str,
    rating: int,
) -> bool:
    """A satisfaction rating from 1 to 5; anything else is logged and dropped."""
    if not 1 <= rating <= 5:
        logger.warning("satisfaction rating %r dropped: not 1 to 5", rating)
        return False
    return await record(
        engine,
        new_event(
            settings,
            "satisfaction",
            tenant_id=tenant_id,
            conversation_id=conversation_id,
            user_id=user_id,
            value=rating,
        ),
    )


async def alist_events(
    engine: AsyncEngine,
    *,
    since: datetime,
    until: datetime | None = None,
    tenant_id: str | None = None,
) -> list[AnalyticsEvent]:
    """Events at or after ``since`` (and before ``until``), oldest first."""
    table = analytics_events
    query = sa.select(table).where(table.c.at >= since)
    if until is not None:
        query = query.where(table.c.at < until)
    if tenant_id:
        query = query.where(table.c.tenant_id == tenant_id)
    query = query.order_by(table.c.at, table.c.id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [_event(row) for row in rows]


async def purge_older_than(
    engine: AsyncEngine, days: int, *, now: datetime | None = None
) -> int:
    """Delete events older than ``days`` days: the retention rule.

    Returns:
        How many events were deleted.

    Raises:
        ValueError: ``days`` is below 1 (that would delete today's events).
    """
    if days < 1:
        raise ValueError(f"retention must be 1 day or more, not {days}")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    table = analytics_events
    async with engine.begin() as conn:
        result = await conn.execute(table.delete().where(table.c.at < cutoff))
    return int(result.rowcount or 0)


def _event(row: Any) -> AnalyticsEvent:
    return AnalyticsEvent(
        at=as_utc(row["at"]),
        tenant_id=row["tenant_id"],
        conversation=row["conversation"],
        kind=row["kind"],
        user_hash=row["user_hash"],
        tool=row["tool"],
        detail=row["detail"],
        value=row["value"],
    )
