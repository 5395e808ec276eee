"""The tool registry: tool manifests, their implementations, and the tools a turn gets.

A tool is described by a manifest (``manifests/tools/*.yaml``) that both the
model and an admin read: name, description, example utterances, parameters as
JSON Schema, whether it has side effects, and which roles may use it. Built-in
tools name their implementation with ``impl``; admin-registered tools (HTTP,
MCP) will be added as other ``kind`` values with the same manifest shape.

An implementation is ``async def impl(args: dict, ctx: ToolContext) -> ToolResult``.
It raises :class:`~tools.errors.HelpdeskError` subclasses; the registry turns
them into text the model can act on, so a failing tool never takes a turn down.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.errors import GraphBubbleUp
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tools.approvals import ApprovalDenied, ApprovalRequest, Decision
from tools.audit import AuditEvent, AuditNote, AuditOutcome, arecord
from tools.conversation import CONVERSATION_KEY, Conversation
from tools.errors import (
    BackendUnavailable,
    ConfigError,
    HelpdeskError,
    InvalidInput,
    LimitReached,
    MissingDetail,
    PermissionDenied,
)
from tools.identity import Requester, requester_from_config
from tools.secrets import OneTimeSecret

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


class ToolManifest(BaseModel):
    """A tool as an admin writes it and the model sees it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = Field(min_length=20)
    examples: list[str] = Field(default_factory=list)
    summary: str | None = Field(default=None, max_length=120)
    """What the tool does for an employee, as a short phrase that follows
    "I can …" (e.g. "answer IT questions from the help desk articles"). The
    greeting and the offline model list these; the description is for the model."""
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    side_effects: bool = False
    conversation: bool = False
    """The tool receives the conversation's redacted transcript (ticket tools);
    every other tool sees only its arguments."""
    roles: list[str] = Field(default_factory=list)
    """Directory roles allowed to use the tool; empty means every requester."""
    kind: Literal["builtin", "http", "openapi", "mcp"] = "builtin"
    impl: str | None = None
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "must be lower_snake_case, 2-64 characters, starting with a letter"
            )
        return value

    @field_validator("parameters")
    @classmethod
    def _check_parameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError('must be a JSON Schema with "type": "object"')
        if not isinstance(value.get("properties", {}), dict):
            raise ValueError('"properties" must be a mapping')
        return value


ASK_KEY = "ask"
"""Artifact key of the argument a failed call needs from the employee; their
next message can supply it and the same call is made again."""
USER_MESSAGE_KEY = "user_message"
"""Artifact key of a plain sentence for the employee, where ``content`` is
written for the model (instructions such as "do not retry" are not for people).
A failed call's artifact carries the employee's sentence under ``"error"``."""
NOTHING_DONE_KEY = "nothing_done"
"""Artifact key set by a side-effecting tool that found nothing to change (a
ticket already closed): it rightly asked no one."""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool returns: ``content`` for the model, ``artifact`` for code.

    ``artifact`` never reaches the model; the offline model and the bot read it
    (passages for citations, ids for cards, :data:`USER_MESSAGE_KEY`). Secrets
    go in neither.
    """

    content: str
    artifact: Any = None


APPROVE_KEY = "helpdesk_approve"
"""Run-config key of the agent's approval hook: ``async (ApprovalRequest) -> Decision``."""
PRIVATE_CHAT_KEY = "helpdesk_private_chat"
"""Run-config key: True when the turn comes from a 1:1 chat with the requester."""

Approver = Callable[[ApprovalRequest], Awaitable[Decision]]


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What an implementation gets besides its arguments.

    Attributes:
        requester: who the tool acts for, from the activity.
        services: the :class:`tools.services.Services` of this process.
        thread_id: the conversation's thread, when run inside a turn.
        private_chat: the turn comes from a 1:1 chat (secrets may be shown).
        approver: the agent's approval hook; None outside a graph run.
        audit: what a side-effecting tool has learnt so far (subject, action,
            approval) for its audit record; the registry writes it.
        conversation: the redacted transcript, for tools whose manifest asks
            for it; None for every other tool.
    """

    requester: Requester
    services: Any
    thread_id: str | None = None
    private_chat: bool = False
    approver: Approver | None = None
    audit: AuditNote = field(default_factory=AuditNote)
    conversation: Conversation | None = None

    async def approve(self, request: ApprovalRequest) -> Decision:
        """Ask for approval and wait; returns only when approved.

        Raises:
            ApprovalDenied: the approver said no.
            PermissionDenied: there is no way to ask (a tool run outside a turn).
        """
        if self.approver is None:
            raise PermissionDenied(
                f"{request.tool} needs an approval and none can be asked here",
                user_message="That needs your confirmation, which I cannot ask "
                "for here.",
            )
        decision = await self.approver(request)
        # The hook fills the id in; a Decision that carries it wins.
        self.audit.approval_id = (
            getattr(decision, "approval_id", None) or request.approval_id or None
        )
        if not decision.approved:
            raise ApprovalDenied(request.approval_id)
        self.audit.approved = True
        return decision

    def reveal_once(self, secret: OneTimeSecret) -> None:
        """Hand a secret to the host to show once, privately, to its owner.

        Raises:
            PermissionDenied: not a 1:1 chat, or no thread to deliver it in.
        """
        if not self.private_chat or self.thread_id is None:
            raise PermissionDenied(
                "a one-time secret may only be shown in a 1:1 chat",
                user_message="For your security I can only do that in a private "
                "chat with me. Open a 1:1 chat with the help desk and ask again.",
            )
        self.services.secrets.put(self.thread_id, secret)


ToolImpl = Callable[[dict[str, Any], ToolContext], Awaitable[ToolResult]]


CustomLoader = Callable[[Any], Awaitable[list[tuple["ToolManifest", ToolImpl]]]]
"""Builds the tools of one registered row (an MCP server gives several)."""


@dataclass
class ToolRegistry:
    """Manifests and implementations, and the LangChain tools built from them.

    Built-in tools come from manifest files at start-up; tools an admin
    registers, and an admin's switches on built-ins, come from the app
    database and are picked up by :meth:`refresh` at the start of each model
    call, in every replica, without a restart.
    """

    services: Any
    manifests: dict[str, ToolManifest] = field(default_factory=dict)
    impls: dict[str, ToolImpl] = field(default_factory=dict)
    loader: CustomLoader | None = None
    """Builds registered tools; None serves built-ins only."""
    _files: dict[str, ToolManifest] = field(default_factory=dict, repr=False)
    """The tools registered in code and from manifest files (the built-ins)."""
    _revision: int = field(default=-1, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def register(self, manifest: ToolManifest, impl: ToolImpl | None = None) -> None:
        """Add or replace a tool. Built-ins resolve ``impl`` by name."""
        if impl is None:
            impl = self.impls.get(manifest.impl or manifest.name)
        if impl is None:
            raise InvalidInput(
                f"tool {manifest.name!r}: no implementation named "
                f"{manifest.impl or manifest.name!r}"
            )
        self.manifests[manifest.name] = manifest
        self.impls[manifest.name] = impl
        self._files[manifest.name] = manifest

    def load_dir(self, folder: Path, builtins: dict[str, ToolImpl]) -> None:
        """Load every ``*.yaml`` manifest in ``folder``.

        Raises:
            InvalidInput: a manifest is malformed; the message names the file
                and the field.
        """
        self.impls.update(builtins)
        for path in sorted(folder.glob("*.yaml")):
            self.register(load_manifest(path))

    async def refresh(self) -> bool:
        """Apply the database's registered tools when they changed since the
        last look (one cheap read when they did not).

        A registered tool that cannot be built is left out and logged; the
        turn goes on with the others. Returns True when the tools changed.
        """
        engine = getattr(self.services, "db", None)
        if engine is None:
            return False
        from tools.custom import store

        current = await store.revision(engine)
        if current == self._revision:
            return False
        async with self._lock:
            if current == self._revision:
                return False
            rows = await store.all_tools(engine)
            manifests = dict(self._files)
            impls = {name: self.impls[name] for name in self._files}
            switches = {r.name: r.enabled for r in rows if r.kind == store.BUILTIN}
            for row in rows:
                if row.kind == store.BUILTIN:
                    continue
                if not row.enabled or row.health == "unhealthy":
                    continue
                for manifest, impl in await self._build(row):
                    if manifest.name in self._files:
                        logger.error(
                            "registered tool %s clashes with a built-in; left out",
                            manifest.name,
                        )
                        continue
                    manifests[manifest.name] = manifest
                    impls[manifest.name] = impl
            # An admin's switch on one tool: a built-in, or one tool of an
            # MCP server, each enabled or disabled on its own.
            for name, enabled in switches.items():
                if name in manifests:
                    manifests[name] = manifests[name].model_copy(
                        update={"enabled": enabled}
                    )
            self.manifests, self.impls = manifests, {**self.impls, **impls}
            self._revision = current
        logger.info("tool registry at revision %d: %s", current, self.enabled_names())
        return True

    async def _build(self, row: Any) -> list[tuple[ToolManifest, ToolImpl]]:
        if self.loader is None:
            return []
        try:
            return await self.loader(row)
        except Exception as exc:  # one broken tool never takes the others down
            logger.error("registered tool %s cannot be built: %s", row.name, exc)
            return []

    def builtin_manifests(self) -> dict[str, ToolManifest]:
        """The built-in tools as shipped (before an admin's switches)."""
        return dict(self._files)

    def enabled_names(self) -> list[str]:
        """Names of the enabled tools, in registration order."""
        return [m.name for m in self.manifests.values() if m.enabled]

    def enabled_summaries(self) -> list[str]:
        """What the enabled tools do, in employees' words: what they tell first,
        then what they change (tools without a summary are left out)."""
        enabled = [m for m in self.manifests.values() if m.enabled and m.summary]
        return [
            m.summary
            for m in sorted(enabled, key=lambda m: m.side_effects)
            if m.summary
        ]

    def tools_for(self, requester: Requester) -> list[BaseTool]:
        """The tools this requester may use now, as LangChain tools."""
        return [
            self._as_langchain(m)
            for m in self.manifests.values()
            if m.enabled and _allowed(m, requester)
        ]

    def _as_langchain(self, manifest: ToolManifest) -> BaseTool:
        impl = self.impls[manifest.name]
        services = self.services

        async def run(config: RunnableConfig, **kwargs: Any) -> tuple[str, Any]:
            requester = requester_from_config(config)
            if not _allowed(manifest, requester):
                return (
                    f"Error: {requester.name or 'this user'} may not use "
                    f"{manifest.name}. Do not retry; tell the user.",
                    None,
                )
            configurable = (config or {}).get("configurable") or {}
            context = ToolContext(
                requester,
                services,
                thread_id=configurable.get("thread_id"),
                private_chat=bool(configurable.get(PRIVATE_CHAT_KEY)),
                approver=configurable.get(APPROVE_KEY),
                conversation=Conversation.from_payload(
                    configurable.get(CONVERSATION_KEY)
                )
                if manifest.conversation
                else None,
            )
            started = time.perf_counter()
            outcome: AuditOutcome = "failed"
            failure: BaseException | None = None
            paused = False
            nothing_done = False
            try:
                result = await impl(kwargs, context)
                outcome = context.audit.outcome or "success"
                # A tool that found nothing to change asked no one and did
                # nothing: no audit record claims it acted.
                nothing_done = isinstance(result.artifact, dict) and bool(
                    result.artifact.get(NOTHING_DONE_KEY)
                )
                await _count_call(services, context, manifest.name, failure=None)
            except ApprovalDenied:
                outcome = "declined"
                logger.info("tool %s declined by the approver", manifest.name)
                return (
                    f"{manifest.name} was not run: the approver declined. Do not "
                    "retry or try another way; ask what else you can do.",
                    {"declined": True},
                )
            except HelpdeskError as exc:
                failure = exc
                outcome = _failure_outcome(exc, approved=context.audit.approved)
                await _count_call(services, context, manifest.name, failure=exc)
                logger.warning(
                    "tool %s failed for %s: %s (request id %s)",
                    manifest.name,
                    requester.object_id,
                    exc,
                    exc.request_id or "-",
                )
                text = f"Error: {exc.user_message}"
                if manifest.side_effects:
                    text += _NO_WORKAROUND
                artifact: dict[str, Any] = {
                    "error": exc.user_message,
                    "escalate": exc.escalate,
                }
                if isinstance(exc, MissingDetail):
                    artifact[ASK_KEY] = exc.field
                return (text, artifact)
            except GraphBubbleUp:
                # The graph paused for the approval (interrupt); the call is not
                # over: it runs again from the start when the decision comes.
                paused = True
                raise
            except BaseException as exc:
                failure = exc
                if isinstance(exc, Exception):
                    await _count_call(services, context, manifest.name, failure=exc)
                raise
            finally:
                if manifest.side_effects and not paused and not nothing_done:
                    await self._audit(manifest, context, outcome, failure)
            logger.info(
                "tool %s ok in %.0f ms",
                manifest.name,
                (time.perf_counter() - started) * 1000,
            )
            return result.content, result.artifact

        return StructuredTool.from_function(
            coroutine=run,
            name=manifest.name,
            description=manifest.description.strip(),
            args_schema=manifest.parameters,
            response_format="content_and_artifact",
            metadata={
                "examples": list(manifest.examples),
                "side_effects": manifest.side_effects,
                "summary": manifest.summary,
                "conversation": manifest.conversation,
            },
        )

    async def _audit(
        self,
        manifest: ToolManifest,
        context: ToolContext,
        outcome: AuditOutcome,
        failure: BaseException | None,
    ) -> None:
        """Write the one audit record of a side-effecting call; never raises."""
        engine = getattr(self.services, "db", None)
        if engine is None:
            logger.error("tool %s: no app database, audit record lost", manifest.name)
            return
        note = context.audit
        requester = context.requester
        detail = None
        if isinstance(failure, HelpdeskError):
            detail = f"{type(failure).__name__}: {failure.user_message}"
        elif failure is not None:
            detail = type(failure).__name__
        event = AuditEvent(
            at=datetime.now(UTC),
            tenant_id=requester.tenant_id,
            actor_id=requester.object_id,
            subject_id=note.subject_id or requester.object_id,
            tool=manifest.name,
            action=note.action or manifest.name,
            outcome=outcome,
            approval_id=note.approval_id,
            backend_request_id=getattr(failure, "request_id", None),
            detail=detail,
        )
        try:
            await arecord(engine, event)
        except Exception:
            # The action may already have happened; losing the record is bad,
            # but failing the reply after the fact would mislead the employee.
            logger.exception("tool %s: could not write the audit record", manifest.name)


async def _count_call(
    services: Any, context: ToolContext, tool: str, *, failure: BaseException | None
) -> None:
    """One ``tool_call`` or ``tool_failed`` analytics event; never raises."""
    engine = getattr(services, "db", None)
    settings = getattr(services, "settings", None)
    if engine is None or settings is None:
        return
    from tools.analytics import record_tool

    requester = context.requester
    await record_tool(
        engine,
        settings,
        tenant_id=requester.tenant_id,
        conversation_id=conversation_of(context.thread_id) or "",
        user_id=requester.object_id,
        tool=tool,
        failed=_broke(failure),
        refused=failure is not None and not _broke(failure),
        reason=type(failure).__name__ if failure is not None else None,
    )


def _broke(failure: BaseException | None) -> bool:
    """Whether a call's error means something broke (a system down, a
    missing setting, a bug, no one to hand over to), rather than the tool
    rightly saying no ("you already have Visio", "that ticket is not
    yours", a detail missing): the analytics count only the first as a
    tool failure."""
    if failure is None:
        return False
    if isinstance(failure, (BackendUnavailable, ConfigError)):
        return True
    if isinstance(failure, HelpdeskError):
        return failure.escalate
    return True


def conversation_of(thread_id: str | None) -> str | None:
    """The host's conversation id of a thread (``<tenant>:<conversation>``,
    see :func:`agent.runner.thread_id_for`); None without one."""
    if not thread_id or ":" not in thread_id:
        return None
    return thread_id.split(":", 1)[1]


_NO_WORKAROUND = (
    " Do not try this again, and do not reach the same change with another "
    "tool or another way; tell the user plainly and give the next step above."
)


def _failure_outcome(exc: HelpdeskError, *, approved: bool) -> AuditOutcome:
    if approved:
        return "failed"
    if isinstance(exc, LimitReached):
        return "limited"
    if isinstance(exc, (PermissionDenied, InvalidInput)):
        return "refused"
    return "failed"


def _allowed(manifest: ToolManifest, requester: Requester) -> bool:
    return not manifest.roles or bool(set(manifest.roles) & requester.roles)


def load_manifest(path: Path) -> ToolManifest:
    """Read and validate one tool manifest.

    Raises:
        InvalidInput: the YAML is unreadable or a field is wrong; the message
            names the file and the field.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path}: cannot read YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: a tool manifest must be a mapping")
    try:
        return ToolManifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'manifest'}: {e['msg']}"
            for e in exc.errors()
        )
        raise InvalidInput(f"{path}: {problems}") from exc


def check_permission(requester: Requester, roles: Iterable[str]) -> None:
    """Raise PermissionDenied unless the requester holds one of ``roles``."""
    needed = set(roles)
    if needed and not needed & requester.roles:
        raise PermissionDenied(
            f"{requester.object_id} lacks roles {sorted(needed)}",
            user_message="You need a support role to do that.",
        )
