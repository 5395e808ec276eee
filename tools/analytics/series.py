"""The report's figures over time: outcomes, satisfaction and tool use per day or week.

Buckets are UTC calendar days, or ISO weeks (Monday to Sunday, UTC) for long
windows. Every bucket of the window is present, empty ones included, so that
a chart's axis has no holes.

What lands in which bucket:

- A conversation counts once, in the bucket of the day it started (its first
  event in the window), with the outcome that
  :func:`tools.analytics.outcomes.decide` gives it over the whole window. So
  a conversation that started on Monday and was escalated on Tuesday is an
  escalation of Monday.
- Ratings, feedback and tool calls count in the bucket of the day they
  happened.

Warning:
    Like the report, the series sees only the window's events: a conversation
    that started before ``since`` lands in the window's first bucket.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from tools.analytics.events import AnalyticsEvent
from tools.analytics.outcomes import DEFAULT_ABANDON_AFTER, OUTCOME_KINDS, decide

Step = Literal["day", "week"]
WEEKLY_AFTER = timedelta(days=35)
"""Windows longer than this are bucketed by week: about five bars or more."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """The figures of one day or week.

    Attributes:
        start: the bucket's first day (a Monday for weekly buckets).
        outcomes: conversations that started in it, per outcome, every
            outcome present (zero if none).
        satisfaction_count: 1-5 ratings given in it.
        satisfaction_mean: their mean; None when nobody rated.
        feedback_up: thumbs up given in it.
        feedback_down: thumbs down given in it.
        tool_calls: tool calls that ended in it, failed ones included.
        tool_failures: tool calls that failed in it.
    """

    start: date
    outcomes: dict[str, int] = field(default_factory=dict)
    satisfaction_count: int = 0
    satisfaction_mean: float | None = None
    feedback_up: int = 0
    feedback_down: int = 0
    tool_calls: int = 0
    tool_failures: int = 0

    @property
    def conversations(self) -> int:
        """How many conversations started in this bucket."""
        return sum(self.outcomes.values())


@dataclass(frozen=True, slots=True)
class Series:
    """The window's buckets, oldest first.

    Attributes:
        step: ``day`` or ``week``.
        buckets: one per day (or week) from ``since`` to ``now``, inclusive.
    """

    step: Step
    buckets: list[Bucket]

    @property
    def days(self) -> int:
        """How many days one bucket spans."""
        return 7 if self.step == "week" else 1


def step_for(window: timedelta) -> Step:
    """``day`` for windows up to :data:`WEEKLY_AFTER`, else ``week``."""
    return "week" if window > WEEKLY_AFTER else "day"


def build_series(
    events: Iterable[AnalyticsEvent],
    *,
    since: datetime,
    now: datetime,
    step: Step | None = None,
    abandon_after: timedelta = DEFAULT_ABANDON_AFTER,
) -> Series:
    """Bucket the window's events by day or week.

    Args:
        events: the window's events (already limited to ``since``..``now``),
            in any order.
        since: start of the window (aware).
        now: end of the window, the time the figures are made (aware);
            abandonment is judged against it, as in the report.
        step: ``day`` or ``week``; by default chosen from the window's length
            (:func:`step_for`).
        abandon_after: as for :func:`tools.analytics.outcomes.decide`.

    Returns:
        Every bucket of the window, oldest first.

    Raises:
        ValueError: ``now`` is before ``since``.
    """
    if now < since:
        raise ValueError(f"the window ends ({now}) before it starts ({since})")
    step = step or step_for(now - since)
    events = list(events)
    starts = _starts(since, now, step)
    slot = {start: i for i, start in enumerate(starts)}

    def index(at: datetime) -> int:
        # Clamped: an event a hair outside the window still counts at its edge.
        key = _bucket_start(at, step)
        return slot.get(key, 0 if key < starts[0] else len(starts) - 1)

    outcomes: list[dict[str, int]] = [dict.fromkeys(OUTCOME_KINDS, 0) for _ in starts]
    for outcome in decide(events, now=now, abandon_after=abandon_after):
        outcomes[index(outcome.started_at)][outcome.kind] += 1

    ratings: list[list[int]] = [[] for _ in starts]
    up = [0] * len(starts)
    down = [0] * len(starts)
    calls = [0] * len(starts)
    failures = [0] * len(starts)
    for event in events:
        i = index(event.at)
        if event.kind == "satisfaction" and event.value:
            ratings[i].append(event.value)
        elif event.kind == "feedback":
            up[i] += (event.value or 0) > 0
            down[i] += (event.value or 0) < 0
        elif event.kind in ("tool_call", "tool_failed") and event.tool:
            calls[i] += 1
            failures[i] += event.kind == "tool_failed"

    buckets = [
        Bucket(
            start=start,
            outcomes=outcomes[i],
            satisfaction_count=len(ratings[i]),
            satisfaction_mean=sum(ratings[i]) / len(ratings[i]) if ratings[i] else None,
            feedback_up=up[i],
            feedback_down=down[i],
            tool_calls=calls[i],
            tool_failures=failures[i],
        )
        for i, start in enumerate(starts)
    ]
    return Series(step=step, buckets=buckets)


def _bucket_start(at: datetime, step: Step) -> date:
    day = at.astimezone(UTC).date()
    if step == "week":
        return day - timedelta(days=day.weekday())
    return day


def _starts(since: datetime, now: datetime, step: Step) -> list[date]:
    first = _bucket_start(since, step)
    last = _bucket_start(now, step)
    size = timedelta(days=7 if step == "week" else 1)
    starts = [first]
    while starts[-1] + size <= last:
        starts.append(starts[-1] + size)
    return starts
