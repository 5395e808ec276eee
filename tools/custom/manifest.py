"""The manifest of an admin-registered tool: an HTTP endpoint or an OpenAPI operation.

An admin writes it in YAML; the model reads its name, description, examples
and parameters like a built-in tool's (see :class:`tools.registry.ToolManifest`),
and the rest says how to call the service. Validation is strict because
nobody reviews the tool again before the model uses it: every error names the
field and what to change, and a credential typed into a header, URL or body
is refused (it belongs in ``secrets`` as ``env:NAME`` or ``keyvault:NAME``,
referred to as ``{{secret.NAME}}``).

The JSON Schema that editors and the admin API use is generated from these
models into ``manifests/custom-tool.schema.json``; regenerate it with
``python -m tools.custom.manifest --write-schema``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tools.custom.pasted_secrets import ADVICE, pasted_secret, pasted_secret_in_url
from tools.custom.templates import body_strings, literal_text, placeholders, stray_brace
from tools.errors import InvalidInput

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2] / "manifests" / "custom-tool.schema.json"
)
"""Where the published JSON Schema of this manifest lives."""

MAX_TIMEOUT_S = 30.0
DEFAULT_TIMEOUT_S = 10.0

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_ENV_REF = re.compile(r"^env:[A-Za-z_][A-Za-z0-9_]*$")
_KEYVAULT_REF = re.compile(r"^keyvault:[0-9A-Za-z-]{1,127}$")
_RETURN_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")
_RESERVED_HEADERS = frozenset(
    ["host", "content-length", "transfer-encoding", "connection", "cookie"]
)
"""Headers the caller sets itself, or that must never carry the requester."""


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True
    )


class RateLimit(_Strict):
    """At most ``calls`` calls per requester in any ``per_seconds`` window."""

    calls: int = Field(ge=1, le=10_000)
    per_seconds: int = Field(ge=1, le=86_400)


class Identity(_Strict):
    """How the requester's UPN reaches the service; nothing else may carry it.

    Leave both out (or write ``identity: none``) to send no identity; set
    ``header`` to send the UPN in that header, or ``parameter`` to fill that
    URL or body placeholder with it. The model never sees or sets the value.
    """

    header: str | None = None
    parameter: str | None = None

    @field_validator("header")
    @classmethod
    def _check_header(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _HEADER_NAME.match(value):
            raise ValueError("must be an HTTP header name such as X-Requester-Upn")
        if value.lower() in _RESERVED_HEADERS or value.lower() == "authorization":
            raise ValueError(f"{value} is set by the caller; pick another header")
        return value

    @field_validator("parameter")
    @classmethod
    def _check_parameter(cls, value: str | None) -> str | None:
        if value is not None and not _IDENTIFIER.match(value):
            raise ValueError("must be a placeholder name such as requester_upn")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> Identity:
        if self.header and self.parameter:
            raise ValueError("give either header or parameter, not both")
        return self

    @property
    def mode(self) -> Literal["none", "header", "parameter"]:
        """Which way the identity travels."""
        if self.header:
            return "header"
        if self.parameter:
            return "parameter"
        return "none"


class _CallSpec(_Strict):
    returns: list[str] = Field(default_factory=list)
    """Dotted paths into the JSON response given to the model (``status``,
    ``items.0.name``); empty gives the whole response, cut to size."""
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=MAX_TIMEOUT_S)
    """The whole call, redirects included, must finish within this."""

    @field_validator("returns")
    @classmethod
    def _check_returns(cls, value: list[str]) -> list[str]:
        for path in value:
            if not _RETURN_PATH.match(path):
                raise ValueError(f"{path!r} is not a dotted path such as items.0.name")
        return value


class HttpSpec(_CallSpec):
    """One HTTP request, written as templates with ``{param}`` placeholders."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str
    """``{param}`` placeholders are URL-encoded; the host must be written out."""
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    """A JSON object template: a string that is exactly ``{param}`` takes the
    argument's value (numbers stay numbers; left out when not given)."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        check_url_template(value)
        where = pasted_secret_in_url(value)
        if where is not None:
            raise ValueError(f"{where} {ADVICE}")
        return value

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, str]) -> dict[str, str]:
        return check_header_templates(value)

    @field_validator("body")
    @classmethod
    def _check_body(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for path, text in body_strings(value or {}):
            key = path.rsplit(".", 1)[-1]
            if pasted_secret(text, name=key):
                raise ValueError(f"{path} {ADVICE}")
            if stray_brace(text):
                raise ValueError(f"{path}: a brace that is not a placeholder")
        return value


class OpenApiSpec(_CallSpec):
    """One operation of an OpenAPI 3 document; its parameters become the tool's."""

    document: str
    """A file path (relative to the manifest) or http(s) URL of the document."""
    operation_id: str = Field(min_length=1)
    server: str | None = None
    """Base URL that replaces the document's ``servers``."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra headers, such as ``Authorization: Bearer {{secret.TOKEN}}``."""

    @field_validator("server")
    @classmethod
    def _check_server(cls, value: str | None) -> str | None:
        if value is not None:
            check_url_template(value)
            if placeholders(value) != (set(), set()):
                raise ValueError("must be a plain base URL, without placeholders")
            where = pasted_secret_in_url(value)
            if where is not None:
                raise ValueError(f"{where} {ADVICE}")
        return value

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, str]) -> dict[str, str]:
        return check_header_templates(value)


class CustomToolManifest(_Strict):
    """An admin-registered tool: the fields every tool has, and how to call it."""

    name: str
    description: str = Field(min_length=20)
    """Written for the model: what the tool does, when to call it, what it returns."""
    examples: list[str] = Field(default_factory=list)
    summary: str | None = Field(default=None, max_length=120)
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    """JSON Schema of the arguments; leave out for an openapi tool."""
    side_effects: bool = False
    roles: list[str] = Field(default_factory=list)
    enabled: bool = True
    rate_limit: RateLimit | None = None
    """Calls allowed per requester; none means no limit."""
    identity: Identity = Field(default_factory=Identity)
    """How the requester's UPN reaches the service: ``none``, a header or a
    parameter."""
    secrets: dict[str, str] = Field(default_factory=dict)
    """NAME -> ``env:VARNAME`` or ``keyvault:SECRET-NAME``."""
    http: HttpSpec | None = None
    openapi: OpenApiSpec | None = None

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
        for name in value.get("properties", {}):
            if not _IDENTIFIER.match(str(name)):
                raise ValueError(f"property {name!r} must be a plain identifier")
        return value

    @field_validator("identity", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value in (None, "none") else value

    @field_validator("secrets")
    @classmethod
    def _check_secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for name, ref in value.items():
            if not _IDENTIFIER.match(name):
                raise ValueError(f"{name!r} must be a name such as VPN_TOKEN")
            if not (_ENV_REF.match(ref) or _KEYVAULT_REF.match(ref)):
                raise ValueError(
                    f"{name}: must be env:VARNAME or keyvault:SECRET-NAME, "
                    "never the secret itself"
                )
        return value

    @model_validator(mode="after")
    def _check_call(self) -> CustomToolManifest:
        if (self.http is None) == (self.openapi is None):
            raise ValueError("give exactly one of http or openapi")
        if self.openapi is not None and "parameters" in self.model_fields_set:
            raise ValueError(
                "parameters: leave out for an openapi tool; they come from "
                "the operation"
            )
        properties = set(self.parameters.get("properties", {}))
        if self.identity.parameter and self.identity.parameter in properties:
            raise ValueError(
                f"identity.parameter: {self.identity.parameter!r} must not be one of "
                "parameters, so that the model cannot set it"
            )
        spec = self.http or self.openapi
        assert spec is not None
        if self.identity.header and self.identity.header.lower() in {
            h.lower() for h in spec.headers
        }:
            raise ValueError(
                f"identity.header: {self.identity.header} is also in headers; "
                "remove it there, the caller sets it"
            )
        self._check_references(properties)
        return self

    def _check_references(self, properties: set[str]) -> None:
        """Every placeholder names a parameter, and every secret is declared."""
        allowed = set(properties)
        if self.identity.parameter:
            allowed.add(self.identity.parameter)
        for field, template in self._templates():
            params, secrets = placeholders(template)
            unknown_secrets = secrets - set(self.secrets)
            if unknown_secrets:
                raise ValueError(
                    f"{field}: {{{{secret.{sorted(unknown_secrets)[0]}}}}} is not "
                    "declared under secrets"
                )
            if self.http is not None and params - allowed:
                raise ValueError(
                    f"{field}: {{{sorted(params - allowed)[0]}}} is not one of "
                    f"parameters ({', '.join(sorted(allowed)) or 'none declared'})"
                )

    def _templates(self) -> list[tuple[str, str]]:
        if self.http is not None:
            found = [("http.url", self.http.url)]
            found += [(f"http.headers.{k}", v) for k, v in self.http.headers.items()]
            found += [
                (f"http.body.{path}", text)
                for path, text in body_strings(self.http.body or {})
            ]
            return found
        assert self.openapi is not None
        return [(f"openapi.headers.{k}", v) for k, v in self.openapi.headers.items()]


def check_url_template(template: str) -> None:
    """Refuse a URL template that is not absolute http(s) with a written host.

    Raises:
        ValueError: the message says what is wrong.
    """
    literal = literal_text(template, "x")
    try:
        parts = urlsplit(template)
        literal_parts = urlsplit(literal)
    except ValueError as exc:
        raise ValueError(f"is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not literal_parts.hostname:
        raise ValueError("must be https:// or http:// with a host")
    if placeholders(parts.netloc) != (set(), set()):
        raise ValueError(
            "the host must be written out; a {placeholder} may not choose it"
        )
    if any(ch.isspace() for ch in literal.strip()) or stray_brace(template):
        raise ValueError("has a space or a brace that is not a placeholder")


def check_header_templates(headers: dict[str, str]) -> dict[str, str]:
    """Refuse bad header names, line breaks and credentials written out.

    Raises:
        ValueError: the message names the header.
    """
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not an HTTP header name")
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"{name} is set by the caller; leave it out")
        if "\r" in value or "\n" in value:
            raise ValueError(f"{name}: a header value cannot hold a line break")
        if pasted_secret(value, name=name):
            raise ValueError(f"{name} {ADVICE}")
        if stray_brace(value):
            raise ValueError(f"{name}: a brace that is not a placeholder")
    return headers


def parse_custom_manifest(data: Any, *, source: str) -> CustomToolManifest:
    """Validate a manifest already read into Python data.

    Args:
        data: the mapping from YAML or JSON.
        source: what to call it in errors (a file name, ``admin API``).

    Raises:
        InvalidInput: the message names ``source`` and each wrong field.
    """
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{source}: a tool manifest must be a mapping")
    try:
        return CustomToolManifest.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"{source}: {describe_errors(exc)}") from None


def parse_custom_manifest_yaml(text: str, *, source: str) -> CustomToolManifest:
    """Validate a manifest from its YAML text (see :func:`parse_custom_manifest`)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: cannot read YAML: {exc}") from None
    return parse_custom_manifest(data, source=source)


def load_custom_manifest(path: Path) -> CustomToolManifest:
    """Read and validate one manifest file.

    An openapi ``document`` given as a relative path is made relative to the
    manifest's folder.

    Raises:
        InvalidInput: unreadable, or a field is wrong; names the file and field.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path.name}: cannot read: {exc.strerror}") from None
    manifest = parse_custom_manifest_yaml(text, source=path.name)
    spec = manifest.openapi
    if spec is not None and "://" not in spec.document:
        document = Path(spec.document)
        if not document.is_absolute():
            document = path.parent / document
        spec = spec.model_copy(update={"document": str(document)})
        manifest = manifest.model_copy(update={"openapi": spec})
    return manifest


def describe_errors(exc: ValidationError) -> str:
    """One line per problem: ``field.path: what is wrong``."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of :class:`CustomToolManifest`."""
    schema = CustomToolManifest.model_json_schema()
    identity = schema["properties"]["identity"]
    schema["properties"]["identity"] = {
        "anyOf": [{"const": "none"}, {"$ref": "#/$defs/Identity"}],
        "description": identity.get("description", ""),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Admin tool manifest",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text() -> str:
    """The schema file's exact content."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.custom.manifest --write-schema`` regenerates the file."""
    parser = argparse.ArgumentParser(prog="python -m tools.custom.manifest")
    parser.add_argument("--write-schema", action="store_true")
    options = parser.parse_args(argv)
    if not options.write_schema:
        parser.print_usage(sys.stderr)
        return 2
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
