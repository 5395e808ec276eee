"""From a stored manifest to the tools the registry offers.

Three kinds of registration, told apart by their block:

- ``http:`` and ``openapi:``: one tool (:mod:`tools.custom.manifest`, run by
  :mod:`tools.custom.runner`);
- ``mcp:``: a server whose listed tools become tools named
  ``<server>_<tool>``, each with its own schema (:mod:`tools.custom.mcp`).
  The registration may add example utterances and the side-effects flag per
  tool; a tool the server does not mark read-only asks for approval.

:func:`parse` validates without touching the network, so a bad manifest is
refused before it is stored; :func:`build` may reach the tool's server (an
MCP server is asked for its tools) and is called by the registry.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.custom import store
from tools.custom.manifest import (
    CustomToolManifest,
    describe_errors,
    parse_custom_manifest,
)
from tools.custom.mcp import McpServer, McpToolInfo, build_impl, list_tools
from tools.errors import InvalidInput
from tools.registry import USER_MESSAGE_KEY, ToolImpl, ToolManifest, ToolResult

logger = logging.getLogger(__name__)

Kind = Literal["http", "openapi", "mcp"]
_TOOL_NAME = re.compile(r"[^a-z0-9_]+")


class McpRegistration(BaseModel):
    """An MCP server as an admin registers it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str | None = None
    """What the server is for, for admins."""
    roles: list[str] = Field(default_factory=list)
    enabled: bool = True
    mcp: dict[str, Any]
    """The server: ``transport``, ``timeout_s``, ``tools`` (see McpServer)."""
    examples: dict[str, list[str]] = Field(default_factory=dict)
    """Example utterances per tool, so the offline model routes to them."""
    side_effects: dict[str, bool] = Field(default_factory=dict)
    """Per tool: overrides the server's read-only hint."""


@dataclass(frozen=True, slots=True)
class ParsedTool:
    """A validated registration."""

    name: str
    kind: Kind
    side_effects: bool
    summary: str
    custom: CustomToolManifest | None = None
    mcp: McpRegistration | None = None
    server: McpServer | None = None
    roles: list[str] = field(default_factory=list)


def parse(source: str) -> ParsedTool:
    """Validate a registration's text (YAML or JSON).

    Raises:
        InvalidInput: the message names each wrong field.
    """
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"manifest: cannot read YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(
            "manifest: must be a mapping of fields (name, description, …)"
        )
    if "mcp" in data:
        return _parse_mcp(data)
    custom = parse_custom_manifest(data, source="manifest")
    return ParsedTool(
        name=custom.name,
        kind="http" if custom.http is not None else "openapi",
        side_effects=custom.side_effects,
        summary=custom.summary or first_line(custom.description),
        custom=custom,
        roles=list(custom.roles),
    )


async def build(
    row: store.RegisteredTool, services: Any
) -> list[tuple[ToolManifest, ToolImpl]]:
    """The tools one stored registration offers now.

    Raises:
        InvalidInput: the stored manifest no longer validates.
        ToolError: an MCP server could not be asked for its tools.
    """
    parsed = parse(row.source or "")
    if parsed.custom is not None:
        return [await _custom_tool(parsed.custom, services)]
    assert parsed.mcp is not None and parsed.server is not None
    tools = await list_tools(parsed.server)
    return [
        _mcp_tool(parsed.mcp, parsed.server, info) for info in tools if info.enabled
    ]


def check_args(manifest: ToolManifest, args: dict[str, Any]) -> None:
    """Refuse arguments that do not fit the tool's parameters.

    Raises:
        InvalidInput: names the argument and what is wrong.
    """
    try:
        jsonschema.validate(args, manifest.parameters)
    except jsonschema.ValidationError as exc:
        where = ".".join(["args", *(str(p) for p in exc.absolute_path)])
        raise InvalidInput(f"{where}: {exc.message}") from None


def _parse_mcp(data: dict[str, Any]) -> ParsedTool:
    try:
        registration = McpRegistration.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"manifest: {describe_errors(exc)}") from None
    try:
        server = McpServer.model_validate(
            {"name": registration.name, **registration.mcp}
        )
    except ValidationError as exc:
        raise InvalidInput(f"manifest: mcp.{describe_errors(exc)}") from None
    return ParsedTool(
        name=registration.name,
        kind="mcp",
        side_effects=any(registration.side_effects.values()),
        summary=registration.description
        or f"tools of the {registration.name} MCP server",
        mcp=registration,
        server=server,
        roles=list(registration.roles),
    )


async def _custom_tool(
    custom: CustomToolManifest, services: Any
) -> tuple[ToolManifest, ToolImpl]:
    from tools.custom.runner import aparameters_of
    from tools.custom.runner import build_impl as build_http_impl

    policy = network_policy(services.settings)
    manifest = ToolManifest(
        name=custom.name,
        description=custom.description,
        examples=list(custom.examples),
        summary=custom.summary,
        parameters=await aparameters_of(custom, policy=policy),
        side_effects=custom.side_effects,
        roles=list(custom.roles),
        kind="http" if custom.http is not None else "openapi",
    )
    from tools.custom.keyvault import reader_for
    from tools.custom.secret_refs import SecretResolver

    secrets = SecretResolver(keyvault=reader_for(services.settings))
    impl = build_http_impl(custom, policy=policy, secrets=secrets)
    if custom.side_effects:
        impl = _approved(manifest, impl)
    return manifest, _for_employee(_checked(manifest, impl))


def check_reachable(parsed: ParsedTool, settings: Any) -> None:
    """Refuse, at registration, an HTTP tool or MCP server whose host the
    policy would refuse: not an allowed host, or an address literal in a
    private, loopback, link-local or metadata range that is not allowed.

    Raises:
        InvalidInput: names the field, the host and the setting to change.
    """
    custom = parsed.custom
    if custom is None:
        transport = getattr(parsed.server, "transport", None)
        url = getattr(transport, "url", None)
        if url:
            _check_url("mcp.transport.url", url, settings)
        return
    if custom.http is not None:
        where, url = "http.url", custom.http.url
    elif custom.openapi is not None and custom.openapi.server:
        where, url = "openapi.server", custom.openapi.server
    else:
        return
    _check_url(where, url, settings)


def _check_url(where: str, url: str, settings: Any) -> None:
    from urllib.parse import urlsplit

    from tools.custom.network import NetworkRefused, is_ip_literal

    host = urlsplit(url.replace("{", "").replace("}", "")).hostname or ""
    policy = network_policy(settings)
    try:
        if is_ip_literal(host):
            policy.check_address(host, host=host)
        policy.check_host(host)
    except NetworkRefused as exc:
        raise InvalidInput(
            f"{where}: {exc}; the setting is HELPDESK_TOOLS_ALLOWED_HOSTS "
            "(or HELPDESK_TOOLS_ALLOW_PRIVATE for a private address)"
        ) from None


def _approved(manifest: ToolManifest, impl: ToolImpl) -> ToolImpl:
    """Ask the requester on a card before each call of a tool that changes
    something, as for the built-in tools."""

    async def run(args: dict[str, Any], ctx: Any) -> ToolResult:
        from datetime import UTC, datetime, timedelta

        from tools.approvals import ApprovalRequest

        me = ctx.requester.object_id
        minutes = getattr(
            getattr(ctx.services, "settings", None), "approval_ttl_minutes", 10
        )
        ctx.audit.action = f"{manifest.name} {args}"[:200]
        await ctx.approve(
            ApprovalRequest(
                approval_id="",
                tool=manifest.name,
                title=manifest.summary or f"Run {manifest.name}",
                action=first_line(manifest.description),
                requester_id=me,
                subject_id=me,
                approver_id=me,
                expires_at=datetime.now(UTC) + timedelta(minutes=minutes),
                facts=[(str(k), str(v)[:200]) for k, v in args.items()],
            )
        )
        return await impl(args, ctx)

    return run


def _mcp_tool(
    registration: McpRegistration, server: McpServer, info: McpToolInfo
) -> tuple[ToolManifest, ToolImpl]:
    name = _TOOL_NAME.sub("_", f"{server.name}_{info.name}".lower()).strip("_")[:64]
    side_effects = registration.side_effects.get(info.name, info.side_effects)
    schema = (
        info.input_schema
        if info.input_schema.get("type") == "object"
        else {
            "type": "object",
            "properties": {},
        }
    )
    description = (info.description or info.title or info.name).strip()
    if len(description) < 20:
        description = f"{description} (a tool of the {server.name} server)"
    manifest = ToolManifest(
        name=name,
        description=description,
        examples=list(registration.examples.get(info.name, [])),
        summary=info.title or None,
        parameters=schema,
        side_effects=side_effects,
        roles=list(registration.roles),
        kind="mcp",
    )
    impl = build_impl(server, info.name, side_effects=side_effects)
    return manifest, _for_employee(_checked(manifest, impl))


def _checked(manifest: ToolManifest, impl: ToolImpl) -> ToolImpl:
    """Refuse arguments that do not fit the schema before the server sees
    them: a model's wrong argument is not a broken server to escalate."""

    async def run(args: dict[str, Any], ctx: Any) -> ToolResult:
        try:
            check_args(manifest, args)
        except InvalidInput as exc:
            raise InvalidInput(
                str(exc),
                user_message=f"{manifest.name} needs different details: {exc}. "
                "Ask the user for them.",
            ) from None
        return await impl(args, ctx)

    return run


_FENCE = re.compile(r"^BEGIN-DATA-(\w+)\n(.*)\nEND-DATA-\1$", re.DOTALL | re.MULTILINE)


def _for_employee(impl: ToolImpl) -> ToolImpl:
    """The tool's data, unfenced, as the sentence for the employee: the fence
    is for the model; the employee reads the data itself."""

    async def run(args: dict[str, Any], ctx: Any) -> ToolResult:
        result = await impl(args, ctx)
        found = _FENCE.search(result.content)
        artifact = dict(result.artifact or {})
        if USER_MESSAGE_KEY not in artifact:
            if found:
                artifact[USER_MESSAGE_KEY] = found.group(2).strip()
            elif "data" in artifact or "text" in artifact:
                artifact[USER_MESSAGE_KEY] = _plain(
                    artifact.get("data", artifact.get("text"))
                )
        return ToolResult(result.content, artifact)

    return run


def network_policy(settings: Any) -> Any:
    """The hosts HTTP tools may reach, from the settings."""
    from tools.custom.http import NetworkPolicy

    return NetworkPolicy(
        allowed_hosts=list(getattr(settings, "tools_allowed_hosts", []) or []),
        allow_private=list(getattr(settings, "tools_allow_private", []) or []),
    )


def _plain(value: Any) -> str:
    """An HTTP tool's data as lines an employee can read."""
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def first_line(text: str) -> str:
    """A description's first line, for summaries and cards."""
    return text.strip().splitlines()[0] if text.strip() else ""


MCP_SCHEMA_PATH = (
    Path(__file__).resolve().parents[2] / "manifests" / "mcp-server.schema.json"
)


def mcp_registration_schema() -> dict[str, Any]:
    """The JSON Schema of an MCP server registration (published beside the
    tool manifest's), generated from the models."""
    schema = McpRegistration.model_json_schema()
    server = McpServer.model_json_schema()
    defs = {**schema.pop("$defs", {}), **server.pop("$defs", {})}
    server["properties"].pop("name", None)
    server["required"] = [r for r in server.get("required", []) if r != "name"]
    schema["properties"]["mcp"] = server
    if defs:
        schema["$defs"] = defs
    schema["title"] = "MCP server registration"
    return schema


def write_mcp_schema() -> None:
    MCP_SCHEMA_PATH.write_text(
        json.dumps(mcp_registration_schema(), indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":  # python -m tools.custom.loading: regenerate the schema
    write_mcp_schema()
