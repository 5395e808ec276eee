"""After an answer: "Did this fix it?", feedback tied to articles, and the 1-5 card.

Three things an employee can tell the copilot about its help, and where each
is kept:

* **"Did this fix it?"** An answer that cites articles, in a 1:1 chat, asks
  it (with two suggested replies). Every answer is remembered in
  ``analytics_answers`` with the articles it cited, so that the employee's
  "yes, that fixed it" (or "no, I'm still stuck") is tied to the *latest*
  answer of the conversation, once: the first reply claims the question
  (:func:`aanswer_fix`), and a second one, or one after a later answer that
  did not ask, is an ordinary message.
* **Teams feedback** (thumbs up or down, with an optional comment) names the
  answer's message id; :func:`asources_of` gives the articles that answer
  cited, so each article's score can be reported.
* **Satisfaction** (1 to 5) is asked after a resolution or a closed ticket,
  at most once per employee in ``HELPDESK_SATISFACTION_EVERY_DAYS``: the
  claim (:func:`aclaim_satisfaction`) is a conditional update of the
  employee's ``satisfaction_last`` row, so two replicas cannot both ask. A
  card is rated once, by its own employee (:func:`arate`).

Conversations and employees are stored as the same keyed hashes as the
analytics events (:mod:`tools.analytics.events`); article ids are the
knowledge base's own (a file name or a URL), never employee words.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.analytics.events import conversation_hash, hash_key, user_hash
from tools.analytics.tables import answers, satisfaction_asks, satisfaction_last
from tools.db import as_utc
from tools.fix_answers import FixAnswer
from tools.settings import Settings

logger = logging.getLogger(__name__)

FIX_WINDOW = timedelta(hours=24)
"""How long "Did this fix it?" stays open after the answer that asked it."""
MAX_SOURCES = 8
_SOURCE_CHARS = 300

RateOutcome = Literal["rated", "already_rated", "not_yours", "unknown"]
AskReason = Literal["resolved", "ticket_closed"]


@dataclass(frozen=True, slots=True)
class Answered:
    """An answer whose "Did this fix it?" was just answered.

    Attributes:
        sources: the articles the answer cited (source ids), in citation order.
        asked_at: when the answer was sent.
    """

    sources: tuple[str, ...]
    asked_at: datetime


async def aremember_answer(
    engine: AsyncEngine,
    settings: Settings,
    *,
    tenant_id: str,
    conversation_id: str,
    activity_id: str | None,
    sources: Sequence[str],
    asks_fix: bool,
) -> None:
    """Keep one sent answer: its message id, cited articles and whether it
    asked "Did this fix it?". Never raises: a lost row only loses a link."""
    kept = [s[:_SOURCE_CHARS] for s in sources[:MAX_SOURCES]]
    try:
        async with engine.begin() as conn:
            await conn.execute(
                answers.insert().values(
                    at=datetime.now(UTC),
                    tenant_id=tenant_id[:128],
                    conversation=_conversation(settings, tenant_id, conversation_id),
                    activity_id=activity_id[:256] if activity_id else None,
                    sources=_fit_json(kept),
                    asks_fix=asks_fix,
                )
            )
    except Exception:
        logger.warning("could not remember an answer's articles", exc_info=True)


async def aanswer_fix(
    engine: AsyncEngine,
    settings: Settings,
    *,
    tenant_id: str,
    conversation_id: str,
    answer: FixAnswer,
    now: datetime | None = None,
) -> Answered | None:
    """Claim the open "Did this fix it?" of the conversation's latest answer.

    The question is open when the latest answer asked it, within
    :data:`FIX_WINDOW`, and nobody answered it yet. The claim is a
    conditional update, so of two replies (or two replicas) one wins.

    Returns:
        The answer and its articles when this call claimed the question;
        None when no question was open.
    """
    now = now or datetime.now(UTC)
    conversation = _conversation(settings, tenant_id, conversation_id)
    async with engine.begin() as conn:
        latest = (
            (
                await conn.execute(
                    sa.select(answers)
                    .where(answers.c.conversation == conversation)
                    .order_by(answers.c.id.desc())
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        if latest is None or not latest["asks_fix"] or latest["fix_answer"]:
            return None
        asked_at = as_utc(latest["at"])
        if now - asked_at > FIX_WINDOW:
            return None
        claimed = await conn.execute(
            answers.update()
            .where(answers.c.id == latest["id"], answers.c.fix_answer.is_(None))
            .values(fix_answer=answer, fix_answered_at=now)
        )
        if claimed.rowcount != 1:
            return None
    return Answered(tuple(_sources(latest["sources"])), asked_at)


async def asources_of(
    engine: AsyncEngine, *, tenant_id: str, activity_id: str | None
) -> list[str] | None:
    """The articles the answer with this Teams message id cited ([] for an
    answer that cited none); None when no answer has that id."""
    if not activity_id:
        return None
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(answers.c.sources)
                .where(
                    answers.c.tenant_id == tenant_id[:128],
                    answers.c.activity_id == activity_id[:256],
                )
                .order_by(answers.c.id.desc())
                .limit(1)
            )
        ).first()
    return _sources(row[0]) if row is not None else None


async def aclaim_satisfaction(
    engine: AsyncEngine,
    settings: Settings,
    *,
    tenant_id: str,
    user_id: str,
    conversation_id: str,
    reason: AskReason,
    now: datetime | None = None,
) -> str | None:
    """Claim the right to send this employee the 1-5 card now.

    Returns:
        The new ask's id (for the card's buttons) when the employee was not
        asked within ``HELPDESK_SATISFACTION_EVERY_DAYS``; None otherwise, or
        when the card is switched off (0 days).
    """
    every = settings.satisfaction_every_days
    if every <= 0:
        return None
    now = now or datetime.now(UTC)
    key = hash_key(settings)
    who = user_hash(key, tenant_id, user_id)
    tenant = tenant_id[:128]
    last = satisfaction_last.c
    async with engine.begin() as conn:
        moved = await conn.execute(
            satisfaction_last.update()
            .where(
                last.tenant_id == tenant,
                last.user_hash == who,
                last.asked_at <= now - timedelta(days=every),
            )
            .values(asked_at=now)
        )
        if moved.rowcount != 1:
            try:
                async with conn.begin_nested():
                    await conn.execute(
                        satisfaction_last.insert().values(
                            tenant_id=tenant, user_hash=who, asked_at=now
                        )
                    )
            except IntegrityError:
                return None  # asked within the period (or another replica won)
        ask_id = uuid.uuid4().hex
        await conn.execute(
            satisfaction_asks.insert().values(
                id=ask_id,
                tenant_id=tenant,
                user_hash=who,
                conversation=conversation_hash(key, tenant_id, conversation_id),
                reason=reason,
                asked_at=now,
            )
        )
    return ask_id


async def arate(
    engine: AsyncEngine,
    settings: Settings,
    *,
    ask_id: str,
    tenant_id: str,
    user_id: str,
    rating: int,
) -> RateOutcome:
    """Keep a 1-5 rating on its card, once, from the employee it was sent to.

    Raises:
        ValueError: ``rating`` is not 1 to 5 (the card offers nothing else).
    """
    if not 1 <= rating <= 5:
        raise ValueError(f"a rating is 1 to 5, not {rating}")
    who = user_hash(hash_key(settings), tenant_id, user_id)
    table = satisfaction_asks.c
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                sa.select(table.user_hash, table.rating).where(
                    table.id == ask_id[:32], table.tenant_id == tenant_id[:128]
                )
            )
        ).first()
        if row is None:
            return "unknown"
        if row.user_hash != who:
            return "not_yours"
        rated = await conn.execute(
            satisfaction_asks.update()
            .where(table.id == ask_id[:32], table.rating.is_(None))
            .values(rating=rating, rated_at=datetime.now(UTC))
        )
    return "rated" if rated.rowcount == 1 else "already_rated"


async def apurge_older_than(engine: AsyncEngine, cutoff: datetime) -> int:
    """Delete remembered answers and satisfaction asks from before ``cutoff``."""
    deleted = 0
    async with engine.begin() as conn:
        for statement in (
            answers.delete().where(answers.c.at < cutoff),
            satisfaction_asks.delete().where(satisfaction_asks.c.asked_at < cutoff),
            satisfaction_last.delete().where(satisfaction_last.c.asked_at < cutoff),
        ):
            deleted += int((await conn.execute(statement)).rowcount or 0)
    return deleted


def _conversation(settings: Settings, tenant_id: str, conversation_id: str) -> str:
    return conversation_hash(hash_key(settings), tenant_id, conversation_id)


def _fit_json(sources: list[str]) -> str:
    """The list as JSON within the column's 1000 characters (drops the tail)."""
    while sources:
        text = json.dumps(sources)
        if len(text) <= 1000:
            return text
        sources = sources[:-1]
    return "[]"


def _sources(text: str | None) -> list[str]:
    try:
        found = json.loads(text or "[]")
    except ValueError:
        return []
    return [s for s in found if isinstance(s, str)] if isinstance(found, list) else []
