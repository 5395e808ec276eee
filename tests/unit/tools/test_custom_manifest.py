"""Admin tool manifests: what validates, what is refused, and the published schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tools.custom.manifest import (
    SCHEMA_PATH,
    CustomToolManifest,
    json_schema,
    load_custom_manifest,
    parse_custom_manifest,
    schema_text,
)
from tools.custom.network import NetworkPolicy, NetworkRefused
from tools.errors import ConfigError, InvalidInput

EXAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "examples"
ADVICE = "looks like a secret value; put it in a secret reference"


def _http(**http: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "vpn_status",
        "description": "Look up the requester's VPN session and its gateway.",
        "parameters": {"type": "object", "properties": {"region": {"type": "string"}}},
        "secrets": {"TOKEN": "env:VPN_TOKEN"},
        "http": {"url": "https://vpn.example.com/api/status?region={region}"},
    }
    base["http"].update(http)
    return base


def _problem(data: dict[str, Any]) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_custom_manifest(data, source="vpn_status.yaml")
    return str(caught.value)


def test_the_checked_in_schema_is_the_generated_one() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "run: python -m tools.custom.manifest --write-schema"
    )


@pytest.mark.parametrize("name", ["vpn_status.yaml", "printer_fleet.yaml"])
def test_the_examples_validate_against_models_and_schema(name: str) -> None:
    manifest = load_custom_manifest(EXAMPLES / name)
    data = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))

    jsonschema.validate(data, json_schema())
    assert isinstance(manifest, CustomToolManifest)


def test_the_schema_accepts_identity_none_and_refuses_a_misspelt_field() -> None:
    jsonschema.validate({**_http(), "identity": "none"}, json_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**_http(), "identiy": "none"}, json_schema())


def test_an_openapi_document_path_is_relative_to_the_manifest() -> None:
    manifest = load_custom_manifest(EXAMPLES / "printer_fleet.yaml")

    assert manifest.openapi is not None
    assert Path(manifest.openapi.document) == EXAMPLES / "printer_fleet.openapi.yaml"


def test_a_good_manifest_parses_with_defaults() -> None:
    manifest = parse_custom_manifest(
        _http(headers={"Authorization": "Bearer {{secret.TOKEN}}"}), source="t"
    )

    assert manifest.identity.mode == "none"
    assert manifest.http is not None
    assert manifest.http.method == "GET"
    assert manifest.http.timeout_s == 10


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {
                "headers": {
                    "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
                }
            },
            f"http.headers: Authorization {ADVICE}",
        ),
        ({"headers": {"X-Api-Key": "abc123"}}, f"http.headers: X-Api-Key {ADVICE}"),
        (
            {"headers": {"X-Trace": "9f8e7d6c5b4a39281716a5b4c3d2e1f0aa"}},
            f"http.headers: X-Trace {ADVICE}",
        ),
        (
            {"url": "https://vpn.example.com/api?api_key=abcd1234"},
            f"http.url: the query value of 'api_key' {ADVICE}",
        ),
        (
            {"url": "https://vpn.example.com/api?password=hunter2&region={region}"},
            f"http.url: the query value of 'password' {ADVICE}",
        ),
        (
            {"url": "https://admin:hunter2@vpn.example.com/api"},
            f"http.url: the user:password before the host {ADVICE}",
        ),
        (
            {"method": "POST", "body": {"auth": {"client_secret": "Zx8_q2Lm"}}},
            f"http.body: auth.client_secret {ADVICE}",
        ),
        (
            {"method": "POST", "body": {"note": "password=Summer2024!"}},
            f"http.body: note {ADVICE}",
        ),
    ],
    ids=[
        "bearer-jwt",
        "api-key-header",
        "random-token",
        "api-key-query",
        "password-query",
        "url-credentials",
        "body-secret",
        "password-in-text",
    ],
)
def test_a_pasted_secret_is_refused_naming_the_field(
    change: dict[str, Any], expected: str
) -> None:
    assert expected in _problem(_http(**change))


def test_a_secret_reference_must_be_env_or_keyvault() -> None:
    data = _http()
    data["secrets"] = {"TOKEN": "hunter2-the-actual-token"}

    assert "secrets: TOKEN: must be env:VARNAME or keyvault:SECRET-NAME" in _problem(
        data
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"url": "ftp://files.example.com/x"},
            "http.url: must be https:// or http:// with a host",
        ),
        (
            {"url": "/relative/path"},
            "http.url: must be https:// or http:// with a host",
        ),
        (
            {"url": "https://{region}.example.com/x"},
            "http.url: the host must be written out",
        ),
        (
            {"url": "https://vpn.example.com/{nope}"},
            "http.url: {nope} is not one of parameters",
        ),
        (
            {"headers": {"X-A": "{{secret.OTHER}}"}},
            "http.headers.X-A: {{secret.OTHER}} is not declared",
        ),
        ({"timeout_s": 60}, "http.timeout_s: Input should be less than or equal to 30"),
        (
            {"headers": {"Host": "evil.example"}},
            "http.headers: Host is set by the caller",
        ),
        (
            {"returns": ["items..name"]},
            "http.returns: 'items..name' is not a dotted path",
        ),
        ({"verb": "GET"}, "http.verb: Extra inputs are not permitted"),
    ],
    ids=[
        "scheme",
        "relative",
        "host-placeholder",
        "unknown-param",
        "undeclared-secret",
        "timeout",
        "host-header",
        "bad-path",
        "extra-field",
    ],
)
def test_validation_errors_name_the_field(
    change: dict[str, Any], expected: str
) -> None:
    assert expected in _problem(_http(**change))


def test_exactly_one_way_to_call_is_required() -> None:
    data = _http()
    del data["http"]

    assert "give exactly one of http or openapi" in _problem(data)


def test_an_openapi_tool_takes_its_parameters_from_the_operation() -> None:
    data = _http()
    del data["http"]
    data["openapi"] = {"document": "fleet.yaml", "operation_id": "getPrinter"}

    assert "parameters: leave out for an openapi tool" in _problem(data)


def test_the_identity_parameter_cannot_be_a_model_parameter() -> None:
    data = _http()
    data["identity"] = {"parameter": "region"}

    assert "identity.parameter: 'region' must not be one of parameters" in _problem(
        data
    )


def test_identity_is_none_header_or_parameter_never_both() -> None:
    data = _http()
    data["identity"] = {"header": "X-Upn", "parameter": "upn"}

    assert "identity: give either header or parameter, not both" in _problem(data)
    assert (
        parse_custom_manifest({**_http(), "identity": "none"}, source="t").identity.mode
        == "none"
    )


def test_a_rate_limit_needs_positive_numbers() -> None:
    data = {**_http(), "rate_limit": {"calls": 0, "per_seconds": 60}}

    assert "rate_limit.calls: Input should be greater than or equal to 1" in _problem(
        data
    )


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("vpn.example.com", True),
        ("VPN.Example.com.", True),
        ("a.b.contoso.example", True),
        ("contoso.example", False),
        ("evilcontoso.example", False),
        ("vpn.example.com.evil.test", False),
    ],
)
def test_allowed_hosts_match_exactly_or_by_suffix(host: str, allowed: bool) -> None:
    policy = NetworkPolicy(allowed_hosts=["vpn.example.com", "*.contoso.example"])

    if allowed:
        policy.check_host(host)
    else:
        with pytest.raises(NetworkRefused, match="allowed_hosts"):
            policy.check_host(host)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "100.100.100.200",
        "fd00:ec2::254",
        "fe80::1",
        "fc00::1",
        "::1",
        "::",
        "0.0.0.0",
        "224.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_non_public_addresses_are_refused_by_default(address: str) -> None:
    with pytest.raises(NetworkRefused, match="allow_private"):
        NetworkPolicy(allowed_hosts=["x.example"]).check_address(
            address, host="x.example"
        )


def test_metadata_needs_its_exact_address_in_allow_private() -> None:
    broad = NetworkPolicy(allowed_hosts=["m"], allow_private=["169.254.0.0/16"])
    exact = NetworkPolicy(allowed_hosts=["m"], allow_private=["169.254.169.254"])

    broad.check_address("169.254.1.1", host="m")
    with pytest.raises(NetworkRefused, match="metadata"):
        broad.check_address("169.254.169.254", host="m")
    exact.check_address("169.254.169.254", host="m")


def test_a_bad_policy_setting_names_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"allowed_hosts: 'https://x\.example/'"):
        NetworkPolicy(allowed_hosts=["https://x.example/"])
