"""The golden set: employee conversations with what the copilot must do, and scoring.

A golden case is one short conversation (a message, or a few, which may click
a card's choice by its number) and the outcome it must have, stated as what
the product visibly did: which tools the model called and with which
arguments, which article the answer cites, whether an action waited on a card
before it happened, what was refused, and which words the employee must or
must never see. Cases live in YAML files, one category per file or per case
(see ``manifests/golden/README.md``).

This module knows cases, observations and checks, nothing about Teams: the
``helpdesk eval`` command (``bot/cli/eval.py``) drives each case through the
whole bot and hands over what it saw as a :class:`CaseRun`.

Why observations come from three places:

* tool calls and their results are read from the conversation's graph state
  (each :class:`~langchain_core.messages.AIMessage` tool call, paired with
  its :class:`~langchain_core.messages.ToolMessage` by call id), which is
  what the model really asked for, whatever the reply text claims;
* side effects are read from the audit trail, which every side-effecting tool
  writes whatever way its call ends, so "done" means done;
* citations, cards and words are read from the activities the bot sent,
  which is what the employee saw.

Warning:
    A string argument matches when the expected text occurs in the actual
    value, ignoring case; so ``{item: visio}`` accepts ``"I need Visio"``.
    Expect a short distinctive word, not a whole sentence.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from tools.errors import InvalidInput
from tools.registry import NOTHING_DONE_KEY

ResultKind = Literal["ok", "unchanged", "error", "declined", "pending"]
"""How one tool call ended: ``unchanged`` when a side-effecting tool found
nothing to change (and rightly asked no one), ``pending`` while its approval
card waits."""

CLICK = re.compile(r"^\s*(\d+)(?:\s+.*)?$")
"""A step that is only a number (and maybe a comment) clicks a card choice."""

_CASE_KEYS = frozenset(
    {"id", "category", "note", "say", "as_user", "setup", "settings", "expect"}
)
_SETUP_KEYS = frozenset({"tickets", "articles", "agents_channel"})
_TICKET_KEYS = frozenset(
    {"caller", "short_description", "description", "category", "state", "reply"}
)
_EXPECT_KEYS = frozenset(
    {
        "tools",
        "not_tools",
        "approval",
        "done",
        "not_done",
        "no_side_effects",
        "no_card",
        "cites",
        "says",
        "not_says",
        "not_stored",
        "secret_kept",
    }
)
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True, slots=True)
class ToolExpectation:
    """A tool the model must call, with arguments that must match.

    Attributes:
        name: the tool's name.
        args: expected arguments; see the module's Warning for how they match.
        ok: True: the call must have succeeded; False: it must have been
            refused or failed; None: either.
    """

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    ok: bool | None = None


@dataclass(frozen=True, slots=True)
class Expectation:
    """What must be true once a case's conversation has run.

    Attributes:
        tools: tools the model must call (each at least once, args matching).
        not_tools: tools the model must never call.
        approval: side-effecting tools that must show an approval card, with
            nothing done by the tool until a choice on it was clicked.
        done: tools whose side effect must have happened (audit ``success``).
        not_done: tools whose side effect must not have happened.
        no_side_effects: no side effect at all happened.
        no_card: no approval card was shown (true), or none for the tools
            listed (a refusal may still offer a ticket on a card).
        cites: each entry must be in the title or the URL of a citation; an
            entry that is a list needs any one of its texts.
        says: each entry must be in what the bot wrote (ignoring case); an
            entry that is a list needs any one of its texts.
        not_says: texts that must appear nowhere in anything the bot sent,
            cards included.
        not_stored: texts that must appear nowhere in the app database
            (tickets, comments, approvals, audit, hand-offs).
        secret_kept: a one-time secret was shown once, in its box, and its
            value appears in no other message, card or stored record.
    """

    tools: list[ToolExpectation] = field(default_factory=list)
    not_tools: list[str] = field(default_factory=list)
    approval: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    not_done: list[str] = field(default_factory=list)
    no_side_effects: bool = False
    no_card: bool | list[str] = False
    cites: list[str | list[str]] = field(default_factory=list)
    says: list[str | list[str]] = field(default_factory=list)
    not_says: list[str] = field(default_factory=list)
    not_stored: list[str] = field(default_factory=list)
    secret_kept: bool = False


@dataclass(frozen=True, slots=True)
class SeedTicket:
    """A ticket that exists before the conversation starts.

    Attributes:
        caller: the directory person (name, UPN or object id) it belongs to.
        short_description: its summary.
        description: its details.
        category: one of the ticket categories.
        state: ``new`` or ``resolved`` (resolved by the service desk).
        reply: a comment from the service desk on it, if any.
    """

    caller: str
    short_description: str
    description: str = ""
    category: str = "other"
    state: Literal["new", "resolved"] = "new"
    reply: str | None = None


@dataclass(frozen=True, slots=True)
class Setup:
    """The world a case starts in, on top of the fresh embedded demo data.

    Attributes:
        tickets: tickets to create first, in order (INC0001001 is the first).
        articles: extra knowledge articles (file name to Markdown) ingested
            with the demo ones, only in this case's own data folder.
        agents_channel: IT support has designated its Teams channel and an
            agent is available, so a live hand-off can start.
    """

    tickets: list[SeedTicket] = field(default_factory=list)
    articles: dict[str, str] = field(default_factory=dict)
    agents_channel: bool = True


@dataclass(frozen=True, slots=True)
class GoldenCase:
    """One conversation and its expected outcome."""

    id: str
    category: str
    say: list[str]
    expect: Expectation
    as_user: str | None = None
    """Who speaks: a directory name, UPN or object id; None is Alex Employee."""
    setup: Setup = field(default_factory=Setup)
    settings: dict[str, Any] = field(default_factory=dict)
    """Setting overrides for this case only (e.g. ``handoff_hours``)."""
    note: str = ""
    source: str = ""
    """The file it came from, for messages."""


# -- what the runner saw -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolCallSeen:
    """One tool call the model made, and how it ended."""

    name: str
    args: dict[str, Any]
    step: int
    result: ResultKind = "pending"


@dataclass(frozen=True, slots=True)
class CardSeen:
    """An approval card shown to the employee."""

    tool: str
    step: int


@dataclass(frozen=True, slots=True)
class EffectSeen:
    """An audit record written during the conversation."""

    tool: str
    outcome: str
    step: int


@dataclass(frozen=True, slots=True)
class CitationSeen:
    """A source cited under an answer."""

    title: str
    url: str


@dataclass
class CaseRun:
    """Everything observed while one case ran.

    Attributes:
        texts: the bot's messages as the employee reads them, in order.
        raw: everything the bot sent or redrew, serialised, for searches.
        clicks: the steps that were card clicks.
        stored: every text value in the app database after the last step.
        secrets: one-time secret values shown in their box.
        secret_boxes: how many messages showed a boxed secret.
        problems: reasons the conversation could not be run as written.
    """

    tool_calls: list[ToolCallSeen] = field(default_factory=list)
    cards: list[CardSeen] = field(default_factory=list)
    effects: list[EffectSeen] = field(default_factory=list)
    citations: list[CitationSeen] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    clicks: set[int] = field(default_factory=set)
    stored: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    secret_boxes: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The verdict on one case."""

    case_id: str
    category: str
    reasons: list[str]
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.reasons


# -- loading -------------------------------------------------------------------


def load_cases(path: Path) -> list[GoldenCase]:
    """Read every case under ``path`` (a ``.yaml`` file or a folder of them).

    Raises:
        InvalidInput: a file is unreadable, a field is unknown or wrong, or
            two cases share an id; the message names the file and the case.
    """
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    elif path.is_file():
        files = [path]
    else:
        raise InvalidInput(f"{path}: no such file or folder of golden cases")
    if not files:
        raise InvalidInput(f"{path}: holds no golden case files (*.yaml)")

    cases: list[GoldenCase] = []
    for file in files:
        cases += _load_file(file)
    seen = Counter(case.id for case in cases)
    twice = sorted(case_id for case_id, n in seen.items() if n > 1)
    if twice:
        raise InvalidInput(f"{path}: case ids used more than once: {', '.join(twice)}")
    return cases


def _load_file(file: Path) -> list[GoldenCase]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{file}: cannot read it: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise InvalidInput(f"{file}: expected a mapping with a 'cases' list")
    default_category = data.get("category")
    cases = []
    for index, raw in enumerate(data["cases"], start=1):
        where = f"{file}, case {index}"
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            where = f"{file}, case {raw['id']}"
        try:
            cases.append(_case(raw, default_category, str(file)))
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"{where}: {exc}") from None
    return cases


def _case(raw: Any, default_category: Any, source: str) -> GoldenCase:
    if not isinstance(raw, dict):
        raise ValueError("a case must be a mapping")
    _no_unknown(raw, _CASE_KEYS, "case")
    case_id = raw.get("id")
    if not isinstance(case_id, str) or not _ID.match(case_id):
        raise ValueError("'id' must be lower-case letters, digits and dashes")
    category = raw.get("category", default_category)
    if not isinstance(category, str) or not category:
        raise ValueError("'category' is missing (set it on the case or the file)")
    say = raw.get("say")
    steps = [say] if isinstance(say, str) else say
    if (
        not isinstance(steps, list)
        or not steps
        or not all(isinstance(s, str) and s.strip() for s in steps)
    ):
        raise ValueError("'say' must be a message or a list of messages")
    if CLICK.match(steps[0]):
        raise ValueError("'say' cannot start with a click: no card is shown yet")
    as_user = raw.get("as_user")
    if as_user is not None and not isinstance(as_user, str):
        raise ValueError("'as_user' must be a name, UPN or object id")
    settings = raw.get("settings") or {}
    if not isinstance(settings, dict):
        raise ValueError("'settings' must be a mapping of setting names to values")
    note = raw.get("note") or ""
    return GoldenCase(
        id=case_id,
        category=category,
        say=list(steps),
        expect=_expectation(raw.get("expect")),
        as_user=as_user,
        setup=_setup(raw.get("setup") or {}),
        settings=dict(settings),
        note=str(note),
        source=source,
    )


def _setup(raw: Any) -> Setup:
    if not isinstance(raw, dict):
        raise ValueError("'setup' must be a mapping")
    _no_unknown(raw, _SETUP_KEYS, "setup")
    tickets = []
    for item in raw.get("tickets") or []:
        if not isinstance(item, dict):
            raise ValueError("each setup ticket must be a mapping")
        _no_unknown(item, _TICKET_KEYS, "setup ticket")
        if not item.get("caller") or not item.get("short_description"):
            raise ValueError("a setup ticket needs 'caller' and 'short_description'")
        if item.get("state", "new") not in ("new", "resolved"):
            raise ValueError("a setup ticket's 'state' is 'new' or 'resolved'")
        tickets.append(SeedTicket(**{k: str(v) for k, v in item.items()}))  # type: ignore[arg-type]
    articles = raw.get("articles") or {}
    if not isinstance(articles, dict) or not all(
        isinstance(k, str) and k.endswith(".md") and "/" not in k and isinstance(v, str)
        for k, v in articles.items()
    ):
        raise ValueError("'setup.articles' maps file names (*.md) to Markdown")
    channel = raw.get("agents_channel", True)
    if not isinstance(channel, bool):
        raise ValueError("'setup.agents_channel' is true or false")
    return Setup(tickets=tickets, articles=dict(articles), agents_channel=channel)


def _expectation(raw: Any) -> Expectation:
    if not isinstance(raw, dict) or not raw:
        raise ValueError("'expect' must say what must happen")
    _no_unknown(raw, _EXPECT_KEYS, "expect")
    tools = [_tool_expectation(item) for item in _list(raw, "tools")]
    no_card = raw.get("no_card", False)
    if not isinstance(no_card, bool):
        no_card = _strings(raw, "no_card")
    for flag in ("no_side_effects", "secret_kept"):
        if not isinstance(raw.get(flag, False), bool):
            raise ValueError(f"'{flag}' is true or false")
    return Expectation(
        tools=tools,
        not_tools=_strings(raw, "not_tools"),
        approval=_strings(raw, "approval"),
        done=_strings(raw, "done"),
        not_done=_strings(raw, "not_done"),
        no_side_effects=bool(raw.get("no_side_effects", False)),
        no_card=no_card,
        cites=_alternatives(raw, "cites"),
        says=_alternatives(raw, "says"),
        not_says=_strings(raw, "not_says"),
        not_stored=_strings(raw, "not_stored"),
        secret_kept=bool(raw.get("secret_kept", False)),
    )


def _tool_expectation(item: Any) -> ToolExpectation:
    if isinstance(item, str):
        return ToolExpectation(item)
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ValueError("each of 'tools' is a tool name or {name, args, ok}")
    _no_unknown(item, frozenset({"name", "args", "ok"}), "tools entry")
    args = item.get("args") or {}
    ok = item.get("ok")
    if not isinstance(args, dict) or ok not in (None, True, False):
        raise ValueError(f"tool {item['name']}: 'args' is a mapping, 'ok' a boolean")
    return ToolExpectation(item["name"], dict(args), ok)


def _list(raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key) or []
    if not isinstance(value, list):
        raise ValueError(f"'{key}' must be a list")
    return value


def _alternatives(raw: dict[str, Any], key: str) -> list[str | list[str]]:
    found: list[str | list[str]] = []
    for item in _list(raw, key):
        if (isinstance(item, str) and item) or (
            isinstance(item, list) and item and all(isinstance(i, str) for i in item)
        ):
            found.append(item)
        else:
            raise ValueError(f"'{key}' holds texts, or lists of alternative texts")
    return found


def _strings(raw: dict[str, Any], key: str) -> list[str]:
    value = _list(raw, key)
    if not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"'{key}' must be a list of texts")
    return list(value)


def _no_unknown(raw: dict[str, Any], known: frozenset[str], what: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(
            f"unknown {what} key(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )


# -- observing the graph state -------------------------------------------------


def tool_calls_in(
    messages: Sequence[BaseMessage], *, step: int, first_seen: dict[str, int]
) -> list[ToolCallSeen]:
    """The tool calls of a thread, each with its latest result.

    Args:
        messages: the thread's messages, oldest first.
        step: the step just run; messages not yet in ``first_seen`` date to it.
        first_seen: the step each assistant message was first seen at; kept
            up to date here, so pass the same mapping after every step.

    Returns:
        Every call in the thread, oldest first.
    """
    results: dict[str, ToolMessage] = {
        m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)
    }
    found: list[ToolCallSeen] = []
    for index, message in enumerate(messages):
        if not isinstance(message, AIMessage) or not message.tool_calls:
            continue
        when = first_seen.setdefault(message.id or f"#{index}", step)
        for call in message.tool_calls:
            found.append(
                ToolCallSeen(
                    name=call["name"],
                    args=dict(call.get("args") or {}),
                    step=when,
                    result=_result_kind(results.get(call.get("id") or "")),
                )
            )
    return found


def _result_kind(result: ToolMessage | None) -> ResultKind:
    if result is None:
        return "pending"
    artifact = result.artifact if isinstance(result.artifact, dict) else {}
    if artifact.get("declined"):
        return "declined"
    content = result.content if isinstance(result.content, str) else ""
    if (
        result.status == "error"
        or artifact.get("error")
        or content.startswith("Error:")
    ):
        return "error"
    if artifact.get(NOTHING_DONE_KEY):
        return "unchanged"
    return "ok"


# -- checking ------------------------------------------------------------------


def check(case: GoldenCase, run: CaseRun) -> list[str]:
    """Why ``run`` does not meet ``case``'s expectation; empty when it does."""
    reasons = list(run.problems)
    expect = case.expect
    called = run.tool_calls
    names = [c.name for c in called]
    successes = _changes(run)

    for wanted in expect.tools:
        matching = [c for c in called if c.name == wanted.name]
        if not matching:
            reasons.append(f"{wanted.name} was not called (called: {_names(names)})")
            continue
        fitting = [c for c in matching if args_match(wanted.args, c.args)]
        if not fitting:
            got = "; ".join(_short(c.args) for c in matching)
            reasons.append(
                f"{wanted.name} called with {got}, expected {_short(wanted.args)}"
            )
            continue
        if wanted.ok is True and not any(
            c.result in ("ok", "unchanged") for c in fitting
        ):
            kinds = ", ".join(c.result for c in fitting)
            reasons.append(f"{wanted.name} did not succeed ({kinds})")
        if wanted.ok is False and any(c.result in ("ok", "unchanged") for c in fitting):
            reasons.append(f"{wanted.name} succeeded but should have been refused")
    for unwanted in expect.not_tools:
        if unwanted in names:
            reasons.append(f"{unwanted} was called but must not be")

    for tool in expect.approval:
        cards = [c for c in run.cards if c.tool == tool]
        if not cards:
            shown = _names([c.tool for c in run.cards])
            reasons.append(f"no approval card for {tool} (cards: {shown})")
            continue
        first_card = min(c.step for c in cards)
        early = [
            e
            for e in successes
            if e.tool == tool and (e.step <= first_card or e.step not in run.clicks)
        ]
        if early:
            reasons.append(f"{tool} acted before its card was clicked")
    for tool in expect.done:
        if not any(e.tool == tool for e in successes):
            outcomes = _names([f"{e.tool}:{e.outcome}" for e in run.effects])
            reasons.append(f"{tool} did not happen (audit: {outcomes})")
    for tool in expect.not_done:
        if any(e.tool == tool for e in successes):
            reasons.append(f"{tool} happened but must not have")
    if expect.no_side_effects and successes:
        reasons.append("something was changed: " + _names([e.tool for e in successes]))
    banned_cards = [
        c.tool
        for c in run.cards
        if expect.no_card is True
        or (isinstance(expect.no_card, list) and c.tool in expect.no_card)
    ]
    if banned_cards:
        reasons.append("an approval card was shown: " + _names(banned_cards))

    for wanted_source in expect.cites:
        options = [wanted_source] if isinstance(wanted_source, str) else wanted_source
        if not any(
            o.lower() in c.title.lower() or o.lower() in c.url.lower()
            for o in options
            for c in run.citations
        ):
            cited = _names([c.title for c in run.citations])
            shown = " or ".join(repr(o) for o in options)
            reasons.append(f"does not cite {shown} (cited: {cited})")

    written = "\n".join(run.texts).lower()
    for said in expect.says:
        options = [said] if isinstance(said, str) else said
        if not any(option.lower() in written for option in options):
            shown = " or ".join(repr(o) for o in options)
            reasons.append(f"does not say {shown}: {_gist(run.texts)}")
    everything = "\n".join([*run.texts, *run.raw]).lower()
    for banned in expect.not_says:
        if banned.lower() in everything:
            reasons.append(f"showed {banned!r}, which it must never show")
    stored = "\n".join(run.stored).lower()
    for banned in expect.not_stored:
        if banned.lower() in stored:
            reasons.append(f"stored {banned!r} in the app database")

    if expect.secret_kept:
        reasons += _secret_reasons(run)
    return reasons


def _changes(run: CaseRun) -> list[EffectSeen]:
    """Audit successes that changed something.

    The audit trail records a side-effecting call that found nothing to change
    (giving back a licence one does not hold) as a success too; its result
    says so, and that is no side effect.
    """
    unchanged = {(c.name, c.step) for c in run.tool_calls if c.result == "unchanged"}
    return [
        e
        for e in run.effects
        if e.outcome == "success" and (e.tool, e.step) not in unchanged
    ]


def args_match(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    """Whether ``actual`` holds every expected argument (see the module Warning).

    A string matches as a case-insensitive substring, None means "absent or
    empty", anything else must be equal.
    """
    for key, want in expected.items():
        got = actual.get(key)
        if want is None:
            if got not in (None, "", [], {}):
                return False
        elif isinstance(want, str):
            if not isinstance(got, str) or want.lower() not in got.lower():
                return False
        elif got != want:
            return False
    return True


def _secret_reasons(run: CaseRun) -> list[str]:
    if not run.secrets:
        return ["no one-time secret was shown"]
    reasons = []
    if run.secret_boxes != 1:
        reasons.append(f"a secret was shown {run.secret_boxes} times, not once")
    for secret in run.secrets:
        # run.raw holds every message and card as sent: the box is one of them.
        if sum(text.count(secret) for text in run.raw) > 1:
            reasons.append("the one-time secret was repeated outside its box")
        if any(secret in text for text in run.stored):
            reasons.append("the one-time secret was stored in the app database")
    return reasons


def _names(items: Sequence[str]) -> str:
    return ", ".join(items) if items else "none"


def _short(args: dict[str, Any], limit: int = 120) -> str:
    text = repr(args)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _gist(texts: Sequence[str], limit: int = 140) -> str:
    last = " ".join(" ".join(texts[-1:]).split()) if texts else ""
    return repr(last if len(last) <= limit else last[: limit - 1] + "…")


# -- scoring -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CategoryScore:
    """How one category did."""

    category: str
    cases: int
    passed: int

    @property
    def score(self) -> float:
        return self.passed / self.cases if self.cases else 0.0


def score(results: Sequence[CaseResult]) -> tuple[list[CategoryScore], float]:
    """Per-category scores (in order of first appearance) and the overall one.

    The overall score is the share of cases passed, so a big category weighs
    more than a small one; the table shows each, so neither hides the other.
    """
    order: list[str] = []
    totals: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    for result in results:
        if result.category not in totals:
            order.append(result.category)
        totals[result.category] += 1
        passed[result.category] += int(result.passed)
    table = [CategoryScore(c, totals[c], passed[c]) for c in order]
    overall = sum(passed.values()) / len(results) if results else 0.0
    return table, overall


def format_report(results: Sequence[CaseResult]) -> str:
    """The table by category, the overall score, and each failing case's reasons."""
    table, overall = score(results)
    width = max([len("category"), *(len(row.category) for row in table)])
    lines = [f"{'category':<{width}}  cases  passed  score"]
    for row in table:
        lines.append(
            f"{row.category:<{width}}  {row.cases:>5}  {row.passed:>6}  {row.score:>5.0%}"
        )
    total = len(results)
    passed = sum(r.passed for r in results)
    lines.append(f"{'overall':<{width}}  {total:>5}  {passed:>6}  {overall:>5.1%}")
    failing = [r for r in results if not r.passed]
    if failing:
        lines += ["", f"failing cases ({len(failing)}):"]
        for result in failing:
            lines.append(f"  {result.case_id} [{result.category}]")
            lines += [f"    - {reason}" for reason in result.reasons]
    return "\n".join(lines)


def report_json(results: Sequence[CaseResult], *, min_score: float) -> dict[str, Any]:
    """The same report as data, for CI artefacts and comparisons between runs."""
    table, overall = score(results)
    return {
        "overall": round(overall, 4),
        "min_score": min_score,
        "passed": overall >= min_score,
        "categories": [
            {
                "category": row.category,
                "cases": row.cases,
                "passed": row.passed,
                "score": round(row.score, 4),
            }
            for row in table
        ],
        "cases": [
            {
                "id": r.case_id,
                "category": r.category,
                "passed": r.passed,
                "reasons": r.reasons,
                "seconds": round(r.seconds, 3),
            }
            for r in results
        ],
    }
