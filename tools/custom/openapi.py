"""One OpenAPI 3 operation as an admin tool: its parameters for the model, its request for the caller.

The document is a local file or an http(s) URL fetched through the same
guarded caller as every tool call (:func:`tools.custom.http.fetch_text`). The
operation named by ``operation_id`` gives the tool's JSON Schema (its path,
query and header parameters, and the properties of a JSON object body) and an
:class:`~tools.custom.manifest.HttpSpec`, so the call runs through
:func:`~tools.custom.http.call_http` like any HTTP tool.

Warning:
    Only local references (``#/components/...``) are followed; a request body
    must be a JSON object; cookie parameters are not sent (a required one is
    refused). Security schemes are not read: the manifest's ``headers`` carry
    the credential as ``{{secret.NAME}}``.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import yaml
from pydantic import ValidationError

from tools.custom.http import fetch_text
from tools.custom.manifest import HttpSpec, OpenApiSpec, describe_errors
from tools.custom.network import NetworkPolicy, Resolver
from tools.errors import InvalidInput

_METHODS = ("get", "put", "post", "delete", "patch")
_MAX_DEPTH = 32
_NOT_JSON_SCHEMA = frozenset(
    ["nullable", "xml", "externalDocs", "example", "discriminator", "deprecated"]
)


@dataclass(frozen=True, slots=True)
class OpenApiTool:
    """What an operation becomes: the model's schema and the request to make.

    Attributes:
        parameters: JSON Schema of the arguments the model fills (the
            identity parameter left out).
        http: the request, with ``{name}`` placeholders for those arguments.
    """

    parameters: dict[str, Any]
    http: HttpSpec


def load_document_file(path: str | Path) -> dict[str, Any]:
    """Read an OpenAPI document (JSON or YAML) from a file.

    Raises:
        InvalidInput: unreadable, not a mapping, or not OpenAPI 3.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"openapi.document: cannot read {Path(path).name}: {exc.strerror}"
        ) from None
    return parse_document(text, source=Path(path).name)


async def aload_document(
    spec: OpenApiSpec,
    *,
    policy: NetworkPolicy,
    resolver: Resolver | None = None,
) -> dict[str, Any]:
    """The manifest's document: read from its file, or fetched under ``policy``.

    Raises:
        InvalidInput: the document is unreadable or not OpenAPI 3.
        NetworkRefused, CustomToolFailed: fetching it was refused or failed.
    """
    if not _is_url(spec.document):
        return load_document_file(spec.document)
    text = await fetch_text(
        spec.document,
        policy=policy,
        timeout_s=spec.timeout_s,
        what="OpenAPI document",
        resolver=resolver,
    )
    return parse_document(text, source=spec.document)


def parse_document(text: str, *, source: str) -> dict[str, Any]:
    """Parse a document's text (YAML is a superset of JSON).

    Raises:
        InvalidInput: names ``source`` and what is wrong.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(
            f"openapi.document: {source} is not JSON or YAML: {exc}"
        ) from None
    if not isinstance(document, dict) or not str(
        document.get("openapi", "")
    ).startswith("3."):
        raise InvalidInput(
            f"openapi.document: {source} is not an OpenAPI 3 document (no openapi: 3.x)"
        )
    return document


def operation_ids(document: dict[str, Any]) -> list[str]:
    """Every operationId in the document, in order."""
    found = []
    for item in (document.get("paths") or {}).values():
        for method in _METHODS:
            operation = (item or {}).get(method) if isinstance(item, dict) else None
            if isinstance(operation, dict) and operation.get("operationId"):
                found.append(str(operation["operationId"]))
    return found


def derive(
    document: dict[str, Any],
    spec: OpenApiSpec,
    *,
    identity_parameter: str | None = None,
    document_url: str | None = None,
) -> OpenApiTool:
    """Turn the named operation into a tool's parameters and HTTP request.

    Args:
        document: the parsed OpenAPI document.
        spec: the manifest's ``openapi`` section.
        identity_parameter: the manifest's ``identity.parameter``; that
            operation parameter is filled with the requester's UPN, so the
            model does not see it.
        document_url: where the document came from, to resolve a relative
            server URL.

    Raises:
        InvalidInput: the operation is missing (the message lists the ids
            that exist), or it uses something this module cannot call; the
            message names the field.
    """
    path, method, operation, path_item = _find(document, spec.operation_id)
    base = _server(document, spec, operation, path_item, document_url)
    properties: dict[str, Any] = {}
    required: list[str] = []
    query: list[str] = []
    headers = dict(spec.headers)
    template_path = path

    for parameter in _parameters(document, path_item, operation):
        name, where = str(parameter.get("name", "")), parameter.get("in")
        slot = _slot(name)
        if where == "cookie":
            if parameter.get("required"):
                raise InvalidInput(
                    f"openapi.operation_id: {spec.operation_id} needs the cookie "
                    f"{name!r}, which admin tools do not send"
                )
            continue
        if where == "path":
            template_path = template_path.replace(f"{{{name}}}", f"{{{slot}}}")
        elif where == "query":
            query.append(f"{quote(name, safe='')}={{{slot}}}")
        elif where == "header":
            headers.setdefault(name, f"{{{slot}}}")
        _add(properties, slot, _schema_of(document, parameter), spec.operation_id)
        if parameter.get("required") or where == "path":
            required.append(slot)

    body = _body(document, operation, spec.operation_id, properties, required)
    url = base.rstrip("/") + template_path + ("?" + "&".join(query) if query else "")
    model_properties, model_required = _without(
        properties, required, identity_parameter, spec.operation_id
    )
    try:
        http = HttpSpec(
            method=method.upper(),  # type: ignore[arg-type]
            url=url,
            headers=headers,
            body=body,
            returns=spec.returns,
            timeout_s=spec.timeout_s,
        )
    except ValidationError as exc:
        raise InvalidInput(
            f"openapi ({spec.operation_id}): {describe_errors(exc)}"
        ) from None
    schema: dict[str, Any] = {"type": "object", "properties": model_properties}
    if model_required:
        schema["required"] = model_required
    return OpenApiTool(parameters=schema, http=http)


def _find(
    document: dict[str, Any], operation_id: str
) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        item = _deref(document, item)
        for method in _METHODS:
            operation = item.get(method)
            if (
                isinstance(operation, dict)
                and operation.get("operationId") == operation_id
            ):
                return str(path), method, operation, item
    known = ", ".join(operation_ids(document)) or "none"
    raise InvalidInput(
        f"openapi.operation_id: {operation_id!r} is not in the document; "
        f"its operationIds are: {known}"
    )


def _server(
    document: dict[str, Any],
    spec: OpenApiSpec,
    operation: dict[str, Any],
    path_item: dict[str, Any],
    document_url: str | None,
) -> str:
    if spec.server:
        return spec.server
    servers = (
        operation.get("servers") or path_item.get("servers") or document.get("servers")
    )
    if not servers or not isinstance(servers[0], dict) or "url" not in servers[0]:
        raise InvalidInput(
            "openapi.server: the document names no server; set openapi.server "
            "to the service's base URL"
        )
    url = str(servers[0]["url"])
    for name, variable in (servers[0].get("variables") or {}).items():
        url = url.replace(f"{{{name}}}", str((variable or {}).get("default", "")))
    if urlsplit(url).scheme in ("http", "https"):
        return url
    if document_url is not None:
        return urljoin(document_url, url)
    raise InvalidInput(
        f"openapi.server: the document's server {url!r} is relative; set "
        "openapi.server to the service's base URL"
    )


def _parameters(
    document: dict[str, Any], path_item: dict[str, Any], operation: dict[str, Any]
) -> list[dict[str, Any]]:
    """Path-level parameters, overridden by the operation's own (by name and in)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [
        *(path_item.get("parameters") or []),
        *(operation.get("parameters") or []),
    ]:
        parameter = _deref(document, raw)
        merged[(str(parameter.get("name")), str(parameter.get("in")))] = parameter
    return list(merged.values())


def _body(
    document: dict[str, Any],
    operation: dict[str, Any],
    operation_id: str,
    properties: dict[str, Any],
    required: list[str],
) -> dict[str, Any] | None:
    raw = operation.get("requestBody")
    if raw is None:
        return None
    request_body = _deref(document, raw)
    content = request_body.get("content") or {}
    media = next((m for m in content if "json" in m.lower()), None)
    if media is None:
        raise InvalidInput(
            f"openapi.operation_id: {operation_id} takes a "
            f"{', '.join(content) or 'non-JSON'} body; admin tools send JSON only"
        )
    schema = _resolved(document, (content[media] or {}).get("schema") or {}, 0, set())
    if schema.get("type", "object") != "object" or "properties" not in schema:
        # TODO(why): arrays and free-form bodies need a single `body` argument
        # and a non-object body template; add when an admin needs one.
        raise InvalidInput(
            f"openapi.operation_id: {operation_id}'s request body is not a JSON "
            "object with properties, which admin tools cannot fill yet"
        )
    template: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        slot = _slot(name)
        if slot in properties:
            slot = _slot(f"body_{name}")
        template[name] = f"{{{slot}}}"
        _add(properties, slot, _clean(prop), operation_id)
        if name in (schema.get("required") or []) and request_body.get(
            "required", True
        ):
            required.append(slot)
    return template


def _without(
    properties: dict[str, Any],
    required: list[str],
    identity_parameter: str | None,
    operation_id: str,
) -> tuple[dict[str, Any], list[str]]:
    if identity_parameter is None:
        return properties, required
    if identity_parameter not in properties:
        raise InvalidInput(
            f"identity.parameter: {identity_parameter!r} is not a parameter of "
            f"{operation_id}; it has: {', '.join(properties) or 'none'}"
        )
    return (
        {k: v for k, v in properties.items() if k != identity_parameter},
        [r for r in required if r != identity_parameter],
    )


def _add(
    properties: dict[str, Any], slot: str, schema: dict[str, Any], op: str
) -> None:
    if slot in properties:
        raise InvalidInput(
            f"openapi.operation_id: {op} has two parameters that both become {slot!r}"
        )
    properties[slot] = schema


def _schema_of(document: dict[str, Any], parameter: dict[str, Any]) -> dict[str, Any]:
    schema = _clean(_resolved(document, parameter.get("schema") or {}, 0, set()))
    if parameter.get("description") and "description" not in schema:
        schema["description"] = str(parameter["description"])
    return schema or {"type": "string"}


def _slot(name: str) -> str:
    """A parameter's name as a placeholder: letters, digits and underscores."""
    slot = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "param"
    return f"p_{slot}" if slot[0].isdigit() else slot


def _clean(schema: Any) -> Any:
    """An OpenAPI schema as plain JSON Schema (OpenAPI-only keywords dropped)."""
    if isinstance(schema, dict):
        return {k: _clean(v) for k, v in schema.items() if k not in _NOT_JSON_SCHEMA}
    if isinstance(schema, list):
        return [_clean(v) for v in schema]
    return schema


def _resolved(document: dict[str, Any], node: Any, depth: int, seen: set[str]) -> Any:
    """``node`` with every local ``$ref`` inlined; a cycle becomes an open object."""
    if depth > _MAX_DEPTH:
        return {"type": "object"}
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in seen:
                return {"type": "object"}
            return _resolved(document, _pointer(document, ref), depth + 1, seen | {ref})
        return {k: _resolved(document, v, depth + 1, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolved(document, v, depth + 1, seen) for v in node]
    return node


def _deref(document: dict[str, Any], node: Any) -> dict[str, Any]:
    """One object, following ``$ref`` links (not into its children)."""
    for _ in range(_MAX_DEPTH):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            break
        node = _pointer(document, node["$ref"])
    return copy.deepcopy(node) if isinstance(node, dict) else {}


def _pointer(document: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise InvalidInput(
            f"openapi.document: the reference {ref!r} points outside the document; "
            "only #/components/... references are followed"
        )
    node: Any = document
    for raw in ref[2:].split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            raise InvalidInput(f"openapi.document: the reference {ref!r} leads nowhere")
        node = node[key]
    return node


def _is_url(document: str) -> bool:
    return urlsplit(document).scheme in ("http", "https")


def describe(tool: OpenApiTool) -> str:
    """A short JSON view of a derived tool, for the admin CLI."""
    return json.dumps(
        {"parameters": tool.parameters, "http": tool.http.model_dump()}, indent=2
    )
