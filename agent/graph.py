"""The one wiring module: the model node, the tool node, and the routes between.

    START → model ─(one Send per tool call)→ tool ×n → model → … ─(answer)→ END

The tools a turn may use come from the registry for the requester in the run
config, so they are looked up on every step rather than fixed at compile time.
Each tool call runs as its own task, so a tool that asks for approval pauses
only itself: several approvals in one turn are separate interrupts, each
resumed by its own card.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal, TypedDict

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.messages.tool import ToolCall
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.approvals import APPROVAL_KEY, make_approver
from agent.citations import snippet
from agent.models import GuardedModel
from agent.offline import OFFLINE_FLAG
from agent.prompts import system_prompt
from agent.state import AgentState
from agent.transcript import digest
from agent.trimming import repair_tool_pairs, trim_history
from tools.approvals import finish
from tools.conversation import CONVERSATION_KEY
from tools.identity import requester_from_config
from tools.registry import APPROVE_KEY, NOTHING_DONE_KEY, ToolRegistry, conversation_of
from tools.settings import Settings

logger = logging.getLogger(__name__)

STEP_LIMIT_REPLY = (
    "I couldn't finish that in the steps I'm allowed. Please rephrase your "
    "request more narrowly, or contact the IT help desk."
)
STEP_LIMIT_KEY = "helpdesk_step_limit"
DECLINED_REPLY = (
    "OK, I won't go ahead with that; nothing was changed. Is there anything "
    "else I can help with?"
)


class ToolTask(TypedDict, total=False):
    """What one ``Send`` to the tool node carries: a call and where it came from,
    and for tools that take it, the conversation digest (see :mod:`agent.transcript`)."""

    call: ToolCall
    message_id: str
    conversation: dict[str, Any] | None


def build_graph(
    *,
    model: GuardedModel,
    registry: ToolRegistry,
    settings: Settings,
    checkpointer: BaseCheckpointSaver | None = None,
    approvals_db: AsyncEngine | None = None,
) -> CompiledStateGraph:
    """Wire and compile the agent graph.

    Args:
        model: the guarded chat model (never raises for model trouble).
        registry: where each step finds the requester's tools.
        settings: the step limit, the history budget, the approval lifetime and
            the prompt's names.
        checkpointer: keeps each thread's state between turns.
        approvals_db: the app database that records approvals. Without it a
            tool that asks for approval is told that none can be asked.
    """
    prompt = SystemMessage(content=system_prompt(settings))
    ttl = timedelta(minutes=settings.approval_ttl_minutes)

    async def call_model(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        steps = state.get("steps", 0)
        if steps >= settings.max_steps:
            logger.warning("turn hit the step limit of %d", settings.max_steps)
            return {"messages": [_step_limit_reply(state["messages"])]}
        if _all_declined(state["messages"]):
            # The employee said no to every action of the last step: end with a
            # plain acknowledgement, giving the model no chance to try another way.
            return {"messages": [AIMessage(content=DECLINED_REPLY)], "steps": steps}

        await registry.refresh()  # tools an admin changed since the last call
        tools = registry.tools_for(requester_from_config(config))
        history = repair_tool_pairs(state["messages"])
        messages = trim_history([prompt, *history], settings.history_token_budget)
        message = await model.ainvoke(
            messages, tools=tools, config=config, offline=state.get("offline", False)
        )

        if not message.id:
            # Approval ids derive from it, so it must be fixed before any Send.
            message.id = str(uuid.uuid4())
        offline = state.get("offline", False) or bool(
            message.response_metadata.get(OFFLINE_FLAG)
        )
        return {"messages": [message], "steps": steps + 1, "offline": offline}

    async def call_tool(state: ToolTask, config: RunnableConfig) -> dict[str, Any]:
        # Runs again from the top when its approval is resumed: nothing here
        # may act before the tool's own ctx.approve.
        tools = {t.name: t for t in registry.tools_for(requester_from_config(config))}
        call = state["call"]
        configurable = dict(config.get("configurable") or {})
        asked: list[str] = []
        if approvals_db is not None:
            configurable[APPROVE_KEY] = make_approver(
                approvals_db,
                thread_id=str(configurable.get("thread_id") or ""),
                message_id=state["message_id"],
                call_id=call["id"] or "",
                ttl=ttl,
                asked=asked,
            )
        else:
            configurable.pop(APPROVE_KEY, None)
        configurable[CONVERSATION_KEY] = state.get("conversation")

        message = await _run_tool(tools, call, {**config, "configurable": configurable})

        if asked and approvals_db is not None:
            message.response_metadata[APPROVAL_KEY] = asked[0]
            await finish(approvals_db, asked[0], succeeded=not _failed(message))
        elif (
            _has_side_effects(tools.get(call["name"]))
            and not _failed(message)
            and not _nothing_done(message)
        ):
            # Refusing before asking is fine; acting without asking is not.
            logger.error("tool %s acted without asking for approval", call["name"])
        return {"messages": [message]}

    def route_after_model(
        state: AgentState, config: RunnableConfig
    ) -> list[Send] | Literal["__end__"]:
        last = state["messages"][-1]
        if not (isinstance(last, AIMessage) and last.tool_calls):
            return "__end__"
        sends = []
        for call in last.tool_calls:
            task = ToolTask(call=call, message_id=last.id or "")
            manifest = registry.manifests.get(call["name"])
            if manifest is not None and manifest.conversation:
                task["conversation"] = _conversation(state, config)
            sends.append(Send("tool", task))
        return sends

    graph = StateGraph(AgentState)
    graph.add_node("model", call_model)
    graph.add_node("tool", call_tool)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", route_after_model, ["tool", END])
    graph.add_edge("tool", "model")
    return graph.compile(checkpointer=checkpointer)


def _conversation(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """The redacted digest of the thread for a tool that takes it."""
    requester = requester_from_config(config)
    thread_id = str((config.get("configurable") or {}).get("thread_id") or "")
    return digest(
        state["messages"],
        employee=requester.name or "Employee",
        conversation_id=conversation_of(thread_id),
    ).to_payload()


def _all_declined(messages: Sequence[BaseMessage]) -> bool:
    results = []
    for message in reversed(messages):
        if not isinstance(message, ToolMessage):
            break
        results.append(message)
    return bool(results) and all(_declined(m) for m in results)


def _declined(message: ToolMessage) -> bool:
    return isinstance(message.artifact, dict) and bool(message.artifact.get("declined"))


def _failed(message: ToolMessage) -> bool:
    if message.status == "error":
        return True
    artifact = message.artifact
    if isinstance(artifact, dict) and artifact.get("error"):
        return True
    content = message.content
    return isinstance(content, str) and content.startswith("Error:")


def _nothing_done(message: ToolMessage) -> bool:
    artifact = message.artifact
    return isinstance(artifact, dict) and bool(artifact.get(NOTHING_DONE_KEY))


def _has_side_effects(tool: BaseTool | None) -> bool:
    return tool is not None and bool((tool.metadata or {}).get("side_effects"))


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
    except GraphBubbleUp:
        # An approval pause (GraphInterrupt) is not a crash: let it reach the
        # graph, which checkpoints the task and waits for the decision.
        raise
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
            "it did not work and suggest contacting the IT help desk.",
        )
    if isinstance(result, ToolMessage):
        return result
    return ToolMessage(content=str(result), tool_call_id=call_id, name=name)


_TOOL_BROKE = (
    "That didn't work because of a problem on my side. Please try again later, "
    "or contact the IT help desk."
)


def _tool_error(call: ToolCall, text: str) -> ToolMessage:
    # ``text`` is for the model; the employee's sentence rides in the artifact.
    return ToolMessage(
        content=text,
        tool_call_id=call["id"] or "",
        name=call["name"],
        status="error",
        artifact={"error": _TOOL_BROKE},
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
            "your request, or contact the IT help desk."
        )
    return AIMessage(content=text, response_metadata={STEP_LIMIT_KEY: True})
