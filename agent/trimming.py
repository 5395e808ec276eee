"""Fit the history into the model's budget, and keep tool calls paired with results.

Chat APIs reject a history in which an assistant tool call has no result, or a
tool result has no call. Two things produce such histories: trimming that cuts
between a call and its results, and a turn that stopped half-way (a crash, or
an employee who never answered an approval). Both are handled here.

Trimming never drops the latest human message: without it the model no longer
knows what it was asked (the offline model would greet instead of answering).
A message too large for the budget is shortened in its middle instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.utils import count_tokens_approximately

TokenCounter = Callable[[Sequence[BaseMessage]], int]

SHORTENED = "\n[… {count} characters left out to fit the model's budget …]\n"
"""Put where the middle of a message too large for the budget was cut."""
MIN_QUESTION_TOKENS = 256
"""What the latest human message keeps at the least, whatever else is kept."""

CANCELLED_RESULT = (
    "Cancelled: this action was not run (the conversation moved on before it "
    "finished or was approved). Do not assume it happened."
)


def cancelled_results(messages: Sequence[BaseMessage]) -> list[ToolMessage]:
    """Results to append for tool calls of the last AI message that never ran.

    The runner appends these before a new human message, so a thread that
    stopped mid-turn continues with a valid history.

    Args:
        messages: the thread's messages, oldest first.

    Returns:
        One cancelled ToolMessage per unanswered call of the last AIMessage
        with tool calls, when nothing but its own results follows it; else [].
    """
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, ToolMessage):
            continue
        if isinstance(message, AIMessage) and message.tool_calls:
            answered = {
                m.tool_call_id
                for m in messages[index + 1 :]
                if isinstance(m, ToolMessage)
            }
            return [
                _cancelled(call["id"] or "", call["name"])
                for call in message.tool_calls
                if call["id"] not in answered
            ]
        return []
    return []


def repair_tool_pairs(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """Return the history with every tool call answered and no orphan results.

    An unanswered call gets a "cancelled" ToolMessage right after its group;
    a ToolMessage whose call is not in the AIMessage just before it is dropped.

    Args:
        messages: the history, oldest first.
    """
    repaired: list[BaseMessage] = []
    pending: dict[str, str] = {}

    def close_group() -> None:
        repaired.extend(_cancelled(call_id, name) for call_id, name in pending.items())
        pending.clear()

    for message in messages:
        if isinstance(message, ToolMessage):
            if message.tool_call_id in pending:
                pending.pop(message.tool_call_id)
                repaired.append(message)
            continue
        close_group()
        repaired.append(message)
        if isinstance(message, AIMessage):
            pending.update({c["id"]: c["name"] for c in message.tool_calls if c["id"]})
    close_group()
    return repaired


def trim_history(
    messages: Sequence[BaseMessage],
    max_tokens: int,
    *,
    token_counter: TokenCounter = count_tokens_approximately,
) -> list[BaseMessage]:
    """Keep the system prompt and the newest messages that fit in ``max_tokens``.

    Messages are kept in whole groups: a human message, a plain AI message, or
    an AI message with tool calls together with all its results. What is
    always kept, in this order of claim on the budget:

    1. the newest group, even if it alone is over the budget (the results
       the model must answer from);
    2. the latest human message (the question of this turn), shortened in
       its middle when it does not fit beside the newest group; it keeps at
       least :data:`MIN_QUESTION_TOKENS`, and at least half the room left
       when this turn has taken several steps;
    3. this turn's other steps, newest first, as they fit;
    4. earlier turns, newest first, as they fit, starting on a human message.

    Args:
        messages: the history, oldest first, optionally led by a SystemMessage;
            tool pairs must already be whole (see :func:`repair_tool_pairs`).
        max_tokens: the budget, system prompt included.
        token_counter: counts the tokens of a list of messages.
    """
    head: list[BaseMessage] = []
    body = list(messages)
    if body and isinstance(body[0], SystemMessage):
        head, body = body[:1], body[1:]
    budget = max_tokens - (token_counter(head) if head else 0)
    groups = _groups(body)
    asked = next(
        (
            i
            for i in range(len(groups) - 1, -1, -1)
            if isinstance(groups[i][0], HumanMessage)
        ),
        None,
    )
    if asked is None:
        return head + _flat(_fitting(groups, budget, token_counter, keep_newest=True))

    question = groups[asked][0]
    steps = groups[asked + 1 :]  # this turn's model and tool steps
    newest = steps[-1:]
    room = budget - (token_counter(newest[0]) if newest else 0)
    share = room // 2 if len(steps) > 1 else room
    reserved = min(token_counter([question]), max(share, MIN_QUESTION_TOKENS))
    kept_steps = _flat(_fitting(steps[:-1], room - reserved, token_counter))
    room -= token_counter(kept_steps) if kept_steps else 0
    question = _shortened(question, max(room, MIN_QUESTION_TOKENS), token_counter)
    room -= token_counter([question])

    earlier = _fitting(groups[:asked], room, token_counter)
    first_human = next(
        (i for i, g in enumerate(earlier) if isinstance(g[0], HumanMessage)),
        len(earlier),
    )
    return [
        *head,
        *_flat(earlier[first_human:]),
        question,
        *kept_steps,
        *_flat(newest),
    ]


def _fitting(
    groups: Sequence[list[BaseMessage]],
    budget: int,
    token_counter: TokenCounter,
    *,
    keep_newest: bool = False,
) -> list[list[BaseMessage]]:
    """The newest whole groups within ``budget``, oldest first; with
    ``keep_newest`` the newest one even when it alone is over the budget."""
    kept: list[list[BaseMessage]] = []
    used = 0
    for group in reversed(groups):
        cost = token_counter(group)
        if (kept or not keep_newest) and used + cost > budget:
            break
        kept.append(group)
        used += cost
    kept.reverse()
    return kept


def _flat(groups: Sequence[list[BaseMessage]]) -> list[BaseMessage]:
    return [message for group in groups for message in group]


def _shortened(
    message: BaseMessage, max_tokens: int, token_counter: TokenCounter
) -> BaseMessage:
    """``message`` cut in its middle to fit ``max_tokens``, or as it is.

    The start (usually the question) and the end (often the error that
    matters, at the bottom of a pasted log) are both kept.
    """
    if token_counter([message]) <= max_tokens:
        return message
    text = message.text
    low, high = 0, len(text)
    best = _cut_middle(text, 0)
    while low <= high:  # the longest kept length that fits
        middle = (low + high) // 2
        candidate = _cut_middle(text, middle)
        if token_counter([message.model_copy(update={"content": candidate})]) <= (
            max_tokens
        ):
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return message.model_copy(update={"content": best})


def _cut_middle(text: str, keep: int) -> str:
    """``text`` with only ``keep`` characters kept: two thirds from the start,
    one third from the end, and a note of what was left out between them."""
    if keep >= len(text):
        return text
    start = text[: keep * 2 // 3]
    end = text[len(text) - (keep - len(start)) :] if keep > len(start) else ""
    return start + SHORTENED.format(count=len(text) - keep) + end


def _groups(messages: Sequence[BaseMessage]) -> list[list[BaseMessage]]:
    groups: list[list[BaseMessage]] = []
    for message in messages:
        if isinstance(message, ToolMessage) and groups:
            groups[-1].append(message)
        else:
            groups.append([message])
    return groups


def _cancelled(call_id: str, name: str) -> ToolMessage:
    return ToolMessage(
        content=CANCELLED_RESULT, tool_call_id=call_id, name=name, status="error"
    )
