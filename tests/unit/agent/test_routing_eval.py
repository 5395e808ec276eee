"""The routing map, first actions and scores of ``helpdesk eval-tickets``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agent.offline import OFFLINE_NOTE, PENDING_KEY
from agent.routing_eval import (
    ANSWERED,
    ASKED,
    FAILED,
    RoutingMap,
    Ticket,
    TicketResult,
    first_action,
    format_table,
    judge,
    load_mapping,
    load_tickets,
    report_json,
    score_tickets,
    select_tickets,
)
from tools.errors import InvalidInput
from tools.settings import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "manifests" / "routing" / "ticket-labels.yaml"
TOOLS = {p.stem for p in (PROJECT_ROOT / "manifests" / "tools").glob("*.yaml")}
LABELS = {
    "Hardware",
    "HR Support",
    "Access",
    "Miscellaneous",
    "Storage",
    "Purchase",
    "Internal Project",
    "Administrative rights",
}
"""The labels of the employee tickets in ../shared/data/tickets."""
SMALL_MAP = """
words:
  faults: [error, broken, sign in]
  secrets: [password, locked]
every_label:
  - {action: self_service_reset, only_when: secrets, why: passwords anywhere}
labels:
  Purchase:
    asks: bought items to allocate
    why: a person allocates them
    accept:
      - {action: create_ticket, why: allocation is work}
  Hardware:
    asks: devices and faults
    why: both
    accept:
      - {action: request_item, why: a device}
      - {action: search_knowledge, only_when: faults, why: a fault}
    examples: [t-1]
"""


def _small_map(tmp_path: Path, text: str = SMALL_MAP) -> RoutingMap:
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    return load_mapping(path)


def _call(name: str, call_id: str) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": {}, "id": call_id}])


def _result(
    label: str, action: str, routed: bool, tools: tuple[str, ...] | None = None
) -> TicketResult:
    return TicketResult(
        "t", label, action, routed, (action,) if tools is None else tools
    )


# -- the shipped map -----------------------------------------------------------


def test_the_shipped_map_routes_every_label_and_names_only_real_tools() -> None:
    mapping = load_mapping(SHIPPED)

    assert set(mapping.labels) == LABELS
    mapping.check_actions(TOOLS)
    for route in mapping.labels.values():
        assert route.examples, f"{route.label} shows no example ticket"
        assert any(not r.only_when for r in route.accept), route.label


def test_the_shipped_examples_are_real_tickets_of_their_label(
    shared_dir: Path,
) -> None:
    tickets = {
        t.id: t
        for t in load_tickets(
            shared_dir / "data" / "tickets" / "it-service-tickets.jsonl"
        )
    }
    mapping = load_mapping(SHIPPED)

    for route in mapping.labels.values():
        for ticket_id in route.examples:
            assert ticket_id in tickets, ticket_id
            assert tickets[ticket_id].label == route.label, ticket_id


@pytest.mark.parametrize(
    ("label", "text", "action", "routed"),
    [
        pytest.param(
            "Purchase",
            "new purchase po dear purchased monitor please log installation",
            "create_ticket",
            True,
            id="purchase-ticket",
        ),
        pytest.param(
            "Purchase",
            "new purchase po dear purchased monitor please log installation",
            "search_knowledge",
            False,
            id="purchase-search-is-no-route",
        ),
        pytest.param(
            "Purchase",
            "new purchase po dear purchased monitor please log allocation",
            "request_item",
            False,
            id="purchase-would-order-it-twice",
        ),
        pytest.param(
            "Hardware",
            "laptop screen flickers error when docked",
            "search_knowledge",
            True,
            id="hardware-fault-searched",
        ),
        pytest.param(
            "Hardware",
            "request for a combo keyboard and mouse",
            "search_knowledge",
            False,
            id="hardware-device-ask-searched",
        ),
        pytest.param(
            "Hardware",
            "request for a combo keyboard and mouse",
            "request_item",
            True,
            id="hardware-device-requested",
        ),
        pytest.param(
            "Access",
            "your password expire today",
            "self_service_reset",
            True,
            id="access-password-reset",
        ),
        pytest.param(
            "HR Support",
            "new starter please create her credentials per attached form",
            "create_ticket",
            True,
            id="hr-joiner-ticket",
        ),
        pytest.param(
            "HR Support",
            "new starter please create her credentials per attached form",
            "request_item",
            False,
            id="hr-joiner-not-a-catalogue-request",
        ),
        pytest.param(
            "Miscellaneous",
            "approver change please",
            ANSWERED,
            False,
            id="answered-is-never-a-route",
        ),
        pytest.param(
            "Access",
            "access to confluence",
            ASKED,
            False,
            id="asked-is-never-a-route",
        ),
        pytest.param(
            "Hardware",
            "my laptop was stolen from the car",
            "revoke_sessions",
            True,
            id="stolen-device-anywhere",
        ),
        pytest.param(
            "Hardware",
            "new monitor please help monitor",
            "handoff_to_person",
            False,
            id="handoff-needs-a-security-word",
        ),
    ],
)
def test_the_shipped_map_judges_first_actions(
    label: str, text: str, action: str, routed: bool
) -> None:
    mapping = load_mapping(SHIPPED)

    result = judge(mapping, Ticket("t-1", text, label), action)

    assert result.routed is routed


# -- rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "text", "action", "routed"),
    [
        pytest.param("Purchase", "bought a laptop", "create_ticket", True, id="plain"),
        pytest.param("Purchase", "bought a laptop", "request_item", False, id="other"),
        pytest.param("Hardware", "dock error again", "search_knowledge", True, id="if"),
        pytest.param("Hardware", "need a dock", "search_knowledge", False, id="not"),
        pytest.param("Hardware", "errors", "search_knowledge", False, id="whole-word"),
        pytest.param("Hardware", "cannot sign in", "search_knowledge", True, id="phr"),
        pytest.param(
            "Hardware", "sign form in", "search_knowledge", False, id="phrase-order"
        ),
        pytest.param(
            "Purchase", "account locked", "self_service_reset", True, id="every"
        ),
        pytest.param(
            "Purchase", "account ok", "self_service_reset", False, id="every-if"
        ),
    ],
)
def test_a_rule_holds_for_its_label_and_words_only(
    tmp_path: Path, label: str, text: str, action: str, routed: bool
) -> None:
    mapping = _small_map(tmp_path)

    assert judge(mapping, Ticket("t-1", text, label), action).routed is routed


def test_a_failed_turn_is_never_routed(tmp_path: Path) -> None:
    mapping = _small_map(tmp_path)

    result = judge(mapping, Ticket("t-1", "bought", "Purchase"), FAILED)

    assert result.routed is False


def test_a_map_naming_a_tool_the_copilot_lacks_is_refused(tmp_path: Path) -> None:
    mapping = _small_map(tmp_path, SMALL_MAP.replace("request_item", "request_itme"))

    with pytest.raises(InvalidInput, match="request_itme"):
        mapping.check_actions(TOOLS)


def test_a_label_the_map_does_not_route_is_refused_before_running(
    tmp_path: Path,
) -> None:
    mapping = _small_map(tmp_path)

    with pytest.raises(InvalidInput, match=r"no entry for label.*Storage"):
        mapping.check_labels([Ticket("t-1", "share", "Storage")])


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        pytest.param(
            SMALL_MAP.replace("only_when: faults", "only_when: fautls"),
            "no word list fautls",
            id="word-list-typo",
        ),
        pytest.param(
            SMALL_MAP.replace("    examples: [t-1]", "    exmaples: [t-1]"),
            "unknown key.*exmaples",
            id="key-typo",
        ),
        pytest.param(
            SMALL_MAP.replace("why: a person allocates them", "why: ''"),
            "'why' must say it",
            id="no-why",
        ),
        pytest.param(
            SMALL_MAP.replace(
                "      - {action: create_ticket, why: allocation is work}\n", ""
            ).replace("    accept:\n  Hardware", "    accept: []\n  Hardware"),
            "names no action",
            id="no-action",
        ),
    ],
)
def test_a_broken_map_is_refused_with_the_reason(
    tmp_path: Path, broken: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        _small_map(tmp_path, broken)


# -- tickets -------------------------------------------------------------------


def _write_tickets(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    path = tmp_path / "tickets.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_bad_ticket_line_is_named(tmp_path: Path) -> None:
    path = _write_tickets(tmp_path, [{"id": "a", "text": "x", "label": "L"}])
    path.write_text(path.read_text() + '{"id": "b", "text": ""}\n')

    with pytest.raises(InvalidInput, match="line 2"):
        load_tickets(path)


def test_a_missing_ticket_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        load_tickets(tmp_path / "absent.jsonl")


def _pool() -> list[Ticket]:
    return [
        Ticket(f"{label}-{n}", "text", label)
        for label, count in (("A", 6), ("B", 3), ("C", 1))
        for n in range(count)
    ]


def test_a_limit_spreads_evenly_over_the_labels() -> None:
    chosen = select_tickets(_pool(), limit=6)

    assert [t.id for t in chosen] == ["A-0", "B-0", "C-0", "A-1", "B-1", "A-2"]


def test_a_seed_draws_the_same_random_sample_every_time() -> None:
    first = select_tickets(_pool(), limit=4, seed=3)
    again = select_tickets(_pool(), limit=4, seed=3)
    others = [select_tickets(_pool(), limit=4, seed=s) for s in range(10)]

    assert first == again
    assert [t.label for t in first] == ["A", "B", "C", "A"]
    assert any(o != first for o in others), "the seed changes the draw"


def test_labels_filter_and_an_unknown_label_is_refused() -> None:
    chosen = select_tickets(_pool(), labels=["B"])

    assert {t.label for t in chosen} == {"B"} and len(chosen) == 3
    with pytest.raises(InvalidInput, match="no ticket has label Z"):
        select_tickets(_pool(), labels=["Z"])
    with pytest.raises(InvalidInput, match="--limit"):
        select_tickets(_pool(), limit=0)


# -- first actions -------------------------------------------------------------


def test_the_first_tool_is_the_action_and_every_tool_is_kept() -> None:
    messages = [
        HumanMessage("printer jams"),
        _call("search_knowledge", "c1"),
        ToolMessage("nothing", tool_call_id="c1", name="search_knowledge"),
        _call("create_ticket", "c2"),
    ]

    action, tools = first_action(messages)

    assert action == "search_knowledge"
    assert tools == ("search_knowledge", "create_ticket")


@pytest.mark.parametrize(
    ("reply", "metadata", "action"),
    [
        pytest.param("Which site do you mean?", {}, ASKED, id="question"),
        pytest.param(
            "To do that I need one more detail: the item.",
            {PENDING_KEY: {"tool": "request_item"}},
            ASKED,
            id="offline-asks-a-detail",
        ),
        pytest.param(
            "I can't look that up right now. Please contact the IT help desk.",
            {},
            ANSWERED,
            id="answer",
        ),
        pytest.param(
            f"Here is what I can do.\n\n{OFFLINE_NOTE}", {}, ANSWERED, id="note"
        ),
    ],
)
def test_a_reply_without_a_tool_is_an_answer_or_a_question(
    reply: str, metadata: dict[str, object], action: str
) -> None:
    messages = [HumanMessage("x"), AIMessage(reply, response_metadata=metadata)]

    assert first_action(messages) == (action, ())


def test_a_turn_that_never_reached_the_model_is_judged_by_its_reply() -> None:
    assert first_action([], replies=["Which one?"]) == (ASKED, ())
    assert first_action([], replies=["Done."]) == (ANSWERED, ())


# -- scores --------------------------------------------------------------------


def test_the_table_counts_by_label_in_the_map_order() -> None:
    results = [
        _result("B", "create_ticket", True),
        _result("A", "search_knowledge", False, ("search_knowledge", "create_ticket")),
        _result("A", "search_knowledge", False),
        _result("A", "create_ticket", True),
        _result("A", ANSWERED, False, ()),
    ]

    table, overall = score_tickets(results, order=["A", "B"])
    text = format_table(results, order=["A", "B"])

    assert [(r.label, r.tickets, r.routed, r.drafted) for r in table] == [
        ("A", 4, 1, 2),
        ("B", 1, 1, 1),
    ]
    assert overall == pytest.approx(2 / 5)
    lines = text.splitlines()
    assert lines[1].split()[:4] == ["A", "4", "25.0%", "50%"]
    assert (
        "search_knowledge 50%, create_ticket 25%, answered without a tool 25%"
        in (lines[1])
    )
    assert lines[2].split()[:4] == ["B", "1", "100.0%", "100%"]
    assert lines[3].split()[:3] == ["overall", "5", "40.0%"]


def test_the_json_report_matches_the_table() -> None:
    results = [
        _result("A", "create_ticket", True),
        _result("A", "search_knowledge", False),
        _result("B", FAILED, False, ()),
    ]

    report = report_json(results, min_score=0.5, seconds=1.25, model="offline")

    assert report["tickets"] == 3 and report["routed"] == 1
    assert report["overall"] == pytest.approx(0.3333)
    assert report["passed"] is False
    assert report["labels"][0] == {
        "label": "A",
        "tickets": 2,
        "routed": 1,
        "share": 0.5,
        "drafted_ticket": 1,
        "actions": {"create_ticket": 1, "search_knowledge": 1},
    }
    assert [r["action"] for r in report["results"]] == [
        "create_ticket",
        "search_knowledge",
        FAILED,
    ]
