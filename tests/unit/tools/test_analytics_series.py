"""The report's figures by day and by week (:mod:`tools.analytics.series`).

Events are made as the hooks make them (``new_event``, ids hashed) and
bucketed with a fixed ``now``, so that abandonment and the window's days do
not depend on the clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tools.analytics.events import AnalyticsEvent, EventKind, new_event
from tools.analytics.report import build_report
from tools.analytics.series import Series, build_series, step_for
from tools.settings import Settings, load_settings

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # a Saturday
WEEK = timedelta(days=7)


@pytest.fixture
def settings() -> Settings:
    return load_settings()


def _event(
    settings: Settings,
    conversation: str,
    kind: EventKind,
    at: datetime,
    **fields: object,
) -> AnalyticsEvent:
    return new_event(
        settings,
        kind,
        tenant_id="tenant-1",
        conversation_id=conversation,
        user_id="alex",
        at=at,
        **fields,  # type: ignore[arg-type]
    )


def _day(series: Series, day: date) -> int:
    [index] = [i for i, b in enumerate(series.buckets) if b.start == day]
    return index


def test_every_day_of_the_window_has_a_bucket_even_an_empty_one(
    settings: Settings,
) -> None:
    events = [_event(settings, "c1", "turn", NOW - timedelta(hours=1))]

    series = build_series(events, since=NOW - WEEK, now=NOW)

    assert series.step == "day"
    assert [b.start for b in series.buckets] == [
        date(2026, 11, 28) + timedelta(days=n) for n in range(8)
    ]
    assert [b.conversations for b in series.buckets] == [0] * 7 + [1]


def test_a_conversation_counts_on_the_day_it_started_with_its_final_outcome(
    settings: Settings,
) -> None:
    monday = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    events = [
        _event(settings, "c1", "turn", monday),
        # Escalated the next day: still one escalation, of Monday.
        _event(settings, "c1", "ticket_opened", monday + timedelta(days=1)),
        _event(settings, "c2", "turn", monday + timedelta(days=1)),
        _event(settings, "c2", "resolved_by_user", monday + timedelta(days=1)),
    ]

    series = build_series(events, since=NOW - WEEK, now=NOW)

    by_day = {b.start: b.outcomes for b in series.buckets if b.conversations}
    assert by_day == {
        date(2026, 11, 30): {"resolved": 0, "escalated": 1, "abandoned": 0, "open": 0},
        date(2026, 12, 1): {"resolved": 1, "escalated": 0, "abandoned": 0, "open": 0},
    }


def test_abandonment_is_judged_at_now_as_in_the_report(settings: Settings) -> None:
    answered = NOW - timedelta(hours=30)
    events = [_event(settings, "c1", "turn", answered)]

    later = build_series(events, since=NOW - WEEK, now=NOW)
    sooner = build_series(events, since=NOW - WEEK, now=answered + timedelta(hours=2))

    day = answered.date()
    assert later.buckets[_day(later, day)].outcomes["abandoned"] == 1
    assert sooner.buckets[_day(sooner, day)].outcomes["open"] == 1


def test_ratings_feedback_and_tool_calls_count_on_the_day_they_happened(
    settings: Settings,
) -> None:
    started = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    next_day = started + timedelta(hours=1)
    events = [
        _event(settings, "c1", "turn", started),
        _event(settings, "c1", "tool_call", started, tool="search_knowledge"),
        _event(settings, "c1", "tool_failed", next_day, tool="create_ticket"),
        _event(settings, "c1", "tool_call", next_day, tool="search_knowledge"),
        _event(settings, "c1", "satisfaction", next_day, value=5),
        _event(settings, "c2", "satisfaction", next_day, value=2),
        _event(settings, "c1", "feedback", next_day, value=1),
        _event(settings, "c2", "feedback", next_day, value=-1),
    ]

    series = build_series(events, since=NOW - WEEK, now=NOW)

    first = series.buckets[_day(series, date(2026, 12, 1))]
    second = series.buckets[_day(series, date(2026, 12, 2))]
    assert (first.tool_calls, first.tool_failures) == (1, 0)
    assert (second.tool_calls, second.tool_failures) == (2, 1)
    assert first.satisfaction_mean is None and first.satisfaction_count == 0
    assert (second.satisfaction_count, second.satisfaction_mean) == (2, 3.5)
    assert (second.feedback_up, second.feedback_down) == (1, 1)
    # c2 has no turn: it is a conversation (open) of the day it began.
    assert first.conversations == 1 and second.conversations == 1


def test_long_windows_are_bucketed_by_week_from_monday(settings: Settings) -> None:
    events = [
        _event(settings, "c1", "turn", NOW - timedelta(days=40)),
        _event(settings, "c2", "turn", NOW - timedelta(days=1)),
        _event(settings, "c3", "turn", NOW - timedelta(days=2)),
    ]

    series = build_series(events, since=NOW - timedelta(days=90), now=NOW)

    assert series.step == "week" and series.days == 7
    assert all(b.start.weekday() == 0 for b in series.buckets)
    assert series.buckets[0].start <= (NOW - timedelta(days=90)).date()
    assert series.buckets[-1].start == date(2026, 11, 30)
    assert len(series.buckets) == 14
    assert series.buckets[-1].conversations == 2
    assert sum(b.conversations for b in series.buckets) == 3


@pytest.mark.parametrize(
    ("window", "step"),
    [
        pytest.param(timedelta(days=7), "day", id="7d-daily"),
        pytest.param(timedelta(days=30), "day", id="30d-daily"),
        pytest.param(timedelta(days=35), "day", id="35d-daily"),
        pytest.param(timedelta(days=36), "week", id="36d-weekly"),
        pytest.param(timedelta(days=90), "week", id="90d-weekly"),
    ],
)
def test_the_step_follows_the_window(window: timedelta, step: str) -> None:
    assert step_for(window) == step


def test_the_buckets_add_up_to_the_report(settings: Settings) -> None:
    events: list[AnalyticsEvent] = []
    for n in range(12):
        at = NOW - timedelta(days=n % 6, hours=n)
        conversation = f"c{n}"
        events.append(_event(settings, conversation, "turn", at))
        if n % 3 == 0:
            events.append(_event(settings, conversation, "resolved_by_user", at))
        elif n % 3 == 1:
            events.append(
                _event(settings, conversation, "handoff_requested", at, detail="vip")
            )
        events.append(
            _event(settings, conversation, "tool_failed", at, tool="reset_password")
        )
    since = NOW - WEEK

    series = build_series(events, since=since, now=NOW)
    report = build_report(events, since=since, now=NOW)

    for kind, count in report.outcomes.items():
        assert sum(b.outcomes[kind] for b in series.buckets) == count
    assert sum(b.tool_failures for b in series.buckets) == 12
    assert sum(b.conversations for b in series.buckets) == report.conversations


def test_an_empty_window_still_has_its_days(settings: Settings) -> None:
    series = build_series([], since=NOW - timedelta(days=2), now=NOW)

    assert len(series.buckets) == 3
    assert all(b.conversations == 0 and b.tool_calls == 0 for b in series.buckets)


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        build_series([], since=NOW, now=NOW - timedelta(days=1))
