"""A broken asset catalogue stops start-up with a line an admin can act on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.errors import ConfigError
from tools.services import load_asset_catalog
from tools.settings import load_settings


def _manifests(tmp_path: Path) -> Path:
    folder = tmp_path / "manifests"
    shutil.copytree(load_settings().manifests_dir, folder)
    return folder


def test_the_shipped_catalogue_is_loaded_at_start_up() -> None:
    catalog = load_asset_catalog(load_settings())
    assert catalog is not None and catalog.get("visio") is not None


def test_an_invalid_catalogue_stops_start_up_naming_the_item_and_field(
    tmp_path: Path,
) -> None:
    folder = _manifests(tmp_path)
    path = folder / "catalog.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("    approval: manager\n", "    approval: boss\n", 1),
        encoding="utf-8",
    )

    with pytest.raises(ConfigError) as raised:
        load_asset_catalog(load_settings(manifests_dir=folder))

    message = str(raised.value)
    assert "item 'visio' (software #1)" in message
    assert "approval" in message


def test_without_a_catalogue_asset_requests_are_off(tmp_path: Path) -> None:
    folder = _manifests(tmp_path)
    (folder / "catalog.yaml").unlink()
    assert load_asset_catalog(load_settings(manifests_dir=folder)) is None
