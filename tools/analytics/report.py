"""The figures of the outcomes report, computed from analytics events.

Rates are shares of all conversations in the window, so resolved, escalated,
abandoned and open add up to 100%. Time to resolution is the median over the
conversations the copilot resolved. Satisfaction is the mean of the 1-5
ratings given in the window.

Articles are scored by what employees said about the answers that cited
them: Teams' thumbs (``article_feedback``) and the answer to "Did this fix
it?" (``article_fixed``). An answer citing two articles counts for both.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from tools.analytics.events import AnalyticsEvent, alist_events
from tools.analytics.gaps import GapTopic, group_gaps
from tools.analytics.outcomes import (
    DEFAULT_ABANDON_AFTER,
    OUTCOME_KINDS,
    Outcome,
    decide,
)


@dataclass(frozen=True, slots=True)
class ToolUse:
    """How often a tool ran and how often it failed."""

    tool: str
    calls: int
    failed: int
    refused: int = 0
    """Calls where the tool rightly said no ("you already have it")."""

    @property
    def failure_rate(self) -> float:
        return self.failed / self.calls if self.calls else 0.0


@dataclass(frozen=True, slots=True)
class ArticleScore:
    """What employees said about the answers citing one article."""

    source: str
    thumbs_up: int = 0
    thumbs_down: int = 0
    fixed: int = 0
    not_fixed: int = 0

    @property
    def complaints(self) -> int:
        """Thumbs down and "still stuck": how often it let someone down."""
        return self.thumbs_down + self.not_fixed


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment typed with Teams feedback (redacted when it was stored)."""

    at: datetime
    positive: bool
    text: str


MAX_COMMENTS = 20


@dataclass(frozen=True, slots=True)
class Report:
    """Everything ``helpdesk report`` shows.

    Attributes:
        since: start of the window.
        until: end of the window (the time the report was made).
        conversations: how many conversations had events in the window.
        outcomes: count per outcome, every outcome present (zero if none).
        escalation_reasons: count per reason among escalated conversations.
        tools: use per tool, most used first.
        median_resolution: median time to resolution, None when none resolved.
        satisfaction_mean: mean 1-5 rating, None when nobody rated.
        satisfaction_count: how many ratings.
        feedback_up: thumbs up given.
        feedback_down: thumbs down given.
        gaps: unanswered questions by topic.
        fix_yes: "Did this fix it?" answered yes.
        fix_no: "Did this fix it?" answered no.
        articles: each cited article's score, most complaints first.
        comments: the latest feedback comments, newest first (at most
            :data:`MAX_COMMENTS`).
    """

    since: datetime
    until: datetime
    conversations: int
    outcomes: dict[str, int]
    escalation_reasons: dict[str, int]
    tools: list[ToolUse]
    median_resolution: timedelta | None
    satisfaction_mean: float | None
    satisfaction_count: int
    feedback_up: int
    feedback_down: int
    gaps: list[GapTopic] = field(default_factory=list)
    fix_yes: int = 0
    fix_no: int = 0
    articles: list[ArticleScore] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)

    def rate(self, outcome: str) -> float:
        """The share of conversations with ``outcome``, 0 to 1."""
        if not self.conversations:
            return 0.0
        return self.outcomes.get(outcome, 0) / self.conversations


def build_report(
    events: list[AnalyticsEvent],
    *,
    since: datetime,
    now: datetime,
    abandon_after: timedelta = DEFAULT_ABANDON_AFTER,
) -> Report:
    """The report's figures from ``events`` (already limited to the window)."""
    outcomes = decide(events, now=now, abandon_after=abandon_after)
    counts = Counter(o.kind for o in outcomes)
    reasons = Counter(o.reason or "" for o in outcomes if o.kind == "escalated")

    ratings = [e.value for e in events if e.kind == "satisfaction" and e.value]
    feedback = [e.value or 0 for e in events if e.kind == "feedback"]

    return Report(
        since=since,
        until=now,
        conversations=len(outcomes),
        outcomes={kind: counts.get(kind, 0) for kind in OUTCOME_KINDS},
        escalation_reasons=dict(sorted(reasons.items(), key=lambda r: (-r[1], r[0]))),
        tools=_tool_use(events),
        median_resolution=_median_resolution(outcomes),
        satisfaction_mean=statistics.fmean(ratings) if ratings else None,
        satisfaction_count=len(ratings),
        feedback_up=sum(1 for v in feedback if v > 0),
        feedback_down=sum(1 for v in feedback if v < 0),
        gaps=group_gaps(e.detail or "" for e in events if e.kind == "knowledge_gap"),
        fix_yes=sum(1 for e in events if e.kind == "resolved_by_user"),
        fix_no=sum(1 for e in events if e.kind == "not_fixed"),
        articles=_articles(events),
        comments=[
            Comment(e.at, (e.value or 0) > 0, e.detail)
            for e in reversed(events)
            if e.kind == "feedback" and e.detail
        ][:MAX_COMMENTS],
    )


async def abuild_report(
    engine: AsyncEngine,
    *,
    since: datetime,
    now: datetime,
    abandon_after: timedelta = DEFAULT_ABANDON_AFTER,
    tenant_id: str | None = None,
) -> Report:
    """Read the window's events from the app database and build the report."""
    events = await alist_events(engine, since=since, until=now, tenant_id=tenant_id)
    return build_report(events, since=since, now=now, abandon_after=abandon_after)


def _tool_use(events: list[AnalyticsEvent]) -> list[ToolUse]:
    calls: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for event in events:
        if event.kind in ("tool_call", "tool_failed") and event.tool:
            calls[event.tool] += 1
            if event.kind == "tool_failed":
                failed[event.tool] += 1
            elif event.detail == "refused":
                refused[event.tool] += 1
    ranked = sorted(calls.items(), key=lambda item: (-item[1], item[0]))
    return [ToolUse(tool, n, failed[tool], refused[tool]) for tool, n in ranked]


def _articles(events: list[AnalyticsEvent]) -> list[ArticleScore]:
    counts: dict[str, Counter[str]] = {}
    for event in events:
        if event.kind not in ("article_feedback", "article_fixed") or not event.detail:
            continue
        good = (event.value or 0) > 0
        if event.kind == "article_feedback":
            measure = "thumbs_up" if good else "thumbs_down"
        else:
            measure = "fixed" if good else "not_fixed"
        counts.setdefault(event.detail, Counter())[measure] += 1
    scores = [ArticleScore(source, **dict(c)) for source, c in counts.items()]
    return sorted(
        scores,
        key=lambda a: (-a.complaints, -(a.thumbs_up + a.fixed), a.source),
    )


def _median_resolution(outcomes: list[Outcome]) -> timedelta | None:
    times = [
        t.total_seconds() for o in outcomes if (t := o.time_to_resolution) is not None
    ]
    if not times:
        return None
    return timedelta(seconds=statistics.median(times))


def format_share(share: float) -> str:
    """A share (0 to 1) as a whole percentage, as the report and dashboard show it."""
    return f"{share * 100:.0f}%"


def format_duration(value: timedelta) -> str:
    """A time to resolution for people: minutes, hours, or days."""
    if value < timedelta(minutes=1):
        return "under a minute"
    minutes = round(value.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"
