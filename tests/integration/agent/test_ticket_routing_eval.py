"""``helpdesk eval-tickets``: real tickets through the whole bot, and what it reports.

A stratified sample of the real employee tickets runs through the CLI; the
same tickets are then said again to a bot of the test's own, and the first
tool each conversation's graph state records must be what the report says,
with the table's figures adding up to the JSON's. Small synthetic files
show the exit codes: 1 below ``--min-score``, 2 for a map that cannot be
used.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from agent.checkpoint import open_checkpointer
from agent.routing_eval import DESCRIBED
from bot.chat import ChatSession
from bot.cli import main
from bot.cli.eval import embedded_settings
from tools.settings import load_settings

PER_LABEL = 3
LABELS = 8


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["eval-tickets", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def _first_tools(texts: list[str], folder: Path) -> list[str | None]:
    """Say each text in a new conversation; the first tool its graph called."""
    settings = embedded_settings(load_settings(), folder / "data")
    found: list[str | None] = []
    async with (
        ChatSession(settings) as chat,
        open_checkpointer(settings) as saver,
    ):
        for text in texts:
            chat.conversation_id = f"a:check-{uuid.uuid4().hex}"
            replies = await chat.say(text)
            assert replies, f"the bot said nothing to {text[:60]!r}"
            thread: Any = {
                "configurable": {
                    "thread_id": f"{chat.user.tenant_id}:{chat.conversation_id}",
                    "checkpoint_ns": "",
                }
            }
            saved = await saver.aget_tuple(thread)
            messages = saved.checkpoint["channel_values"]["messages"] if saved else []
            calls = [
                call["name"]
                for m in messages
                if isinstance(m, AIMessage)
                for call in m.tool_calls
            ]
            found.append(calls[0] if calls else None)
    return found


def test_a_sample_of_real_tickets_reports_what_the_bot_did(
    shared_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = shared_dir / "data" / "tickets" / "it-service-tickets.jsonl"
    texts = {
        row["id"]: row["text"]
        for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())
    }
    sample = ["--limit", str(PER_LABEL * LABELS), "--sample-seed", "11"]

    code, out, err = _run(capsys, str(path), *sample, "--json")
    report = json.loads(out)
    table_code, table, _ = _run(capsys, str(path), *sample)

    assert code == 0 and table_code == 0, err
    assert "24/24 tickets" in err
    assert report["tickets"] == PER_LABEL * LABELS
    assert [row["tickets"] for row in report["labels"]] == [PER_LABEL] * LABELS
    results = report["results"]
    # The CLI runs its own event loop, so this test is synchronous too.
    said = asyncio.run(
        _first_tools([texts[r["id"]] for r in results], tmp_path / "check")
    )
    for result, tool in zip(results, said, strict=True):
        if tool is None:
            assert result["action"] in ("answered", "asked"), result
        else:
            assert result["action"] == tool == result["tools"][0], result
    for row in report["labels"]:
        mine = [r for r in results if r["label"] == row["label"]]
        assert row["routed"] == sum(r["routed"] for r in mine)
        assert row["actions"] == dict(Counter(r["action"] for r in mine))
        line = next(li for li in table.splitlines() if li.startswith(row["label"]))
        figures = line[len(row["label"]) :].split()
        assert figures[0] == str(PER_LABEL)
        assert figures[1] == f"{row['routed'] / PER_LABEL:.1%}"
        top_action = max(row["actions"], key=row["actions"].__getitem__)
        assert DESCRIBED.get(top_action, top_action) in line
    routed = report["routed"]
    assert f"{routed} of {PER_LABEL * LABELS} routed as documented" in table
    assert f"({routed / (PER_LABEL * LABELS):.1%};" in table


def _files(tmp_path: Path, actions: str = "self_service_reset") -> tuple[Path, Path]:
    tickets = tmp_path / "tickets.jsonl"
    tickets.write_text(
        json.dumps({"id": "p-1", "text": "I forgot my password", "label": "Pw"})
        + "\n"
        + json.dumps({"id": "p-2", "text": "what is the weather", "label": "Pw"})
        + "\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "labels:\n  Pw:\n    asks: passwords\n    why: reset them\n"
        f"    accept:\n      - {{action: {actions}, why: self-service}}\n",
        encoding="utf-8",
    )
    return tickets, mapping


@pytest.mark.parametrize(
    ("min_score", "code"),
    [pytest.param("0.75", 1, id="below"), pytest.param("0.5", 0, id="at")],
)
def test_the_run_fails_below_min_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], min_score: str, code: int
) -> None:
    tickets, mapping = _files(tmp_path)

    exit_code, out, err = _run(
        capsys, str(tickets), "--mapping", str(mapping), "--min-score", min_score
    )

    assert exit_code == code, out + err
    assert "1 of 2 routed as documented (50.0%" in out
    assert ("below --min-score" in err) is (code == 1)


def test_a_map_naming_a_tool_the_copilot_lacks_stops_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tickets, mapping = _files(tmp_path, actions="self_serve_reset")

    code, out, err = _run(capsys, str(tickets), "--mapping", str(mapping))

    assert code == 2
    assert "self_serve_reset" in err and out == ""


def test_a_missing_ticket_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, str(tmp_path / "absent.jsonl"))

    assert code == 2
    assert "no such file of tickets" in err
