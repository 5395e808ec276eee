"""The Teams app package: a schema-valid manifest and the icons Teams asks for."""

from __future__ import annotations

import argparse
import json
import logging
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema import validators

from bot.cli import teams as teams_cli
from bot.teams_package import LOCAL_BOT_ID, build_manifest, build_package
from tools.errors import ConfigError
from tools.settings import load_settings

BOT_ID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def teams_schema(shared_dir: Path) -> dict[str, Any]:
    path = shared_dir / "schemas" / "teams" / "MicrosoftTeams.schema.json"
    return json.loads(path.read_text("utf-8"))


def _validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    # The schema says draft-04 but uses draft-06's `const` (for manifestVersion);
    # a strict draft-04 validator would skip it. Its only $refs are local, so
    # nothing is fetched.
    base = validators.validator_for(schema)
    checked = validators.extend(
        base, {"const": jsonschema.Draft6Validator.VALIDATORS["const"]}
    )
    return checked(schema, format_checker=base.FORMAT_CHECKER)


def _png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGBA rows of an 8-bit RGBA PNG (enough for our icons)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color_type = struct.unpack(">IIBB", header[:10])
    assert (depth, color_type) == (8, 6), "icons are 8-bit RGBA"

    raw, stride, rows, prev = zlib.decompress(idat), width * 4, [], bytes(width * 4)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 4] if i >= 4 else 0
            b, c = prev[i], prev[i - 4] if i >= 4 else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = bytes(line)
    return width, height, rows


def _pixels(rows: list[bytes]) -> list[tuple[int, ...]]:
    return [tuple(row[i : i + 4]) for row in rows for i in range(0, len(row), 4)]


@pytest.fixture
def package(tmp_path: Path) -> zipfile.ZipFile:
    path = build_package(load_settings(), tmp_path / "out" / "app.zip")
    return zipfile.ZipFile(path)


def test_manifest_validates_against_the_teams_schema(
    teams_schema: dict[str, Any],
) -> None:
    manifest = build_manifest(load_settings())

    _validator(teams_schema).validate(manifest)
    assert (
        manifest["manifestVersion"]
        == (teams_schema["properties"]["manifestVersion"]["const"])
    )


def test_manifest_offers_the_bot_in_every_chat_scope() -> None:
    (bot,) = build_manifest(load_settings())["bots"]

    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    assert bot["supportsFiles"] is True  # screenshots and files for tickets
    titles = {c["title"] for lst in bot["commandLists"] for c in lst["commands"]}
    assert {"reset my password", "my tickets", "talk to a person", "help"} <= titles
    assert all(
        c.get("description") for lst in bot["commandLists"] for c in lst["commands"]
    )


def test_package_holds_exactly_the_manifest_and_icons_at_its_root(
    package: zipfile.ZipFile,
) -> None:
    assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
    manifest = json.loads(package.read("manifest.json"))
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert "{{" not in package.read("manifest.json").decode()


@pytest.mark.parametrize(
    ("name", "size"),
    [
        pytest.param("color.png", 192, id="color"),
        pytest.param("outline.png", 32, id="outline"),
    ],
)
def test_icons_have_the_pixel_sizes_teams_requires(
    package: zipfile.ZipFile, name: str, size: int
) -> None:
    width, height, _ = _png(package.read(name))

    assert (width, height) == (size, size)


def test_outline_icon_is_white_on_transparent(package: zipfile.ZipFile) -> None:
    pixels = _pixels(_png(package.read("outline.png"))[2])

    visible = [p for p in pixels if p[3] > 0]
    assert visible, "the outline icon is empty"
    assert any(p[3] == 0 for p in pixels), "the outline icon has no transparency"
    assert all(p[:3] == (255, 255, 255) for p in visible)


def test_bot_id_comes_from_microsoft_app_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROSOFT_APP_ID", BOT_ID)
    monkeypatch.setenv("MICROSOFT_APP_PASSWORD", "s3cret")
    monkeypatch.setenv("HELPDESK_TEAMS_APP_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
    monkeypatch.setenv("HELPDESK_BOT_NAME", "IT Buddy")
    monkeypatch.setenv("HELPDESK_COMPANY_NAME", "Fabrikam")

    manifest = build_manifest(load_settings())

    assert manifest["bots"][0]["botId"] == BOT_ID
    assert manifest["id"] == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    assert manifest["name"]["short"] == "IT Buddy"
    assert manifest["developer"]["name"] == "Fabrikam"
    assert "s3cret" not in json.dumps(manifest)


def test_local_mode_uses_a_placeholder_bot_id_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.teams_package"):
        manifest = build_manifest(load_settings())

    assert manifest["bots"][0]["botId"] == LOCAL_BOT_ID
    assert "MICROSOFT_APP_ID" in caplog.text


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("HELPDESK_BOT_NAME", "x" * 31, id="name-too-long"),
        pytest.param("HELPDESK_TEAMS_APP_ID", "not-a-guid", id="app-id-not-guid"),
        pytest.param("HELPDESK_PRIVACY_URL", "http://example.com", id="plain-http"),
    ],
)
def test_a_value_teams_would_reject_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError, match=variable):
        build_manifest(load_settings())


def test_cli_writes_the_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    teams_cli.register(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "teams.zip"
    args = parser.parse_args(["teams", "package", "--out", str(out)])

    assert args.func(args, load_settings()) == 0
    assert zipfile.is_zipfile(out)
    assert str(out) in capsys.readouterr().out
