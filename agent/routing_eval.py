"""Routing on real employee tickets: the first action each label should get, and scoring.

A labelled ticket (``{"id", "text", "label"}``, one JSON object a line) is an
employee's opening message with the queue a service desk once filed it in.
The routing map (``manifests/routing/ticket-labels.yaml``, explained in the
README beside it) says, for each label, which first actions are right: a
tool's name, ``answered`` (a reply without a tool) or ``asked`` (a question
back). A rule may hold only for tickets whose text has one of a named list of
words, because a label is a queue, not a request type, and mixes several.

This module knows tickets, the map, first actions and scores, nothing about
Teams: ``helpdesk eval-tickets`` (``bot/cli/eval_tickets.py``) runs each
ticket as the first message of a fresh conversation through the whole bot
and hands over the conversation's messages.

Warning:
    Only the first action is judged. A knowledge search that finds nothing
    and then drafts a ticket counts as a search: the table shows how often
    the first turn drafted a ticket in a column of its own.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from langchain_core.messages import AIMessage, BaseMessage

from agent.evaluation import tool_calls_in
from agent.offline import OFFLINE_NOTE, PENDING_KEY
from tools.errors import InvalidInput

ANSWERED = "answered"
"""The first action when the copilot replied without calling a tool."""
ASKED = "asked"
"""The first action when the copilot asked the employee a question back."""
FAILED = "failed"
"""The first action when the turn broke: never right, always a finding."""
DESCRIBED = {
    ANSWERED: "answered without a tool",
    ASKED: "asked a question",
    FAILED: "the turn failed",
}
TICKET_TOOL = "create_ticket"
"""A first turn that calls this, first or after a search, drafted a ticket."""

_TOP_ACTIONS = 3
_ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TICKET_ID = re.compile(r"^[\w.:-]+$")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_MAP_KEYS = frozenset({"words", "every_label", "labels"})
_LABEL_KEYS = frozenset({"asks", "why", "accept", "examples"})
_RULE_KEYS = frozenset({"action", "why", "only_when"})
_QUESTION = re.compile(r"\?(?:\s|$)")


@dataclass(frozen=True, slots=True)
class Ticket:
    """One labelled employee ticket."""

    id: str
    text: str
    label: str


@dataclass(frozen=True, slots=True)
class Rule:
    """An acceptable first action, and when it applies.

    Attributes:
        action: a tool's name, ``answered`` or ``asked``.
        why: why it fits, for people reading the map.
        only_when: names of word lists; the rule applies only to a ticket whose
            text holds a word of one of them. Empty: to every ticket.
    """

    action: str
    why: str
    only_when: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LabelRoute:
    """What one label's tickets ask, and the first actions that are right."""

    label: str
    asks: str
    why: str
    accept: tuple[Rule, ...]
    examples: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoutingMap:
    """Labels to acceptable first actions, as read from the routing map file.

    Attributes:
        labels: each label's route, in the file's order.
        every_label: rules that hold whatever the label.
        words: the named word lists that rules' ``only_when`` refer to.
    """

    labels: dict[str, LabelRoute]
    every_label: tuple[Rule, ...] = ()
    words: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def accepts(self, ticket: Ticket, action: str) -> bool:
        """Whether ``action`` is a documented first action for ``ticket``.

        Raises:
            InvalidInput: the ticket's label is not in the map.
        """
        route = self.labels.get(ticket.label)
        if route is None:
            raise InvalidInput(f"the routing map has no label {ticket.label!r}")
        tokens = f" {' '.join(_WORD.findall(ticket.text.lower()))} "
        return any(
            rule.action == action and self._applies(rule, tokens)
            for rule in (*route.accept, *self.every_label)
        )

    def actions(self) -> set[str]:
        """Every action the map names."""
        rules = [
            *self.every_label,
            *(r for v in self.labels.values() for r in v.accept),
        ]
        return {rule.action for rule in rules}

    def check_actions(self, known: Iterable[str]) -> None:
        """Refuse a map that names a tool the copilot does not have (a typo).

        Raises:
            InvalidInput: naming the unknown actions and the known ones.
        """
        allowed = set(known) | {ANSWERED, ASKED}
        unknown = sorted(self.actions() - allowed)
        if unknown:
            raise InvalidInput(
                f"the routing map names actions the copilot does not have: "
                f"{', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
            )

    def check_labels(self, tickets: Iterable[Ticket]) -> None:
        """Refuse tickets whose label the map does not route.

        Raises:
            InvalidInput: naming the labels to add to the map.
        """
        missing = sorted({t.label for t in tickets} - set(self.labels))
        if missing:
            raise InvalidInput(
                f"the routing map has no entry for label(s) {', '.join(missing)}; "
                "add them under 'labels'"
            )

    def _applies(self, rule: Rule, tokens: str) -> bool:
        if not rule.only_when:
            return True
        return any(
            f" {word} " in tokens
            for name in rule.only_when
            for word in self.words[name]
        )


@dataclass(frozen=True, slots=True)
class TicketResult:
    """What the copilot did first with one ticket, and whether that was right.

    Attributes:
        tools: every tool the first turn called, in order (a search, then a
            drafted ticket: both).
    """

    ticket_id: str
    label: str
    action: str
    routed: bool
    tools: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def drafted_ticket(self) -> bool:
        return TICKET_TOOL in self.tools


@dataclass(frozen=True, slots=True)
class LabelScore:
    """How one label's tickets were routed."""

    label: str
    tickets: int
    routed: int
    drafted: int
    actions: Counter[str]

    @property
    def share(self) -> float:
        return self.routed / self.tickets if self.tickets else 0.0


# -- loading -------------------------------------------------------------------


def load_tickets(path: Path) -> list[Ticket]:
    """Read labelled tickets, one JSON object a line (``id``, ``text``, ``label``).

    Raises:
        InvalidInput: the file is missing or unreadable, or a line is not a
            ticket; the message names the file and the line.
    """
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file of tickets (JSON lines)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read it: {exc}") from exc
    tickets: list[Ticket] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            tickets.append(_ticket(json.loads(line)))
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"{path}, line {number}: {exc}") from None
    if not tickets:
        raise InvalidInput(f"{path}: holds no tickets")
    twice = sorted(i for i, n in Counter(t.id for t in tickets).items() if n > 1)
    if twice:
        raise InvalidInput(f"{path}: ticket ids used more than once: {twice[:5]}")
    return tickets


def _ticket(raw: Any) -> Ticket:
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object with id, text and label")
    values = [raw.get(key) for key in ("id", "text", "label")]
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError("'id', 'text' and 'label' must be non-empty texts")
    ticket_id, text, label = (str(v) for v in values)
    return Ticket(id=ticket_id, text=text, label=label)


def select_tickets(
    tickets: Sequence[Ticket],
    *,
    labels: Sequence[str] | None = None,
    limit: int | None = None,
    seed: int | None = None,
) -> list[Ticket]:
    """The tickets to run: some labels only, and a stratified sample.

    Args:
        tickets: every ticket of the file.
        labels: only these labels; None for all.
        limit: at most this many, spread evenly over the labels (each label
            gives one in turn until the limit or its tickets run out).
        seed: draw each label's tickets at random with this seed rather than
            in file order.

    Raises:
        InvalidInput: a label no ticket has (a typo would run nothing), or a
            limit below 1.
    """
    known = list(dict.fromkeys(t.label for t in tickets))
    missing = sorted(set(labels or []) - set(known))
    if missing:
        raise InvalidInput(
            f"no ticket has label {', '.join(missing)}; known: {', '.join(known)}"
        )
    if limit is not None and limit < 1:
        raise InvalidInput("--limit must be 1 or more")
    wanted = [label for label in known if not labels or label in labels]
    pools = {label: [t for t in tickets if t.label == label] for label in wanted}
    if seed is not None:
        shuffle = random.Random(seed).shuffle
        for label in wanted:
            shuffle(pools[label])
    if limit is None:
        return [t for label in wanted for t in pools[label]]

    chosen: list[Ticket] = []
    depth = 0
    while len(chosen) < limit and any(depth < len(p) for p in pools.values()):
        for label in wanted:
            if depth < len(pools[label]) and len(chosen) < limit:
                chosen.append(pools[label][depth])
        depth += 1
    return chosen


def load_mapping(path: Path) -> RoutingMap:
    """Read the routing map (see ``manifests/routing/README.md``).

    Raises:
        InvalidInput: the file is unreadable, a key is unknown, a rule is
            incomplete or refers to a word list that is not there; the
            message names the file and the label.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path}: cannot read the routing map: {exc}") from exc
    try:
        return _mapping(data)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{path}: {exc}") from None


def _mapping(data: Any) -> RoutingMap:
    if not isinstance(data, dict) or not isinstance(data.get("labels"), dict):
        raise ValueError("expected a mapping with a 'labels' mapping")
    _no_unknown(data, _MAP_KEYS, "top-level")
    words = _words(data.get("words") or {})
    every = tuple(_rule(r, words, "every_label") for r in _list(data, "every_label"))
    labels: dict[str, LabelRoute] = {}
    for label, raw in data["labels"].items():
        if not isinstance(label, str) or not isinstance(raw, dict):
            raise ValueError("each label maps to {asks, why, accept, examples}")
        where = f"label {label!r}"
        _no_unknown(raw, _LABEL_KEYS, where)
        accept = tuple(_rule(r, words, where) for r in _list(raw, "accept"))
        if not accept:
            raise ValueError(f"{where}: 'accept' names no action")
        examples = tuple(str(e) for e in _list(raw, "examples"))
        if not all(_TICKET_ID.match(e) for e in examples):
            raise ValueError(f"{where}: 'examples' holds ticket ids")
        labels[label] = LabelRoute(
            label=label,
            asks=_text(raw, "asks", where),
            why=_text(raw, "why", where),
            accept=accept,
            examples=examples,
        )
    return RoutingMap(labels=labels, every_label=every, words=words)


def _words(raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise ValueError("'words' maps a name to a list of words")
    words: dict[str, tuple[str, ...]] = {}
    for name, items in raw.items():
        if not isinstance(items, list) or not items:
            raise ValueError(f"word list {name!r} must be a non-empty list")
        cleaned = tuple(" ".join(_WORD.findall(str(w).lower())) for w in items)
        if not all(cleaned):
            raise ValueError(f"word list {name!r} holds an empty word")
        words[str(name)] = cleaned
    return words


def _rule(raw: Any, words: dict[str, tuple[str, ...]], where: str) -> Rule:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: each rule is a mapping {{action, why, only_when}}")
    _no_unknown(raw, _RULE_KEYS, f"{where} rule")
    action = raw.get("action")
    if not isinstance(action, str) or not _ACTION_NAME.match(action):
        raise ValueError(f"{where}: 'action' is a tool's name, 'answered' or 'asked'")
    only_when = raw.get("only_when") or []
    names = [only_when] if isinstance(only_when, str) else only_when
    if not isinstance(names, list):
        raise ValueError(f"{where}, {action}: 'only_when' names word lists")
    unknown = sorted(str(n) for n in names if n not in words)
    if unknown:
        raise ValueError(
            f"{where}, {action}: 'only_when' names no word list {', '.join(unknown)}; "
            f"known: {', '.join(sorted(words)) or 'none'}"
        )
    return Rule(
        action=action,
        why=_text(raw, "why", f"{where}, {action}"),
        only_when=tuple(str(n) for n in names),
    )


def _list(raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key) or []
    if not isinstance(value, list):
        raise ValueError(f"'{key}' must be a list")
    return value


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: '{key}' must say it in words")
    return " ".join(value.split())


def _no_unknown(raw: dict[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(str(k) for k in set(raw) - known)
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )


# -- what the copilot did ------------------------------------------------------


def first_action(
    messages: Sequence[BaseMessage], *, replies: Sequence[str] = ()
) -> tuple[str, tuple[str, ...]]:
    """The first action of a conversation's first turn, and every tool it called.

    Args:
        messages: the conversation's messages as the graph saved them.
        replies: what the bot wrote, for a turn that never reached the model.

    Returns:
        The first tool's name, or :data:`ASKED` when the reply asks the
        employee something, or :data:`ANSWERED`; and the tools in call order.
    """
    calls = tool_calls_in(messages, step=1, first_seen={})
    tools = tuple(call.name for call in calls)
    if tools:
        return tools[0], tools
    answers = [m for m in messages if isinstance(m, AIMessage)]
    if answers:
        last = answers[-1]
        if last.response_metadata.get(PENDING_KEY):
            return ASKED, tools  # the offline model's question for a missing detail
        said = last.content if isinstance(last.content, str) else str(last.content)
    else:
        said = "\n".join(replies)
    said = said.replace(OFFLINE_NOTE, "")
    return (ASKED if _QUESTION.search(said) else ANSWERED), tools


def judge(
    mapping: RoutingMap,
    ticket: Ticket,
    action: str,
    tools: Sequence[str] = (),
    *,
    seconds: float = 0.0,
) -> TicketResult:
    """The verdict on one ticket: whether ``action`` is documented for it."""
    routed = action != FAILED and mapping.accepts(ticket, action)
    return TicketResult(
        ticket_id=ticket.id,
        label=ticket.label,
        action=action,
        routed=routed,
        tools=tuple(tools),
        seconds=seconds,
    )


# -- scoring -------------------------------------------------------------------


def score_tickets(
    results: Sequence[TicketResult], order: Sequence[str] = ()
) -> tuple[list[LabelScore], float]:
    """Per-label scores and the overall share of tickets routed as documented.

    Args:
        results: the verdicts.
        order: labels in the order to list them (the map's); others follow
            in order of first appearance.

    The overall share counts tickets, so a big label weighs more than a small
    one; the table shows each, so neither hides the other.
    """
    seen = list(dict.fromkeys(r.label for r in results))
    labels = [label for label in order if label in seen]
    labels += [label for label in seen if label not in labels]
    table = []
    for label in labels:
        mine = [r for r in results if r.label == label]
        table.append(
            LabelScore(
                label=label,
                tickets=len(mine),
                routed=sum(r.routed for r in mine),
                drafted=sum(r.drafted_ticket for r in mine),
                actions=Counter(r.action for r in mine),
            )
        )
    overall = sum(r.routed for r in results) / len(results) if results else 0.0
    return table, overall


def format_table(results: Sequence[TicketResult], order: Sequence[str] = ()) -> str:
    """The table by label: tickets, share routed as documented, share that
    drafted a ticket in the first turn, and the most common first actions."""
    table, overall = score_tickets(results, order)
    width = max([len("overall"), *(len(row.label) for row in table)])
    lines = [
        f"{'label':<{width}}  tickets  routed  ticket drafted  most common first actions"
    ]
    for row in table:
        lines.append(
            f"{row.label:<{width}}  {row.tickets:>7}  {row.share:>6.1%}  "
            f"{row.drafted / row.tickets:>14.0%}  {_top_actions(row)}"
        )
    total = len(results)
    drafted = sum(r.drafted_ticket for r in results)
    lines.append(
        f"{'overall':<{width}}  {total:>7}  {overall:>6.1%}  "
        f"{(drafted / total if total else 0.0):>14.0%}"
    )
    return "\n".join(lines)


def _top_actions(row: LabelScore) -> str:
    return ", ".join(
        f"{DESCRIBED.get(action, action)} {count / row.tickets:.0%}"
        for action, count in row.actions.most_common(_TOP_ACTIONS)
    )


def report_json(
    results: Sequence[TicketResult],
    *,
    order: Sequence[str] = (),
    min_score: float,
    seconds: float,
    model: str,
) -> dict[str, Any]:
    """The same report as data, with every ticket's first action and verdict."""
    table, overall = score_tickets(results, order)
    return {
        "model": model,
        "tickets": len(results),
        "routed": sum(r.routed for r in results),
        "overall": round(overall, 4),
        "min_score": min_score,
        "passed": overall >= min_score,
        "seconds": round(seconds, 1),
        "labels": [
            {
                "label": row.label,
                "tickets": row.tickets,
                "routed": row.routed,
                "share": round(row.share, 4),
                "drafted_ticket": row.drafted,
                "actions": dict(row.actions.most_common()),
            }
            for row in table
        ],
        "results": [
            {
                "id": r.ticket_id,
                "label": r.label,
                "action": r.action,
                "routed": r.routed,
                "tools": list(r.tools),
                "seconds": round(r.seconds, 3),
            }
            for r in results
        ],
    }
