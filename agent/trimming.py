"""Fit the history into the model's budget, and keep tool calls paired with results.

Chat APIs reject a history in which an assistant tool call has no result, or a
tool result has no call. Two things produce such histories: trimming that cuts
between a call and its results, and a turn that stopped half-way (a crash, or
an employee who never answered an approval). Both are handled here.
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
    an AI message with tool calls together with all its results. The kept
    window starts on a human message when it holds one. The newest group is
    always kept, even if it alone is over the budget.

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

    kept: list[list[BaseMessage]] = []
    used = 0
    for group in reversed(_groups(body)):
        cost = token_counter(group)
        if kept and used + cost > budget:
            break
        kept.append(group)
        used += cost
    kept.reverse()

    first_human = next(
        (i for i, g in enumerate(kept) if isinstance(g[0], HumanMessage)), 0
    )
    return head + [m for group in kept[first_human:] for m in group]


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
