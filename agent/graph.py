"""The one wiring module: the model node, the tool node, and the routes between.

    START → model ─(tool calls)→ tools → model → … ─(answer)→ END

The tools a turn may use come from the registry for the requester in the run
config, so they are looked up on every step rather than fixed at compile time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.messages.tool import ToolCall
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from pydantic import ValidationError

from agent.citations import snippet
from agent.models import GuardedModel
from agent.offline import OFFLINE_FLAG
from agent.prompts import system_prompt
from agent.state import AgentState
from agent.trimming import repair_tool_pairs, trim_history
from tools.identity import requester_from_config
from tools.registry import ToolRegistry
from tools.settings import Settings

logger = logging.getLogger(__name__)

STEP_LIMIT_REPLY = (
    "I couldn't finish that in the steps I'm allowed. Please rephrase your "
    "request more narrowly, or ask me to get you a person from IT support."
)
STEP_LIMIT_KEY = "helpdesk_step_limit"


def build_graph(
    *,
    model: GuardedModel,
    registry: ToolRegistry,
    settings: Settings,
    checkpointer: BaseCheckpointSaver | None = None,
) -> CompiledStateGraph:
    """Wire and compile the agent graph.

    Args:
        model: the guarded chat model (never raises for model trouble).
        registry: where each step finds the requester's tools.
        settings: the step limit, the history budget and the prompt's names.
        checkpointer: keeps each thread's state between turns.
    """
    prompt = SystemMessage(content=system_prompt(settings))

    async def call_model(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        steps = state.get("steps", 0)
        if steps >= settings.max_steps:
            logger.warning("turn hit the step limit of %d", settings.max_steps)
            return {"messages": [_step_limit_reply(state["messages"])]}

        tools = registry.tools_for(requester_from_config(config))
        history = repair_tool_pairs(state["messages"])
        messages = trim_history([prompt, *history], settings.history_token_budget)
        message = await model.ainvoke(
            messages, tools=tools, config=config, offline=state.get("offline", False)
        )

        offline = state.get("offline", False) or bool(
            message.response_metadata.get(OFFLINE_FLAG)
        )
        return {"messages": [message], "steps": steps + 1, "offline": offline}

    async def call_tools(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        tools = {t.name: t for t in registry.tools_for(requester_from_config(config))}
        last = state["messages"][-1]
        calls = last.tool_calls if isinstance(last, AIMessage) else []
        # One at a time, in order: results stay deterministic and an action
        # never races another for the same requester.
        return {"messages": [await _run_tool(tools, call, config) for call in calls]}

    graph = StateGraph(AgentState)
    graph.add_node("model", call_model)
    graph.add_node("tools", call_tools)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", _route_after_model, ["tools", END])
    graph.add_edge("tools", "model")
    return graph.compile(checkpointer=checkpointer)


def _route_after_model(state: AgentState) -> Literal["tools", "__end__"]:
    last = state["messages"][-1]
    if isinstance(last, AIMessage) and last.tool_calls:
        return "tools"
    return "__end__"


async def _run_tool(
    tools: dict[str, BaseTool], call: ToolCall, config: RunnableConfig
) -> ToolMessage:
    name, call_id = call["name"], call["id"] or ""
    tool = tools.get(name)
    if tool is None:
        names = ", ".join(sorted(tools)) or "none"
        return _tool_error(
            call,
            f"Error: there is no tool named {name!r}. Available tools: {names}. "
            "Use one of them, or answer without a tool.",
        )
    if (tool.metadata or {}).get("side_effects"):
        # TODO(approvals): interrupt() with an approval request for the bot's
        # card, and run the tool only once the requester approves.
        return _tool_error(
            call,
            f"Error: {name} changes something and needs the employee's "
            "approval, which is not available yet. Do not retry; tell the "
            "employee and offer to get a person from IT support.",
        )

    # The model may only fill the tool's declared parameters; anything else
    # (a made-up "requester", say) is dropped before the tool sees it.
    allowed = set(tool.args)
    args = {k: v for k, v in (call.get("args") or {}).items() if k in allowed}
    dropped = sorted(set(call.get("args") or {}) - allowed)
    if dropped:
        logger.warning("tool %s: dropped undeclared arguments %s", name, dropped)

    try:
        result = await tool.ainvoke(
            {"type": "tool_call", "name": name, "args": args, "id": call_id}, config
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return _tool_error(
            call, f"Error: invalid arguments for {name}: {problems}. Fix and retry."
        )
    except Exception:
        logger.exception("tool %s crashed", name)
        return _tool_error(
            call,
            f"Error: {name} failed unexpectedly. Do not retry; tell the employee "
            "it did not work and offer to get a person from IT support.",
        )
    if isinstance(result, ToolMessage):
        return result
    return ToolMessage(content=str(result), tool_call_id=call_id, name=name)


def _tool_error(call: ToolCall, text: str) -> ToolMessage:
    return ToolMessage(
        content=text, tool_call_id=call["id"] or "", name=call["name"], status="error"
    )


def _step_limit_reply(messages: Sequence[BaseMessage]) -> AIMessage:
    found = next(
        (
            m
            for m in reversed(messages)
            if isinstance(m, ToolMessage) and m.status != "error"
        ),
        None,
    )
    text = STEP_LIMIT_REPLY
    if found is not None and isinstance(found.content, str) and found.content:
        text = (
            "I couldn't finish that in the steps I'm allowed. Here is what I "
            f"found so far:\n\n{snippet(found.content, 600)}\n\nPlease rephrase "
            "your request, or ask me to get you a person from IT support."
        )
    return AIMessage(content=text, response_metadata={STEP_LIMIT_KEY: True})
