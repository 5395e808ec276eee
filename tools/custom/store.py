"""The registered-tools store: what an admin added, changed, enabled or removed.

Every change is one transaction that also writes a version row (who, when,
what) and bumps the registry revision, so every replica's registry notices it
on its next turn (see :meth:`tools.registry.ToolRegistry.refresh`) and an
admin can read the history. Manifests are kept as the admin wrote them; they
are validated before they are stored (see :mod:`tools.custom.loading`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tools.custom.tables import (
    registered_tool_versions,
    registered_tools,
    tool_registry_revision,
)
from tools.db import as_utc
from tools.errors import InvalidInput, NotFound

Action = Literal["add", "update", "enable", "disable", "remove"]
BUILTIN = "builtin"


@dataclass(frozen=True, slots=True)
class RegisteredTool:
    """One row: an admin's tool, or an admin's switch on a built-in one."""

    name: str
    kind: str
    source: str | None
    enabled: bool
    version: int
    updated_by: str
    updated_at: datetime
    health: str | None = None
    health_note: str | None = None


@dataclass(frozen=True, slots=True)
class ToolVersion:
    """One change in a tool's history."""

    name: str
    version: int
    action: str
    enabled: bool
    changed_by: str
    changed_at: datetime
    source: str | None


async def revision(engine: AsyncEngine) -> int:
    """The registry revision: changes whenever any registered tool changes."""
    async with engine.connect() as conn:
        value = (
            await conn.execute(sa.select(tool_registry_revision.c.revision))
        ).scalar_one_or_none()
    return int(value or 0)


async def all_tools(engine: AsyncEngine) -> list[RegisteredTool]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                registered_tools.select().order_by(registered_tools.c.name)
            )
        ).all()
    return [_tool(row) for row in rows]


async def get_tool(engine: AsyncEngine, name: str) -> RegisteredTool | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                registered_tools.select().where(registered_tools.c.name == name)
            )
        ).first()
    return _tool(row) if row is not None else None


async def history(engine: AsyncEngine, name: str) -> list[ToolVersion]:
    v = registered_tool_versions
    query = v.select().where(v.c.name == name).order_by(v.c.seq)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        ToolVersion(
            name=row.name,
            version=int(row.version),
            action=row.action,
            enabled=bool(row.enabled),
            changed_by=row.changed_by,
            changed_at=as_utc(row.changed_at),
            source=row.source,
        )
        for row in rows
    ]


async def save(
    engine: AsyncEngine,
    *,
    name: str,
    kind: str,
    source: str,
    by: str,
    replace: bool,
) -> RegisteredTool:
    """Add a tool (``replace`` False) or store a new version of it (True).

    Raises:
        InvalidInput: adding a name that exists, or replacing one that does not.
    """
    now = _now()
    async with engine.begin() as conn:
        current = await _current(conn, name)
        if current is not None and not replace:
            raise InvalidInput(
                f"a tool named {name!r} exists already (version {current.version}); "
                "change it with update, or pick another name"
            )
        if current is None and replace:
            raise NotFound(f"no registered tool named {name!r}; add it first")
        if current is not None and current.kind == BUILTIN:
            raise InvalidInput(
                f"{name!r} is a built-in tool; built-ins can be enabled or "
                "disabled, not replaced"
            )
        version = (current.version + 1) if current is not None else 1
        values: dict[str, Any] = {
            "kind": kind,
            "source": source,
            "enabled": current.enabled if current is not None else True,
            "version": version,
            "updated_by": by,
            "updated_at": now,
        }
        if current is None:
            await conn.execute(registered_tools.insert().values(name=name, **values))
        else:
            await conn.execute(
                registered_tools.update()
                .where(registered_tools.c.name == name)
                .values(**values, health=None, health_note=None, health_at=None)
            )
        await _record(
            conn,
            name=name,
            version=version,
            action="update" if replace else "add",
            source=source,
            enabled=values["enabled"],
            by=by,
            at=now,
        )
        await _bump(conn)
    found = await get_tool(engine, name)
    assert found is not None
    return found


async def set_enabled(
    engine: AsyncEngine, name: str, enabled: bool, *, by: str, builtin: bool
) -> RegisteredTool:
    """Enable or disable a registered tool, or a built-in one (``builtin``).

    Raises:
        NotFound: no such registered tool (and it is not a built-in).
    """
    now = _now()
    async with engine.begin() as conn:
        current = await _current(conn, name)
        if current is None and not builtin:
            raise NotFound(f"no tool named {name!r}")
        version = (current.version + 1) if current is not None else 1
        if current is None:
            await conn.execute(
                registered_tools.insert().values(
                    name=name,
                    kind=BUILTIN,
                    source=None,
                    enabled=enabled,
                    version=version,
                    updated_by=by,
                    updated_at=now,
                )
            )
        else:
            await conn.execute(
                registered_tools.update()
                .where(registered_tools.c.name == name)
                .values(enabled=enabled, version=version, updated_by=by, updated_at=now)
            )
        await _record(
            conn,
            name=name,
            version=version,
            action="enable" if enabled else "disable",
            source=current.source if current is not None else None,
            enabled=enabled,
            by=by,
            at=now,
        )
        await _bump(conn)
    found = await get_tool(engine, name)
    assert found is not None
    return found


async def remove(engine: AsyncEngine, name: str, *, by: str) -> None:
    """Remove a registered tool (its history stays).

    Raises:
        NotFound: no such registered tool.
        InvalidInput: it is a built-in (disable it instead).
    """
    now = _now()
    async with engine.begin() as conn:
        current = await _current(conn, name)
        if current is None:
            raise NotFound(f"no registered tool named {name!r}")
        if current.kind == BUILTIN:
            raise InvalidInput(f"{name!r} is a built-in tool; disable it instead")
        await conn.execute(
            registered_tools.delete().where(registered_tools.c.name == name)
        )
        await _record(
            conn,
            name=name,
            version=current.version + 1,
            action="remove",
            source=None,
            enabled=False,
            by=by,
            at=now,
        )
        await _bump(conn)


async def set_health(
    engine: AsyncEngine, name: str, *, healthy: bool, note: str = ""
) -> bool:
    """Record a tool source's health; True when it changed (the registry
    revision is bumped then, so replicas withdraw or restore its tools)."""
    status = "ok" if healthy else "unhealthy"
    async with engine.begin() as conn:
        current = await _current(conn, name)
        if current is None or current.health == status:
            return False
        await conn.execute(
            registered_tools.update()
            .where(registered_tools.c.name == name)
            .values(health=status, health_note=note[:500] or None, health_at=_now())
        )
        await _bump(conn)
    return True


async def _current(conn: AsyncConnection, name: str) -> RegisteredTool | None:
    row = (
        await conn.execute(
            registered_tools.select().where(registered_tools.c.name == name)
        )
    ).first()
    return _tool(row) if row is not None else None


async def _record(
    conn: AsyncConnection,
    *,
    name: str,
    version: int,
    action: Action,
    source: str | None,
    enabled: bool,
    by: str,
    at: datetime,
) -> None:
    await conn.execute(
        registered_tool_versions.insert().values(
            name=name,
            version=version,
            action=action,
            source=source,
            enabled=enabled,
            changed_by=by,
            changed_at=at,
        )
    )


async def _bump(conn: AsyncConnection) -> None:
    r = tool_registry_revision
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(r).values(id=1, revision=1)
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=["id"], set_={"revision": r.c.revision + 1}
        )
    )


def _tool(row: Any) -> RegisteredTool:
    return RegisteredTool(
        name=row.name,
        kind=row.kind,
        source=row.source,
        enabled=bool(row.enabled),
        version=int(row.version),
        updated_by=row.updated_by,
        updated_at=as_utc(row.updated_at),
        health=row.health,
        health_note=row.health_note,
    )


def _now() -> datetime:
    return datetime.now(UTC)
