"""``helpdesk report`` on events in the data folder: the tables and the CSV."""

from __future__ import annotations

import asyncio
import csv
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from tools.analytics.events import EventKind, new_event, record
from tools.db import create_engine, upgrade
from tools.settings import load_settings

Step = tuple[str, float, EventKind, dict[str, object]]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main`` configures the root logger; put it back for the next test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _write(steps: list[Step]) -> None:
    """Write ``(conversation, hours ago, kind, fields)`` into the data folder."""

    async def write() -> None:
        settings = load_settings()
        settings.prepare_data_dir()
        engine = create_engine(settings)
        now = datetime.now(UTC)
        try:
            await upgrade(engine)
            for conversation, hours_ago, kind, fields in steps:
                event = new_event(
                    settings,
                    kind,
                    tenant_id="tenant-1",
                    conversation_id=conversation,
                    user_id="alex",
                    at=now - timedelta(hours=hours_ago),
                    **fields,  # type: ignore[arg-type]
                )
                assert await record(engine, event)
        finally:
            await engine.dispose()

    asyncio.run(write())


_KB: dict[str, object] = {"tool": "search_knowledge"}
_A_MONTH_OF_EVENTS: list[Step] = [
    # resolved in 30 minutes, rated 5
    ("a", 50, "turn", {}),
    ("a", 50, "tool_call", _KB),
    ("a", 49.5, "resolved_by_user", {}),
    ("a", 49.4, "satisfaction", {"value": 5}),
    # resolved in 90 minutes by a thumbs up on the last answer, rated 3
    ("b", 40, "turn", {}),
    ("b", 39, "turn", {}),
    ("b", 38.5, "feedback", {"value": 1}),
    ("b", 38.4, "satisfaction", {"value": 3}),
    # escalated: the knowledge base had nothing, the password reset failed
    ("c", 30, "turn", {}),
    ("c", 30, "tool_call", _KB),
    ("c", 30, "knowledge_gap", {"detail": "VPN drops every hour on hotel wifi"}),
    ("c", 29, "tool_failed", {"tool": "reset_password", "detail": "ToolError"}),
    ("c", 29, "ticket_opened", {"detail": "network"}),
    # escalated: asked for a person
    ("d", 20, "turn", {}),
    ("d", 20, "knowledge_gap", {"detail": "vpn certificate expired, pw: Xy9!pass"}),
    ("d", 20, "handoff_requested", {"detail": "asked for a person"}),
    # abandoned: answered, then silence for 26 hours, no complaint either
    ("e", 26, "turn", {}),
    ("e", 26, "tool_call", _KB),
    ("e", 26, "knowledge_gap", {"detail": "printer on floor 3 jams"}),
    # open: answered an hour ago
    ("f", 1, "turn", {}),
    # outside the default 30 days
    ("g", 24 * 40, "turn", {}),
    ("g", 24 * 40, "resolved_by_user", {}),
]


def test_the_report_shows_outcomes_tools_resolution_satisfaction_and_gaps(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _write(_A_MONTH_OF_EVENTS)

    code = main(["report"])
    out = capsys.readouterr().out

    assert code == 0
    assert "Conversations from" in out and ": 6" in out
    lines = {" ".join(line.split()) for line in out.splitlines()}
    assert "resolved by the copilot 2 33%" in lines
    assert "escalated to a person 2 33%" in lines
    assert "network 1 17%" in lines
    assert "asked for a person 1 17%" in lines
    assert "abandoned 1 17%" in lines
    assert "still open 1 17%" in lines
    assert "search_knowledge 3 0 0 0%" in lines
    assert "reset_password 1 0 1 100%" in lines
    assert "Median time to resolution: 1 h 0 min" in out
    assert "Satisfaction: 4.00 of 5 from 2 ratings; feedback: 1 up, 0 down" in out
    assert "vpn 2 vpn certificate expired, pw: [redacted]" in lines
    assert "Xy9!pass" not in out


def test_the_csv_holds_the_same_figures(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _write(_A_MONTH_OF_EVENTS)
    path = tmp_path / "report.csv"

    code = main(["report", "--since", "30d", "--csv", str(path)])

    assert code == 0
    assert f"Wrote {path}" in capsys.readouterr().out
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    figures = {(r["section"], r["item"], r["measure"]): r["value"] for r in rows}
    assert figures[("outcomes", "all", "count")] == "6"
    assert figures[("outcomes", "resolved", "rate")] == "0.3333"
    assert figures[("escalation_reasons", "network", "count")] == "1"
    assert figures[("tools", "reset_password", "failed")] == "1"
    assert figures[("resolution", "median", "seconds")] == "3600"
    assert figures[("satisfaction", "rating", "mean")] == "4.0000"
    assert figures[("knowledge_gaps", "vpn", "count")] == "2"
    assert figures[("knowledge_gaps", "printer", "count")] == "1"


def test_a_shorter_window_and_silence_limit_change_the_outcomes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _write(_A_MONTH_OF_EVENTS)

    code = main(["report", "--since", "28h", "--abandon-after", "30m"])
    lines = {" ".join(line.split()) for line in capsys.readouterr().out.splitlines()}

    assert code == 0
    # a to c are outside 28 hours; f's answer is an hour old, so abandoned too
    assert "escalated to a person 1 33%" in lines
    assert "abandoned 2 67%" in lines


def test_a_question_written_as_a_formula_stays_text_in_the_csv(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    formula = '=HYPERLINK("http://127.0.0.1/x","vpn help")'
    _write([("a", 1, "turn", {}), ("a", 1, "knowledge_gap", {"detail": formula})])
    path = tmp_path / "report.csv"

    assert main(["report", "--csv", str(path)]) == 0
    with path.open(encoding="utf-8") as handle:
        examples = [
            r["value"] for r in csv.DictReader(handle) if r["measure"] == "example"
        ]
    assert examples == ["'" + formula]


def test_an_empty_window_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report"]) == 0
    assert "No conversations from" in capsys.readouterr().out


def test_a_wrong_window_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--since", "a month"]) == 2
    assert "--since" in capsys.readouterr().err


@pytest.mark.parametrize("since", ["0d", "99999999999d", "3651d", "1y", "soon"])
def test_a_window_that_is_no_window_is_refused_with_exit_2(
    since: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--since", since]) == 2
    assert "helpdesk report: --since" in capsys.readouterr().err


def test_a_window_in_capitals_is_read() -> None:
    assert main(["report", "--since", "7D"]) == 0
