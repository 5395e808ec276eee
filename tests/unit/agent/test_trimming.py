"""History trimming and tool-call repair."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.utils import count_tokens_approximately

from agent.trimming import (
    CANCELLED_RESULT,
    cancelled_results,
    repair_tool_pairs,
    trim_history,
)


def _call(call_id: str, *names: str) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[
            {"name": n, "args": {}, "id": f"{call_id}-{i}"} for i, n in enumerate(names)
        ],
    )


def _result(call_id: str, text: str = "ok") -> ToolMessage:
    return ToolMessage(content=text, tool_call_id=call_id, name="t")


def _conversation(turns: int) -> list:
    messages = [SystemMessage("system prompt")]
    for n in range(turns):
        messages += [
            HumanMessage(f"question {n} " + "word " * 40),
            _call(f"c{n}", "search", "lookup"),
            _result(f"c{n}-0", "passage " * 60),
            _result(f"c{n}-1", "detail " * 60),
            AIMessage(f"answer {n} " + "word " * 40),
        ]
    return messages


def _assert_pairs_whole(messages: list) -> None:
    open_calls: set[str] = set()
    for message in messages:
        if isinstance(message, ToolMessage):
            assert message.tool_call_id in open_calls, "orphan tool result"
            open_calls.discard(message.tool_call_id)
            continue
        assert not open_calls, "tool call without its result"
        if isinstance(message, AIMessage):
            open_calls = {c["id"] for c in message.tool_calls}
    assert not open_calls


def test_trim_fits_the_budget_and_keeps_system_and_newest():
    messages = _conversation(10)

    trimmed = trim_history(messages, 800)

    assert count_tokens_approximately(trimmed) <= 800
    assert trimmed[0] == messages[0]
    assert trimmed[-1] == messages[-1]
    assert len(trimmed) < len(messages)


def test_trim_never_separates_tool_calls_from_results():
    messages = _conversation(10)

    for budget in range(100, 3000, 37):
        trimmed = trim_history(messages, budget)
        _assert_pairs_whole(trimmed[1:])
        assert not isinstance(trimmed[1], ToolMessage)
        if any(isinstance(m, HumanMessage) for m in trimmed):
            assert isinstance(trimmed[1], HumanMessage)


def test_trim_keeps_everything_under_budget():
    messages = _conversation(2)

    assert trim_history(messages, 100_000) == messages


def test_newest_group_kept_even_when_alone_over_budget():
    messages = [
        SystemMessage("s"),
        HumanMessage("look it up"),
        _call("a", "search"),
        _result("a-0", "x " * 5000),
    ]

    assert trim_history(messages, 500) == messages


def test_repair_answers_dangling_calls_and_drops_orphans():
    messages = [
        HumanMessage("reset my password"),
        _call("a", "reset_password", "notify"),
        _result("a-0"),
        ToolMessage(content="stray", tool_call_id="nobody", name="t"),
        HumanMessage("never mind"),
    ]

    repaired = repair_tool_pairs(messages)

    _assert_pairs_whole(repaired)
    assert [type(m).__name__ for m in repaired] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "ToolMessage",
        "HumanMessage",
    ]
    assert repaired[3].tool_call_id == "a-1"
    assert repaired[3].content == CANCELLED_RESULT


def test_cancelled_results_for_a_turn_that_stopped_mid_call():
    messages = [HumanMessage("install visio"), _call("v", "request_software")]

    cancelled = cancelled_results(messages)

    assert [m.tool_call_id for m in cancelled] == ["v-0"]
    assert cancelled_results([*messages, *cancelled]) == []
    assert cancelled_results([HumanMessage("hi"), AIMessage("hello")]) == []
