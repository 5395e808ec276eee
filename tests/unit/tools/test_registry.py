"""The tool registry: manifests validate by field, roles filter, errors become text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools.errors import BackendUnavailable, InvalidInput
from tools.identity import Requester
from tools.registry import (
    ToolContext,
    ToolManifest,
    ToolRegistry,
    ToolResult,
    load_manifest,
)

ALICE = Requester(object_id="alice-oid", tenant_id="t1", name="Alice")
AGENT = Requester(
    object_id="agent-oid", tenant_id="t1", name="Sam", roles=frozenset({"support"})
)


def _manifest(**overrides: Any) -> ToolManifest:
    fields: dict[str, Any] = {
        "name": "vpn_status",
        "description": "Tell whether the company VPN gateways are up right now.",
        "examples": ["is the vpn down?"],
        "parameters": {
            "type": "object",
            "properties": {"region": {"type": "string", "enum": ["eu", "us"]}},
            "required": ["region"],
        },
    }
    fields.update(overrides)
    return ToolManifest(**fields)


async def _echo(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    return ToolResult(f"{args['region']} is up for {ctx.requester.name}", {"ok": True})


async def _down(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    raise BackendUnavailable(
        "status page 503", user_message="The VPN status page is not answering."
    )


def _config(requester: Requester) -> dict[str, Any]:
    return {"configurable": requester.to_config()}


def _call(args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_call", "id": "call-1", "name": "vpn_status", "args": args}


async def test_tool_runs_for_the_requester_in_the_config() -> None:
    registry = ToolRegistry(services=None)
    registry.register(_manifest(), _echo)
    [tool] = registry.tools_for(ALICE)

    message = await tool.ainvoke(_call({"region": "eu"}), config=_config(ALICE))

    assert message.content == "eu is up for Alice"
    assert message.artifact == {"ok": True}
    assert tool.metadata == {
        "examples": ["is the vpn down?"],
        "side_effects": False,
        "summary": None,
        "conversation": False,
    }


async def test_backend_failure_becomes_text_the_model_can_act_on() -> None:
    registry = ToolRegistry(services=None)
    registry.register(_manifest(), _down)
    [tool] = registry.tools_for(ALICE)

    message = await tool.ainvoke(_call({"region": "us"}), config=_config(ALICE))

    assert message.content == "Error: The VPN status page is not answering."


def test_role_restricted_tools_are_offered_only_to_holders() -> None:
    registry = ToolRegistry(services=None)
    registry.register(_manifest(roles=["support"]), _echo)

    assert registry.tools_for(ALICE) == []
    assert [t.name for t in registry.tools_for(AGENT)] == ["vpn_status"]


def test_disabled_tools_are_not_offered() -> None:
    registry = ToolRegistry(services=None)
    registry.register(_manifest(enabled=False), _echo)

    assert registry.tools_for(ALICE) == []


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        pytest.param("name: Bad Name\ndescription: x" + "y" * 30, "name", id="name"),
        pytest.param("name: ok_tool\ndescription: short", "description", id="short"),
        pytest.param(
            "name: ok_tool\ndescription: " + "y" * 30 + "\nparameters: {type: string}",
            "parameters",
            id="params-not-object",
        ),
        pytest.param(
            "name: ok_tool\ndescription: " + "y" * 30 + "\nsecret: 1",
            "secret",
            id="unknown-field",
        ),
        pytest.param("- just\n- a list", "mapping", id="not-a-mapping"),
        pytest.param("name: [unclosed", "YAML", id="broken-yaml"),
    ],
)
def test_bad_manifest_names_file_and_field(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)

    with pytest.raises(InvalidInput) as caught:
        load_manifest(path)

    assert "bad.yaml" in str(caught.value)
    assert message in str(caught.value)


def test_manifest_without_implementation_is_refused() -> None:
    registry = ToolRegistry(services=None)

    with pytest.raises(InvalidInput, match="no implementation"):
        registry.register(_manifest(impl="does_not_exist"))
