"""Registered tools in the app database: versions with who changed them, and
registries in two replicas that follow every change on their next look."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.custom import store
from tools.db import create_engine, upgrade
from tools.errors import InvalidInput, NotFound
from tools.identity import Requester
from tools.registry import ToolContext, ToolManifest, ToolRegistry, ToolResult
from tools.settings import load_settings

ALICE = Requester(object_id="alice", tenant_id="t1", name="Alice")
SOURCE = """
name: printer_status
description: Tells whether an office printer is online and has paper.
examples: [is the printer on floor 3 working]
kind: http
"""


@dataclass
class _Services:
    db: AsyncEngine


@pytest.fixture
async def engine(app_database_url: str | None) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(load_settings(database_url=app_database_url))
    await upgrade(engine)
    yield engine
    await engine.dispose()


async def _builtin(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    return ToolResult("ok", {})


async def _load(row: store.RegisteredTool) -> list[tuple[ToolManifest, Any]]:
    data = yaml.safe_load(row.source or "")
    if data.get("broken"):
        raise RuntimeError("cannot reach the server")
    manifest = ToolManifest.model_validate(
        {k: v for k, v in data.items() if k != "broken"}
    )
    return [(manifest, _builtin)]


def _replica(engine: AsyncEngine) -> ToolRegistry:
    registry = ToolRegistry(_Services(engine), loader=_load)
    registry.register(
        ToolManifest(
            name="search_knowledge",
            description="Search the IT knowledge base for answers.",
        ),
        _builtin,
    )
    return registry


async def test_a_change_reaches_every_replica_on_its_next_look(
    engine: AsyncEngine,
) -> None:
    one, two = _replica(engine), _replica(engine)
    await one.refresh()
    await two.refresh()
    assert one.enabled_names() == two.enabled_names() == ["search_knowledge"]

    await store.save(
        engine,
        name="printer_status",
        kind="http",
        source=SOURCE,
        by="ada",
        replace=False,
    )
    assert await one.refresh() and await two.refresh()
    assert sorted(two.enabled_names()) == ["printer_status", "search_knowledge"]
    assert [t.name for t in two.tools_for(ALICE)] == [
        "search_knowledge",
        "printer_status",
    ]

    await store.set_enabled(engine, "printer_status", False, by="ada", builtin=False)
    await store.set_enabled(engine, "search_knowledge", False, by="ada", builtin=True)
    await one.refresh()
    assert one.enabled_names() == []
    assert not await one.refresh(), "nothing changed since: no rebuild"

    await store.set_enabled(engine, "search_knowledge", True, by="bo", builtin=True)
    await store.remove(engine, "printer_status", by="bo")
    await two.refresh()
    assert two.enabled_names() == ["search_knowledge"]


async def test_every_change_is_a_version_with_who_made_it(engine: AsyncEngine) -> None:
    await store.save(
        engine,
        name="printer_status",
        kind="http",
        source=SOURCE,
        by="ada",
        replace=False,
    )
    changed = SOURCE.replace("has paper", "has paper and toner")
    await store.save(
        engine,
        name="printer_status",
        kind="http",
        source=changed,
        by="bo",
        replace=True,
    )
    await store.set_enabled(engine, "printer_status", False, by="cy", builtin=False)
    await store.remove(engine, "printer_status", by="dee")

    versions = await store.history(engine, "printer_status")
    assert [(v.version, v.action, v.changed_by) for v in versions] == [
        (1, "add", "ada"),
        (2, "update", "bo"),
        (3, "disable", "cy"),
        (4, "remove", "dee"),
    ]
    assert versions[1].source == changed
    assert await store.get_tool(engine, "printer_status") is None


async def test_names_are_checked_against_what_exists(engine: AsyncEngine) -> None:
    await store.save(
        engine,
        name="printer_status",
        kind="http",
        source=SOURCE,
        by="ada",
        replace=False,
    )
    with pytest.raises(InvalidInput, match="exists already"):
        await store.save(
            engine,
            name="printer_status",
            kind="http",
            source=SOURCE,
            by="ada",
            replace=False,
        )
    with pytest.raises(NotFound, match="add it first"):
        await store.save(
            engine,
            name="vpn_status",
            kind="http",
            source=SOURCE,
            by="ada",
            replace=True,
        )
    await store.set_enabled(engine, "search_knowledge", False, by="ada", builtin=True)
    with pytest.raises(InvalidInput, match="disable it instead"):
        await store.remove(engine, "search_knowledge", by="ada")


async def test_an_unbuildable_or_unhealthy_tool_is_left_out_and_the_rest_stay(
    engine: AsyncEngine,
) -> None:
    registry = _replica(engine)
    await store.save(
        engine,
        name="printer_status",
        kind="http",
        source=SOURCE,
        by="ada",
        replace=False,
    )
    broken = SOURCE.replace("printer_status", "badge_status") + "broken: true\n"
    await store.save(
        engine, name="badge_status", kind="http", source=broken, by="ada", replace=False
    )
    await registry.refresh()
    assert sorted(registry.enabled_names()) == ["printer_status", "search_knowledge"]

    assert await store.set_health(engine, "printer_status", healthy=False, note="gone")
    assert not await store.set_health(
        engine, "printer_status", healthy=False, note="gone"
    )
    await registry.refresh()
    assert registry.enabled_names() == ["search_knowledge"]
    await store.set_health(engine, "printer_status", healthy=True)
    await registry.refresh()
    assert "printer_status" in registry.enabled_names()


async def test_a_registered_tool_cannot_shadow_a_built_in(engine: AsyncEngine) -> None:
    registry = _replica(engine)
    shadow = SOURCE.replace("printer_status", "search_knowledge")
    await store.save(
        engine,
        name="search_knowledge",
        kind="http",
        source=shadow,
        by="eve",
        replace=False,
    )
    await registry.refresh()
    [tool] = registry.tools_for(ALICE)
    assert tool.description == "Search the IT knowledge base for answers."


def test_the_published_mcp_schema_is_the_generated_one() -> None:
    import json

    from tools.custom.loading import MCP_SCHEMA_PATH, mcp_registration_schema

    published = json.loads(MCP_SCHEMA_PATH.read_text(encoding="utf-8"))
    assert published == json.loads(json.dumps(mcp_registration_schema())), (
        "regenerate with: python -m tools.custom.loading"
    )
    assert "transport" in published["properties"]["mcp"]["properties"]
