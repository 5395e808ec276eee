"""The dashboard's markup: everything escaped, charts named, a new report field
shown even before a section is written for it, and the JSON as complete."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.admin_dashboard import (
    EMPTY_WINDOW,
    OUTCOME_COLOURS,
    render_dashboard,
    report_to_json,
    tag,
)
from tools.analytics.events import AnalyticsEvent, EventKind, new_event
from tools.analytics.report import Report, build_report
from tools.analytics.series import build_series
from tools.settings import load_settings

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=7)
HOSTILE = '<script>alert("gap")</script> & "quotes"'


def _events() -> list[AnalyticsEvent]:
    settings = load_settings()

    def event(conversation: str, kind: EventKind, hours: int, **fields: object):  # type: ignore[no-untyped-def]
        return new_event(
            settings,
            kind,
            tenant_id="t",
            conversation_id=conversation,
            user_id="u",
            at=NOW - timedelta(hours=hours),
            **fields,  # type: ignore[arg-type]
        )

    return [
        event("c1", "turn", 50),
        event("c1", "resolved_by_user", 49),
        event("c2", "turn", 30),
        event("c2", "ticket_opened", 30, detail="<b>printer</b>"),
        event("c3", "turn", 2),
        event("c3", "knowledge_gap", 2, tool="search_knowledge", detail=HOSTILE),
        event("c3", "satisfaction", 1, value=4),
    ]


def _page(report: Report) -> str:
    series = build_series(_events(), since=SINCE, now=NOW)
    return render_dashboard(
        report, series, window="7d", who="<i>ada</i>", form_token="t", nonce="n0"
    )


def test_tag_escapes_text_and_attributes() -> None:
    markup = tag("a", "<b>&", href='/x?a="1"&b=2', class_="c", hidden=True, title=None)

    assert markup == (
        '<a href="/x?a=&quot;1&quot;&amp;b=2" class="c" hidden>&lt;b&gt;&amp;</a>'
    )


def test_employee_words_and_labels_are_escaped_on_the_page() -> None:
    page = _page(build_report(_events(), since=SINCE, now=NOW))

    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;gap&quot;)&lt;/script&gt;" in page
    assert "<b>printer" not in page and "&lt;b&gt;printer&lt;/b&gt;" in page
    assert "<i>ada" not in page and "&lt;i&gt;ada&lt;/i&gt;" in page


def test_every_chart_is_named_and_has_a_table() -> None:
    page = _page(build_report(_events(), since=SINCE, now=NOW))

    charts = re.findall(r"<svg [^>]*>", page)
    assert len(charts) == 3
    for ident in ("chart-outcomes", "chart-satisfaction", "chart-tools"):
        assert f'aria-labelledby="{ident}-title {ident}-desc"' in page
        assert re.search(rf'<title id="{ident}-title">[^<]+</title>', page)
    assert page.count("<details>") == 3
    for colour in OUTCOME_COLOURS.values():
        assert f'fill="{colour}"' in page
    assert "33%" in page  # one conversation of three was resolved


def test_an_empty_window_says_so_instead_of_drawing() -> None:
    report = build_report([], since=SINCE, now=NOW)
    page = render_dashboard(
        report,
        build_series([], since=SINCE, now=NOW),
        window="7d",
        who="ada",
        form_token=None,
        nonce="n0",
    )

    assert EMPTY_WINDOW in page
    assert "<svg" not in page and "Sign out" not in page


@dataclass(frozen=True, slots=True)
class _Score:
    source: str
    thumbs_down: int


@dataclass(frozen=True, slots=True)
class _WiderReport(Report):
    """A report with a field the dashboard has no section for yet."""

    sample_scores: list[_Score] = field(default_factory=list)


def test_a_report_field_without_a_section_is_still_shown_and_escaped() -> None:
    base = build_report(_events(), since=SINCE, now=NOW)
    wider = _WiderReport(
        **{f.name: getattr(base, f.name) for f in dataclasses.fields(base)},
        sample_scores=[_Score("<vpn-mac.md>", 3)],
    )

    page = _page(wider)

    assert "Other figures" in page
    assert "&lt;vpn-mac.md&gt;" in page and "Thumbs down" in page
    assert report_to_json(wider, build_series([], since=SINCE, now=NOW), window="7d")[
        "report"
    ]["sample_scores"] == [{"source": "<vpn-mac.md>", "thumbs_down": 3}]


def test_the_json_has_every_figure_with_rates() -> None:
    events = _events()
    report = build_report(events, since=SINCE, now=NOW)

    body = report_to_json(
        report, build_series(events, since=SINCE, now=NOW), window="7d"
    )

    figures = body["report"]
    assert body["window"] == "7d"
    assert figures["conversations"] == 3
    assert figures["rates"]["resolved"] == 1 / 3
    assert figures["escalation_reasons"] == {"<b>printer</b>": 1}
    assert figures["median_resolution"] == 3600.0
    assert figures["since"] == SINCE.isoformat()
    assert figures["gaps"][0]["examples"] == [HOSTILE]
    assert body["series"]["step"] == "day"
    assert sum(b["conversations"] for b in body["series"]["buckets"]) == 3
