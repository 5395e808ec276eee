"""The conversation digest a ticket carries, built from the thread's messages.

Tool calls and their raw results are not transcript lines; they become the
"what was already tried" list: articles shown, actions and how they ended.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agent.citations import snippet
from agent.offline import OFFLINE_NOTE, for_employee
from tools.conversation import BOT_SPEAKER, MAX_LINE_CHARS, MAX_LINES, Conversation
from tools.redact import clean_for_ticket as redact

ORIGIN_KEY = "origin"
"""Where a human message came from, in its ``additional_kwargs``; absent for
the employee's own words."""
HELPDESK_ORIGIN = "helpdesk"
"""The help desk's own instruction in the employee's thread (see
:meth:`agent.runner.Copilot.arun_turn`): never a transcript line."""


def digest(
    messages: Sequence[BaseMessage],
    *,
    employee: str,
    conversation_id: str | None,
) -> Conversation:
    """The transcript and the tried list of ``messages``, secrets redacted.

    Args:
        messages: the thread, oldest first.
        employee: the name the employee's lines carry.
        conversation_id: the host's conversation id.
    """
    lines: list[tuple[str, str]] = []
    tried: list[str] = []
    calls: dict[str, str] = {}
    for message in messages:
        if isinstance(message, HumanMessage):
            if message.additional_kwargs.get(ORIGIN_KEY) == HELPDESK_ORIGIN:
                continue
            lines.append((employee, _clean(_text(message))))
        elif isinstance(message, AIMessage):
            for call in message.tool_calls:
                calls[call.get("id") or ""] = call["name"]
            said = _text(message).replace(OFFLINE_NOTE, "").strip()
            if said:
                lines.append((BOT_SPEAKER, _clean(said)))
        elif isinstance(message, ToolMessage):
            tried.extend(_tried(message, calls.get(message.tool_call_id, "a tool")))
    return Conversation(
        lines=lines[-MAX_LINES:],
        tried=list(dict.fromkeys(tried))[-20:],
        conversation_id=conversation_id,
    )


def _tried(result: ToolMessage, name: str) -> list[str]:
    artifact = result.artifact if isinstance(result.artifact, dict) else {}
    passages = artifact.get("passages")
    if isinstance(passages, list):
        titles = list(
            dict.fromkeys(
                str(p.get("title")) for p in passages[:3] if isinstance(p, dict)
            )
        )
        if not titles:
            return [
                f"Searched the knowledge base for '{artifact.get('query', '')}': nothing relevant"
            ]
        return [f"Showed the article '{title}'" for title in titles]
    if artifact.get("declined"):
        return [f"{name}: the employee cancelled it"]
    outcome = snippet(for_employee(result), 240)
    failed = result.status == "error" or bool(artifact.get("error"))
    return [redact(f"{name} {'failed' if failed else 'done'}: {outcome}")]


def _clean(text: str) -> str:
    text = redact(text.strip())
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(
        part if isinstance(part, str) else str(part.get("text", "")) for part in content
    )
