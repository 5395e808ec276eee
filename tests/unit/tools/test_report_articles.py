"""The report scores articles by what employees said about the answers citing
them, counts "Did this fix it?" answers and lists feedback comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tools.analytics.events import AnalyticsEvent
from tools.analytics.report import build_report

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _event(
    kind: str,
    *,
    minutes: int,
    conversation: str = "c1",
    detail: str | None = None,
    value: int | None = None,
) -> AnalyticsEvent:
    return AnalyticsEvent(
        at=NOW - timedelta(minutes=minutes),
        tenant_id="t",
        conversation=conversation,
        kind=kind,  # type: ignore[arg-type]
        detail=detail,
        value=value,
    )


def test_articles_are_ranked_by_how_often_they_let_someone_down() -> None:
    events = [
        _event("turn", minutes=50),
        _event("article_fixed", minutes=49, detail="vpn.md", value=1),
        _event("article_fixed", minutes=48, detail="mfa.md", value=-1),
        _event("article_feedback", minutes=47, detail="mfa.md", value=-1),
        _event("article_feedback", minutes=46, detail="vpn.md", value=1),
        _event("resolved_by_user", minutes=45),
        _event("turn", minutes=40, conversation="c2"),
        _event("not_fixed", minutes=39, conversation="c2"),
        _event("feedback", minutes=30, conversation="c2", detail="outdated", value=-1),
        _event("feedback", minutes=20, conversation="c1", detail="spot on", value=1),
        _event("feedback", minutes=10, conversation="c1", value=1),
    ]

    report = build_report(events, since=NOW - timedelta(days=1), now=NOW)

    assert [a.source for a in report.articles] == ["mfa.md", "vpn.md"]
    mfa, vpn = report.articles
    assert (mfa.not_fixed, mfa.thumbs_down, mfa.fixed, mfa.thumbs_up) == (1, 1, 0, 0)
    assert (vpn.not_fixed, vpn.thumbs_down, vpn.fixed, vpn.thumbs_up) == (0, 0, 1, 1)
    assert (report.fix_yes, report.fix_no) == (1, 1)
    assert [(c.text, c.positive) for c in report.comments] == [
        ("spot on", True),
        ("outdated", False),
    ], "newest first; feedback without a comment is not listed"
    assert report.outcomes["resolved"] == 1


def test_durations_read_as_a_person_would_say_them() -> None:
    from tools.analytics.report import format_duration

    assert format_duration(timedelta(seconds=20)) == "under a minute"
    assert format_duration(timedelta(minutes=30)) == "30 min"
    assert format_duration(timedelta(hours=3, minutes=5)) == "3 h 5 min"
    assert format_duration(timedelta(days=3, hours=2)) == "3 days 2 h"
