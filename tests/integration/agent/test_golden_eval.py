"""The golden set and ``helpdesk eval``: the cases are sound, and a regression fails.

The whole set takes about a minute; these tests run a handful of its cases
through the real bot, then break things on purpose (a case no message can
satisfy, a tool removed from the manifests) and expect a non-zero exit that
names the case.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from agent.evaluation import CLICK, Expectation, load_cases
from bot.cli import main
from tools.errors import InvalidInput
from tools.settings import PROJECT_ROOT

GOLDEN = PROJECT_ROOT / "manifests" / "golden"
TOOLS = {p.stem for p in (PROJECT_ROOT / "manifests" / "tools").glob("*.yaml")}
CATEGORIES = {
    "knowledge",
    "recovery",
    "tickets",
    "handoff",
    "followups",
    "assets",
    "smalltalk",
    "hostile",
}
PASSING_TODAY = [
    "kb-vpn-mac",
    "rec-tap-new-phone",
    "tkt-create-confirmed",
    "ho-ask-person",
    "hx-password-in-ticket",
    "hx-skip-confirmation-tap",
]
"""Cases across the categories that the offline model passes."""


def _eval(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["eval", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _named_tools(expect: Expectation) -> set[str]:
    names = {t.name for t in expect.tools}
    names |= {*expect.not_tools, *expect.approval, *expect.done, *expect.not_done}
    if isinstance(expect.no_card, list):
        names |= set(expect.no_card)
    return names


def test_the_shipped_set_is_well_formed_and_covers_every_tool() -> None:
    cases = load_cases(GOLDEN)

    assert len(cases) >= 150
    assert {c.category for c in cases} == CATEGORIES
    named = set()
    for case in cases:
        unknown = _named_tools(case.expect) - TOOLS
        assert not unknown, f"{case.id} names tools that do not exist: {unknown}"
        named |= _named_tools(case.expect)
        clicks = [s for s in case.say if CLICK.match(s)]
        if case.expect.approval and clicks:
            assert case.expect.done or case.expect.not_done, case.id
    assert named >= TOOLS, f"tools no case checks: {sorted(TOOLS - named)}"


def test_hostile_cases_cover_each_kind_of_attack() -> None:
    hostile = [c for c in load_cases(GOLDEN) if c.category == "hostile"]

    assert any(c.setup.articles for c in hostile), "an article with instructions"
    assert any(c.expect.not_stored for c in hostile), "a secret pasted into a ticket"
    assert any(c.expect.secret_kept for c in hostile), "a one-time secret asked again"
    assert any(
        c.setup.tickets and c.setup.tickets[0].caller != "Alex Employee"
        for c in hostile
    ), "someone else's ticket"
    assert any("confirm" in c.say[0] for c in hostile), "pressure to skip the card"


def test_a_small_subset_passes_through_the_whole_bot(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_json = tmp_path / "report.json"
    selected = [arg for case in PASSING_TODAY for arg in ("--case", case)]

    code, out, err = _eval(
        capsys, str(GOLDEN), *selected, "--min-score", "1", "--json", str(out_json)
    )

    assert code == 0, out + err
    assert f"{len(PASSING_TODAY)} of {len(PASSING_TODAY)} passed" in out
    assert "overall" in out and "failing cases" not in out
    report = json.loads(out_json.read_text(encoding="utf-8"))
    assert report["overall"] == 1.0 and report["passed"] is True
    assert {c["id"] for c in report["cases"]} == set(PASSING_TODAY)


def test_a_case_the_message_cannot_satisfy_fails_the_run_and_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cases = tmp_path / "regressed.yaml"
    cases.write_text(
        yaml.safe_dump(
            {
                "category": "regressed",
                "cases": [
                    {
                        "id": "vpn-answer",
                        "say": "how do I set up the VPN on my Mac?",
                        "expect": {"tools": ["search_knowledge"], "cites": ["vpn-mac"]},
                    },
                    {
                        "id": "greeting-wants-a-pass",
                        "say": "hello",
                        "expect": {
                            "approval": ["issue_temporary_access_pass"],
                            "done": ["issue_temporary_access_pass"],
                        },
                    },
                ],
            }
        ),
        encoding="utf-8",
    )

    code, out, err = _eval(capsys, str(cases), "--min-score", "0.9")

    assert code == 1
    assert "greeting-wants-a-pass [regressed]" in out
    assert "no approval card for issue_temporary_access_pass" in out
    assert "vpn-answer [" not in out, "the passing case is not listed as failing"
    assert "1 of 2 passed (50.0%" in out
    assert "below --min-score" in err


def test_removing_a_tool_from_the_manifests_fails_the_cases_that_need_it(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = tmp_path / "manifests"
    shutil.copytree(PROJECT_ROOT / "manifests", manifests)
    (manifests / "tools" / "self_service_reset.yaml").unlink()
    monkeypatch.setenv("HELPDESK_MANIFESTS_DIR", str(manifests))

    code, out, _ = _eval(
        capsys,
        str(GOLDEN),
        "--case",
        "rec-forgot-password",
        "--case",
        "kb-vpn-mac",
        "--min-score",
        "0.9",
    )

    assert code == 1
    assert "rec-forgot-password [recovery]" in out
    assert "self_service_reset was not called" in out
    assert "kb-vpn-mac [" not in out


def test_a_malformed_case_is_refused_with_its_file_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "category: x\ncases:\n  - id: typo\n    say: hello\n"
        "    expect: {no_side_efects: true}\n",
        encoding="utf-8",
    )

    code, _, err = _eval(capsys, str(broken))

    assert code == 2
    assert "broken.yaml, case typo" in err
    assert "no_side_efects" in err


def test_an_unknown_category_is_refused_rather_than_passing_empty(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _eval(capsys, str(GOLDEN), "--category", "knowlege")

    assert code == 2
    assert "no golden category knowlege" in err


def test_a_click_before_any_card_is_refused_at_load(tmp_path: Path) -> None:
    file = tmp_path / "click.yaml"
    file.write_text(
        "category: x\ncases:\n  - id: c\n    say: ['1']\n    expect: {no_card: true}\n",
        encoding="utf-8",
    )

    with pytest.raises(InvalidInput, match="cannot start with a click"):
        load_cases(file)
