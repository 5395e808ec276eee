"""Trimming keeps the turn's own question, shortened when it alone is too large."""

from __future__ import annotations

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.utils import count_tokens_approximately

from agent.trimming import MIN_QUESTION_TOKENS, trim_history

BUDGET = 6000
SYSTEM = SystemMessage("You are the IT help desk. " * 40)


def _question(size: int) -> HumanMessage:
    opening = "How do I connect to the VPN? It fails with this log:\n"
    closing = "\nERROR 809: the network connection was closed."
    filler = "vpn client: handshake timeout, retrying\n"
    middle = filler * ((size - len(opening) - len(closing)) // len(filler) + 1)
    return HumanMessage(
        opening + middle[: size - len(opening) - len(closing)] + closing
    )


def _step(call_id: str, result_words: int = 600) -> list[BaseMessage]:
    return [
        AIMessage(
            content="",
            tool_calls=[{"name": "search_knowledge", "args": {}, "id": call_id}],
        ),
        ToolMessage(
            content="passage " * result_words,
            tool_call_id=call_id,
            name="search_knowledge",
        ),
    ]


def _humans(messages: list[BaseMessage]) -> list[HumanMessage]:
    return [m for m in messages if isinstance(m, HumanMessage)]


def _check_shortened(kept: HumanMessage, original: HumanMessage) -> None:
    text, whole = kept.text, original.text
    assert len(text) < len(whole)
    assert text.startswith("How do I connect to the VPN?")
    assert text.endswith("ERROR 809: the network connection was closed.")
    assert "characters left out to fit the model's budget" in text


def test_a_large_question_survives_the_first_tool_step() -> None:
    for size in (20_000, 30_000):
        question = _question(size)
        messages = [SYSTEM, HumanMessage("hi"), AIMessage("Hello!"), question]
        messages += _step("c1")

        trimmed = trim_history(messages, BUDGET)

        [kept] = _humans(trimmed)
        _check_shortened(kept, question)
        assert trimmed[-2:] == messages[-2:]  # the tool step is whole
        assert count_tokens_approximately(trimmed) <= BUDGET


def test_a_question_that_fits_beside_the_step_is_kept_whole() -> None:
    question = _question(8_000)
    messages = [SYSTEM, question, *_step("c1")]

    trimmed = trim_history(messages, BUDGET)

    assert trimmed == messages


def test_a_question_alone_over_the_budget_is_shortened_to_fit() -> None:
    question = _question(30_000)

    trimmed = trim_history([SYSTEM, question], BUDGET)

    [kept] = _humans(trimmed)
    _check_shortened(kept, question)
    assert count_tokens_approximately(trimmed) <= BUDGET
    assert kept.id == question.id


def test_the_question_keeps_half_the_room_when_the_turn_took_many_steps() -> None:
    question = _question(30_000)
    messages = [SYSTEM, question]
    for n in range(6):
        messages += _step(f"c{n}", result_words=900)

    trimmed = trim_history(messages, BUDGET)

    [kept] = _humans(trimmed)
    room = BUDGET - count_tokens_approximately([SYSTEM, *messages[-2:]])
    assert count_tokens_approximately([kept]) >= room // 2 - 10
    assert trimmed[1] is kept
    assert trimmed[-2:] == messages[-2:]
    assert count_tokens_approximately(trimmed) <= BUDGET


def test_the_question_survives_even_a_step_larger_than_the_budget() -> None:
    question = _question(30_000)
    messages = [SYSTEM, question, *_step("c1", result_words=20_000)]

    trimmed = trim_history(messages, BUDGET)

    [kept] = _humans(trimmed)
    assert count_tokens_approximately([kept]) <= MIN_QUESTION_TOKENS
    assert kept.text.startswith("How do I connect to the VPN?")
    assert trimmed[-2:] == messages[-2:]


def test_earlier_turns_make_room_for_the_question() -> None:
    earlier: list[BaseMessage] = []
    for n in range(5):
        earlier += [HumanMessage(f"old question {n} " * 200), AIMessage("old answer")]
    question = _question(20_000)

    trimmed = trim_history([SYSTEM, *earlier, question, *_step("c1")], BUDGET)

    assert _humans(trimmed)[-1].text.startswith("How do I connect to the VPN?")
    assert isinstance(trimmed[1], HumanMessage)
    assert count_tokens_approximately(trimmed) <= BUDGET
