"""``helpdesk report``: outcomes, tool use, resolution time, satisfaction and gaps.

The text tables are for a person; ``--csv FILE`` writes the same figures in a
long form (``section,item,measure,value``) that a spreadsheet can pivot.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cli.audit import parse_age
from tools.analytics.outcomes import OUTCOME_KINDS
from tools.analytics.report import (
    Report,
    abuild_report,
    format_duration,
    format_share,
)
from tools.db import create_engine, upgrade
from tools.settings import Settings

_OUTCOME_LABELS = {
    "resolved": "resolved by the copilot",
    "escalated": "escalated to a person",
    "abandoned": "abandoned",
    "open": "still open",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``helpdesk report``."""
    parser = subparsers.add_parser(
        "report",
        help="how conversations ended, tool use and failures, and knowledge gaps",
    )
    parser.add_argument(
        "--since", default="30d", help="how far back: 12h, 30d, 8w (default 30d)"
    )
    parser.add_argument(
        "--abandon-after",
        default="24h",
        help="silence after the last answer that counts as abandoned (default 24h)",
    )
    parser.add_argument("--tenant", help="only this Entra tenant id")
    parser.add_argument("--csv", type=Path, help="also write the figures to this file")
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace, settings: Settings) -> int:
    try:
        window = parse_age(args.since)
    except ValueError as exc:
        print(f"helpdesk report: --since {exc}", file=sys.stderr)
        return 2
    try:
        abandon_after = parse_age(args.abandon_after)
    except ValueError as exc:
        print(f"helpdesk report: --abandon-after {exc}", file=sys.stderr)
        return 2

    now = datetime.now(UTC)
    report = asyncio.run(
        _build(
            settings,
            since=now - window,
            now=now,
            abandon_after=abandon_after,
            tenant=args.tenant,
        )
    )

    print(format_report(report))
    if args.csv is not None:
        write_csv(report, args.csv)
        print(f"\nWrote {args.csv}")
    return 0


async def _build(
    settings: Settings,
    *,
    since: datetime,
    now: datetime,
    abandon_after: timedelta,
    tenant: str | None,
) -> Report:
    settings.prepare_data_dir()
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        return await abuild_report(
            engine, since=since, now=now, abandon_after=abandon_after, tenant_id=tenant
        )
    finally:
        await engine.dispose()


def format_report(report: Report) -> str:
    """The report as text tables, one per section."""
    window = (
        f"{report.since.strftime('%Y-%m-%d %H:%M')} to "
        f"{report.until.strftime('%Y-%m-%d %H:%M')} UTC"
    )
    if not report.conversations:
        return f"No conversations from {window}."

    parts = [f"Conversations from {window}: {report.conversations}"]

    rows: list[tuple[str, ...]] = [("OUTCOME", "COUNT", "RATE")]
    for kind in OUTCOME_KINDS:
        rows.append(
            (
                _OUTCOME_LABELS[kind],
                str(report.outcomes[kind]),
                format_share(report.rate(kind)),
            )
        )
        if kind == "escalated":
            for reason, n in report.escalation_reasons.items():
                rows.append(
                    (f"  {reason}", str(n), format_share(n / report.conversations))
                )
    parts.append(_table(rows))

    if report.tools:
        rows = [("TOOL", "CALLS", "SAID NO", "FAILED", "FAILURE RATE")]
        rows += [
            (
                t.tool,
                str(t.calls),
                str(t.refused),
                str(t.failed),
                format_share(t.failure_rate),
            )
            for t in report.tools
        ]
        parts.append(_table(rows))
    else:
        parts.append("No tool calls.")

    resolution = report.median_resolution
    parts.append(
        "Median time to resolution: "
        + (format_duration(resolution) if resolution is not None else "none resolved")
    )

    feedback = f"feedback: {report.feedback_up} up, {report.feedback_down} down"
    if report.satisfaction_mean is not None:
        parts.append(
            f"Satisfaction: {report.satisfaction_mean:.2f} of 5 from "
            f"{report.satisfaction_count} ratings; {feedback}"
        )
    else:
        parts.append(f"Satisfaction: no ratings; {feedback}")

    if report.fix_yes or report.fix_no:
        parts.append(f'"Did this fix it?": {report.fix_yes} yes, {report.fix_no} no')
    if report.articles:
        rows = [("ARTICLE", "FIXED", "NOT FIXED", "THUMBS UP", "THUMBS DOWN")]
        rows += [
            (
                a.source,
                str(a.fixed),
                str(a.not_fixed),
                str(a.thumbs_up),
                str(a.thumbs_down),
            )
            for a in report.articles
        ]
        parts.append(_table(rows))
    if report.comments:
        rows = [("FEEDBACK COMMENT", "ON", "WHEN")]
        rows += [
            (
                c.text,
                "thumbs up" if c.positive else "thumbs down",
                c.at.strftime("%Y-%m-%d %H:%M"),
            )
            for c in report.comments
        ]
        parts.append(_table(rows))

    if report.gaps:
        rows = [("KNOWLEDGE GAP TOPIC", "QUESTIONS", "LATEST EXAMPLE")]
        rows += [(g.topic, str(g.count), g.examples[0]) for g in report.gaps]
        parts.append(_table(rows))
    else:
        parts.append("No unanswered questions.")
    return "\n\n".join(parts)


def write_csv(report: Report, path: Path) -> None:
    """Write the report's figures to ``path`` as ``section,item,measure,value``."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("section", "item", "measure", "value"))
        writer.writerows(tuple(map(_inert, row)) for row in csv_rows(report))


def csv_rows(report: Report) -> Iterator[Sequence[str]]:
    """The report as rows of (section, item, measure, value)."""
    yield ("window", "since", "time", report.since.isoformat())
    yield ("window", "until", "time", report.until.isoformat())
    yield ("outcomes", "all", "count", str(report.conversations))
    for kind in OUTCOME_KINDS:
        yield ("outcomes", kind, "count", str(report.outcomes[kind]))
        yield ("outcomes", kind, "rate", f"{report.rate(kind):.4f}")
    for reason, n in report.escalation_reasons.items():
        yield ("escalation_reasons", reason, "count", str(n))
    for tool in report.tools:
        yield ("tools", tool.tool, "calls", str(tool.calls))
        yield ("tools", tool.tool, "refused", str(tool.refused))
        yield ("tools", tool.tool, "failed", str(tool.failed))
        yield ("tools", tool.tool, "failure_rate", f"{tool.failure_rate:.4f}")
    if report.median_resolution is not None:
        seconds = report.median_resolution.total_seconds()
        yield ("resolution", "median", "seconds", f"{seconds:.0f}")
    if report.satisfaction_mean is not None:
        yield ("satisfaction", "rating", "mean", f"{report.satisfaction_mean:.4f}")
    yield ("satisfaction", "rating", "count", str(report.satisfaction_count))
    yield ("feedback", "up", "count", str(report.feedback_up))
    yield ("feedback", "down", "count", str(report.feedback_down))
    yield ("fix_question", "yes", "count", str(report.fix_yes))
    yield ("fix_question", "no", "count", str(report.fix_no))
    for article in report.articles:
        yield ("articles", article.source, "fixed", str(article.fixed))
        yield ("articles", article.source, "not_fixed", str(article.not_fixed))
        yield ("articles", article.source, "thumbs_up", str(article.thumbs_up))
        yield ("articles", article.source, "thumbs_down", str(article.thumbs_down))
    for comment in report.comments:
        reaction = "thumbs_up" if comment.positive else "thumbs_down"
        yield ("feedback_comments", comment.at.isoformat(), reaction, comment.text)
    for gap in report.gaps:
        yield ("knowledge_gaps", gap.topic, "count", str(gap.count))
        for example in gap.examples:
            yield ("knowledge_gaps", gap.topic, "example", example)


def _inert(cell: str) -> str:
    """A cell a spreadsheet will not run: employees' questions are shown in the
    CSV, and one starting with ``=`` would otherwise be a formula."""
    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
