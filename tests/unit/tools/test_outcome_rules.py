"""The outcome rules of :mod:`tools.analytics.outcomes`, one rule per test.

Events are written to the app database as the hooks would write them, read
back, and judged; ``now`` is fixed so that abandonment does not depend on
the clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.analytics.events import EventKind, alist_events, new_event, record
from tools.analytics.outcomes import Outcome, decide
from tools.db import create_engine, upgrade
from tools.settings import Settings, load_settings

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
START = NOW - timedelta(days=3)


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    settings.prepare_data_dir()
    created = create_engine(settings)
    await upgrade(created)
    yield created
    await created.dispose()


async def _write(
    engine: AsyncEngine,
    settings: Settings,
    steps: list[tuple[int, EventKind, dict[str, object]]],
    *,
    conversation: str = "conv-1",
) -> None:
    """Write ``(minutes after START, kind, fields)`` events for one conversation."""
    for minutes, kind, fields in steps:
        fields = dict(fields)
        event = new_event(
            settings,
            kind,
            tenant_id="tenant-1",
            conversation_id=conversation,
            user_id=str(fields.pop("user_id", "alex")),
            at=START + timedelta(minutes=minutes),
            **fields,  # type: ignore[arg-type]
        )
        assert await record(engine, event)


async def _outcome(engine: AsyncEngine, **options: timedelta) -> Outcome:
    events = await alist_events(engine, since=START - timedelta(days=1))
    (outcome,) = decide(events, now=NOW, **options)
    return outcome


async def test_saying_it_worked_resolves_the_conversation(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _write(
        engine,
        settings,
        [
            (0, "turn", {}),
            (1, "tool_call", {"tool": "search_knowledge"}),
            (5, "resolved_by_user", {}),
        ],
    )

    outcome = await _outcome(engine)

    assert outcome.kind == "resolved"
    assert outcome.time_to_resolution == timedelta(minutes=5)


async def test_a_thumbs_up_on_the_last_answer_resolves_the_conversation(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _write(
        engine,
        settings,
        [(0, "turn", {}), (3, "turn", {}), (4, "feedback", {"value": 1})],
    )

    outcome = await _outcome(engine)

    assert outcome.kind == "resolved"
    assert outcome.resolved_at == START + timedelta(minutes=4)


async def test_a_thumbs_up_followed_by_another_question_does_not_resolve(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _write(
        engine,
        settings,
        [(0, "turn", {}), (1, "feedback", {"value": 1}), (2, "turn", {})],
    )

    outcome = await _outcome(engine)

    assert outcome.kind == "abandoned"  # the last answer is days old, unrated


async def test_a_thumbs_down_after_a_thumbs_up_cancels_it(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _write(
        engine,
        settings,
        [
            (0, "turn", {}),
            (1, "feedback", {"value": 1}),
            (2, "feedback", {"value": -1}),
        ],
    )

    assert (await _outcome(engine)).kind != "resolved"


async def test_an_escalation_after_it_worked_makes_it_escalated(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _write(
        engine,
        settings,
        [
            (0, "turn", {}),
            (1, "resolved_by_user", {}),
            (9, "ticket_opened", {"detail": "hardware"}),
        ],
    )

    outcome = await _outcome(engine)

    assert (outcome.kind, outcome.reason) == ("escalated", "hardware")


async def test_it_worked_after_a_ticket_still_counts_as_escalated(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _write(
        engine,
        settings,
        [
            (0, "turn", {}),
            (1, "ticket_opened", {"detail": "email"}),
            (600, "resolved_by_user", {}),
        ],
    )

    outcome = await _outcome(engine)

    assert (outcome.kind, outcome.reason) == ("escalated", "email")
    assert outcome.time_to_resolution is None


@pytest.mark.parametrize(
    ("kind", "detail", "reason"),
    [
        ("handoff_requested", "asked for a person", "asked for a person"),
        ("handoff_taken", None, "hand-off"),
        ("ticket_opened", None, "ticket"),
    ],
    ids=["hand-off-with-reason", "hand-off-taken-no-reason", "ticket-no-reason"],
)
async def test_a_ticket_or_hand_off_escalates_with_its_reason(
    engine: AsyncEngine,
    settings: Settings,
    kind: EventKind,
    detail: str | None,
    reason: str,
) -> None:
    await _write(engine, settings, [(0, "turn", {}), (1, kind, {"detail": detail})])

    outcome = await _outcome(engine)

    assert (outcome.kind, outcome.reason) == ("escalated", reason)


async def test_silence_past_the_limit_after_the_last_answer_is_abandoned(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _write(engine, settings, [(0, "turn", {})])

    assert (await _outcome(engine, abandon_after=timedelta(hours=71))).kind == (
        "abandoned"
    )
    assert (await _outcome(engine, abandon_after=timedelta(hours=73))).kind == "open"


async def test_silence_is_never_counted_as_resolved(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _write(
        engine,
        settings,
        [
            (0, "turn", {}),
            (1, "tool_call", {"tool": "search_knowledge"}),
            (2, "satisfaction", {"value": 5}),
        ],
    )

    assert (await _outcome(engine)).kind == "abandoned"


async def test_a_recent_answer_with_no_word_yet_is_open(
    engine: AsyncEngine, settings: Settings
) -> None:
    recent = int((NOW - START).total_seconds() // 60) - 30
    await _write(engine, settings, [(0, "turn", {}), (recent, "turn", {})])

    assert (await _outcome(engine)).kind == "open"


async def test_a_conversation_without_an_answer_is_open(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _write(engine, settings, [(0, "tool_failed", {"tool": "reset_password"})])

    assert (await _outcome(engine)).kind == "open"


async def test_each_conversation_is_judged_on_its_own_events(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _write(engine, settings, [(0, "turn", {}), (1, "resolved_by_user", {})])
    await _write(
        engine,
        settings,
        [(2, "turn", {}), (3, "handoff_requested", {})],
        conversation="conv-2",
    )
    await _write(engine, settings, [(4, "turn", {})], conversation="conv-3")

    events = await alist_events(engine, since=START)
    kinds = [o.kind for o in decide(events, now=NOW)]

    assert kinds == ["resolved", "escalated", "abandoned"]


async def test_a_colleagues_thumbs_up_does_not_resolve_someone_elses_question(
    engine: AsyncEngine, settings: Settings
) -> None:
    await _write(
        engine,
        settings,
        [
            (0, "turn", {}),
            (1, "feedback", {"value": -1}),
            (2, "feedback", {"value": 1, "user_id": "a-colleague"}),
        ],
    )

    outcome = await _outcome(engine)

    assert outcome.kind != "resolved", "only the asker's word settles their need"
