"""Drive the recovery tools through the real ToolRegistry, as the agent would.

:func:`open_recovery_services` opens the app database (migrated) with the
given directory, a secret drop and the shipped tool manifests;
:class:`ScriptedApprover` is the approval hook (approves or declines, and
records what it was asked); :func:`call_tool` runs one tool call with a
requester, a thread and the private-chat flag in the run config.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_core.messages import ToolMessage

from tools.approvals import ApprovalRequest, Decision
from tools.builtin import BUILTIN_TOOLS
from tools.db import create_engine, upgrade
from tools.identity import Requester
from tools.registry import APPROVE_KEY, PRIVATE_CHAT_KEY, ToolRegistry
from tools.secrets import SecretDrop
from tools.services import Services
from tools.settings import Settings


@dataclass
class ScriptedApprover:
    """An approval hook that answers ``approve`` and fills in the approval id."""

    approve: bool = True
    asked: list[ApprovalRequest] = field(default_factory=list)

    async def __call__(self, request: ApprovalRequest) -> Decision:
        request = replace(request, approval_id=f"appr-{uuid.uuid4().hex[:12]}")
        self.asked.append(request)
        extra: dict[str, Any] = {}
        if "approval_id" in Decision.__dataclass_fields__:
            extra["approval_id"] = request.approval_id  # as the agent's hook does
        return Decision(approved=self.approve, decided_by=request.approver_id, **extra)


@asynccontextmanager
async def open_recovery_services(
    settings: Settings, directory_factory: Callable[[Any], Any]
) -> AsyncIterator[Services]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        directory = await directory_factory(engine)
        services = Services(
            settings,
            engine,
            knowledge=None,
            registry=ToolRegistry(None),
            directory=directory,
            secrets=SecretDrop(),
        )  # type: ignore[arg-type]
        services.registry.services = services
        services.registry.load_dir(settings.manifests_dir / "tools", BUILTIN_TOOLS)
        try:
            yield services
        finally:
            await directory.aclose()
    finally:
        await engine.dispose()


async def call_tool(
    services: Services,
    name: str,
    args: dict[str, Any],
    requester: Requester,
    *,
    approver: ScriptedApprover | None = None,
    private_chat: bool = True,
    thread_id: str | None = None,
) -> ToolMessage:
    [tool] = [t for t in services.registry.tools_for(requester) if t.name == name]
    configurable: dict[str, Any] = {
        **requester.to_config(),
        "thread_id": thread_id or f"thread-{uuid.uuid4().hex}",
        PRIVATE_CHAT_KEY: private_chat,
    }
    if approver is not None:
        configurable[APPROVE_KEY] = approver
    call = {
        "type": "tool_call",
        "id": f"call-{uuid.uuid4().hex[:8]}",
        "name": name,
        "args": args,
    }
    message = await tool.ainvoke(call, config={"configurable": configurable})
    assert isinstance(message, ToolMessage)
    return message
