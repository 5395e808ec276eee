"""What an admin can do with tools, for the CLI and the admin HTTP API alike.

Every change is validated first (a bad manifest never reaches the database),
stored as a new version with who made it (:mod:`tools.custom.store`), and
written to the audit trail; the registry of every replica follows on its next
turn. Built-in tools appear beside registered ones, so an admin sees every
tool in one place, and can switch built-ins off and on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tools.audit import AuditEvent, arecord
from tools.custom import loading, store
from tools.errors import InvalidInput, NotFound
from tools.identity import Requester
from tools.registry import ToolContext, ToolRegistry

logger = logging.getLogger(__name__)

AUDIT_TOOL = "tools_admin"
SOURCE_MAX = 200_000
"""The largest manifest accepted, in characters."""


@dataclass(frozen=True, slots=True)
class ToolRow:
    """One tool as an admin lists it."""

    name: str
    kind: str
    enabled: bool
    version: int | None
    health: str | None
    side_effects: bool
    summary: str
    updated_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "enabled": self.enabled,
            "version": self.version,
            "health": self.health,
            "side_effects": self.side_effects,
            "summary": self.summary,
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True, slots=True)
class ToolDetail:
    """One tool with its manifest and history."""

    row: ToolRow
    source: str | None
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**self.row.to_json(), "source": self.source, "history": self.history}


async def list_tools(services: Any) -> list[ToolRow]:
    """Every tool: the built-ins (with an admin's switch applied) and the
    registered ones, by name."""
    registry: ToolRegistry = services.registry
    rows = {r.name: r for r in await store.all_tools(services.db)}
    listed: list[ToolRow] = []
    for name, manifest in sorted(registry.builtin_manifests().items()):
        switch = rows.pop(name, None)
        listed.append(
            ToolRow(
                name=name,
                kind="builtin",
                enabled=switch.enabled if switch is not None else manifest.enabled,
                version=switch.version if switch is not None else None,
                health=None,
                side_effects=manifest.side_effects,
                summary=manifest.summary or loading.first_line(manifest.description),
                updated_by=switch.updated_by if switch is not None else None,
            )
        )
    for row in rows.values():
        if row.kind == store.BUILTIN:
            continue  # a switch left behind for a built-in that no longer ships
        parsed = _quiet_parse(row.source or "")
        listed.append(
            ToolRow(
                name=row.name,
                kind=row.kind,
                enabled=row.enabled,
                version=row.version,
                health=row.health,
                side_effects=parsed.side_effects if parsed else False,
                summary=parsed.summary if parsed else "(manifest unreadable)",
                updated_by=row.updated_by,
            )
        )
    return sorted(listed, key=lambda r: r.name)


async def show_tool(services: Any, name: str) -> ToolDetail:
    """One tool, its manifest and its history.

    Raises:
        NotFound: no such tool.
    """
    rows = {r.name: r for r in await list_tools(services)}
    row = rows.get(name)
    if row is None:
        raise NotFound(f"no tool named {name!r}; see the list of tools")
    stored = await store.get_tool(services.db, name)
    versions = await store.history(services.db, name)
    return ToolDetail(
        row=row,
        source=stored.source if stored is not None else None,
        history=[
            {
                "version": v.version,
                "action": v.action,
                "enabled": v.enabled,
                "by": v.changed_by,
                "at": v.changed_at.isoformat(),
            }
            for v in versions
        ],
    )


async def add_tool(services: Any, source: str, *, by: str) -> ToolRow:
    """Register a tool from its manifest (YAML or JSON text).

    Raises:
        InvalidInput: the manifest is invalid (the message names the field),
            or the name is taken.
    """
    parsed = await _validated(services, source)
    await store.save(
        services.db,
        name=parsed.name,
        kind=parsed.kind,
        source=source,
        by=by,
        replace=False,
    )
    await _audit(services, by, f"add tool {parsed.name}", parsed.name)
    return await _row(services, parsed.name)


async def update_tool(services: Any, name: str, source: str, *, by: str) -> ToolRow:
    """Store a new version of a registered tool.

    Raises:
        InvalidInput: the manifest is invalid or names another tool.
        NotFound: no such registered tool.
    """
    parsed = await _validated(services, source)
    if parsed.name != name:
        raise InvalidInput(
            f"name: the manifest is for {parsed.name!r}, not {name!r}; a tool "
            "cannot be renamed (add it under the new name and remove the old one)"
        )
    await store.save(
        services.db, name=name, kind=parsed.kind, source=source, by=by, replace=True
    )
    await _audit(services, by, f"update tool {name}", name)
    return await _row(services, name)


async def set_enabled(services: Any, name: str, enabled: bool, *, by: str) -> ToolRow:
    """Enable or disable any tool, built-in or registered.

    Raises:
        NotFound: no such tool.
    """
    # A built-in, or one tool of an MCP server ("printers_restart_spooler"),
    # gets a switch of its own; a registration is switched as a whole.
    switch = name in services.registry.builtin_manifests() or await _is_server_tool(
        services, name
    )
    stored = await store.set_enabled(services.db, name, enabled, by=by, builtin=switch)
    await _audit(
        services, by, f"{'enable' if enabled else 'disable'} tool {name}", name
    )
    if switch and name not in services.registry.builtin_manifests():
        server = await _registration_of(services, name)
        return ToolRow(
            name=name,
            kind="mcp tool",
            enabled=enabled,
            version=stored.version,
            health=server.health,
            side_effects=False,
            summary=f"one tool of the {server.name} MCP server",
            updated_by=by,
        )
    return await _row(services, name)


async def remove_tool(services: Any, name: str, *, by: str) -> None:
    """Remove a registered tool; its history stays.

    Raises:
        NotFound: no such registered tool.
        InvalidInput: a built-in (disable it instead).
    """
    if name in services.registry.builtin_manifests():
        raise InvalidInput(f"{name!r} is a built-in tool; disable it instead")
    await store.remove(services.db, name, by=by)
    await _audit(services, by, f"remove tool {name}", name)


async def test_tool(
    services: Any, name: str, args: dict[str, Any], *, by: Requester
) -> dict[str, Any]:
    """Run a registered tool once against its real endpoint, as ``by``, with
    no approval card (an admin's dry run); the result is returned, not shown
    to anyone, and the run is audited.

    Raises:
        NotFound: no such registered tool.
        InvalidInput: ``args`` do not fit the tool's parameters.
    """
    stored = await _registration_of(services, name)
    built = await loading.build(stored, services)
    found = next(((m, impl) for m, impl in built if m.name == name), None)
    if found is None:
        raise NotFound(f"{name!r} offers no tool of that name right now")
    manifest, impl = found
    loading.check_args(manifest, args)
    context = ToolContext(by, services)
    await _audit(services, by.object_id, f"test tool {name}", name)
    try:
        result = await impl(args, context)
    except InvalidInput:
        raise
    except Exception as exc:
        message = getattr(exc, "user_message", None) or str(exc)
        return {"ok": False, "error": message, "type": type(exc).__name__}
    return {
        "ok": True,
        "content": result.content,
        "artifact": _jsonable(result.artifact),
    }


# -- helpers -------------------------------------------------------------------


async def _is_server_tool(services: Any, name: str) -> bool:
    """Whether ``name`` is one tool of a registered MCP server (not a row)."""
    existing = await store.get_tool(services.db, name)
    if existing is not None and existing.kind != store.BUILTIN:
        return False  # a registration of its own
    try:
        row = await _registration_of(services, name)
    except NotFound:
        return False
    return row.kind == "mcp"


async def _registration_of(services: Any, name: str) -> store.RegisteredTool:
    """The registration that offers tool ``name``: its own, or the MCP
    server's whose tools are named ``<server>_<tool>``."""
    rows = [r for r in await store.all_tools(services.db) if r.kind != store.BUILTIN]
    exact = next((r for r in rows if r.name == name), None)
    if exact is not None:
        return exact
    servers = [
        r
        for r in rows
        if r.kind == "mcp" and name.startswith(r.name.replace("-", "_") + "_")
    ]
    if servers:
        return max(servers, key=lambda r: len(r.name))
    raise NotFound(f"no registered tool named {name!r}; see helpdesk tools list")


async def _validated(services: Any, source: str) -> loading.ParsedTool:
    if len(source) > SOURCE_MAX:
        raise InvalidInput(f"manifest: longer than {SOURCE_MAX} characters")
    parsed = loading.parse(source)
    loading.check_reachable(parsed, services.settings)
    if parsed.name in services.registry.builtin_manifests():
        raise InvalidInput(
            f"name: {parsed.name!r} is a built-in tool's name; pick another"
        )
    return parsed


async def _row(services: Any, name: str) -> ToolRow:
    for row in await list_tools(services):
        if row.name == name:
            return row
    raise NotFound(f"no tool named {name!r}")


def _quiet_parse(source: str) -> loading.ParsedTool | None:
    try:
        return loading.parse(source)
    except InvalidInput:
        return None


async def _audit(services: Any, by: str, action: str, name: str) -> None:
    event = AuditEvent(
        at=datetime.now(UTC),
        tenant_id=getattr(services.settings, "app_tenant_id", None) or "local",
        actor_id=by[:256],
        subject_id=name,
        tool=AUDIT_TOOL,
        action=action,
        outcome="success",
    )
    try:
        await arecord(services.db, event)
    except Exception:
        logger.exception("could not audit %s", action)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
