"""The graph state: the conversation's messages and the counters of one turn."""

from __future__ import annotations

from typing import Annotated, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


class AgentState(TypedDict, total=False):
    """What the checkpointer keeps for one conversation thread.

    The requester is deliberately absent: it travels in the run config only,
    so nothing the model writes can change who a tool acts for.

    Attributes:
        messages: the whole conversation, merged by message id.
        steps: model calls made in the current turn; the runner resets it.
        offline: the current turn was answered (at least in part) by the
            offline model; the runner resets it.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    steps: int
    offline: bool
