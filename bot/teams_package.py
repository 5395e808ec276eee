"""The Teams app package: the manifest template filled from settings, zipped with icons.

Teams installs a bot from a zip that holds ``manifest.json`` and the two icons at
its root. The template lives in ``manifests/teams/``; its ``{{NAME}}`` placeholders
are filled from the settings, so one tree serves every tenant.
"""

from __future__ import annotations

import json
import logging
import re
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tools.errors import ConfigError
from tools.settings import Settings

logger = logging.getLogger(__name__)

LOCAL_BOT_ID = "00000000-0000-0000-0000-000000000000"
"""Stands in for the bot id in local mode; Teams will not accept it."""

ICON_FILES = ("color.png", "outline.png")

_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
# Teams' own limits on these fields (manifest schema maxLength).
_LIMITS = {"bot_name": 30, "company_name": 32}
# A fixed timestamp keeps the zip byte-identical for the same inputs.
_ZIP_DATE = (2025, 1, 1, 0, 0, 0)


def template_dir(settings: Settings) -> Path:
    """The folder with the manifest template and the icons.

    Raises:
        ConfigError: ``HELPDESK_MANIFESTS_DIR`` has no ``teams/manifest.json``.
    """
    folder = settings.manifests_dir / "teams"
    if not (folder / "manifest.json").is_file():
        raise ConfigError(
            f"HELPDESK_MANIFESTS_DIR: {folder} holds no manifest.json; set it to "
            "the folder that holds tools/ and teams/ (the project's manifests "
            "folder), or unset it"
        )
    return folder


def build_manifest(settings: Settings) -> dict[str, Any]:
    """Fill the manifest template from the settings.

    Args:
        settings: the bot id comes from ``MICROSOFT_APP_ID``; the app id, names
            and URLs from the ``HELPDESK_*`` Teams settings.

    Returns:
        The manifest as a JSON-ready dict.

    Raises:
        ConfigError: a value does not fit the manifest (not a GUID, too long).
    """
    values = _values(settings)
    template = json.loads((template_dir(settings) / "manifest.json").read_text("utf-8"))
    return _fill(template, values)


def build_package(settings: Settings, out_path: Path) -> Path:
    """Write the Teams app package (a zip) that an admin uploads to Teams.

    Args:
        settings: see :func:`build_manifest`.
        out_path: the zip to write; its folder is created when missing.

    Returns:
        ``out_path``.

    Raises:
        ConfigError: a setting does not fit the manifest, or an icon is missing.
    """
    manifest = build_manifest(settings)
    icons = {name: template_dir(settings) / name for name in ICON_FILES}
    missing = [str(path) for path in icons.values() if not path.is_file()]
    if missing:
        raise ConfigError("Teams icons missing: " + ", ".join(missing))

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        body = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
        zf.writestr(_entry("manifest.json"), body)
        for name, path in icons.items():
            zf.writestr(_entry(name), path.read_bytes())

    bot_id = manifest["bots"][0]["botId"]
    logger.info("wrote Teams app package %s (bot id %s)", out_path, bot_id)
    return out_path


def _values(settings: Settings) -> dict[str, str]:
    for field, limit in _LIMITS.items():
        value = getattr(settings, field)
        if len(value) > limit:
            raise ConfigError(
                f"HELPDESK_{field.upper()}: {value!r} is longer than the "
                f"{limit} characters Teams allows"
            )
    if not _GUID.match(settings.teams_app_id):
        raise ConfigError(
            "HELPDESK_TEAMS_APP_ID: must be a GUID such as "
            "5b1f7a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b (generate one with uuidgen)"
        )
    for field in ("website_url", "privacy_url", "terms_url"):
        if not getattr(settings, field).lower().startswith("https://"):
            raise ConfigError(f"HELPDESK_{field.upper()}: Teams needs an https:// URL")

    return {
        "VERSION": _app_version(),
        "TEAMS_APP_ID": settings.teams_app_id,
        "BOT_ID": _bot_id(settings),
        "BOT_NAME": settings.bot_name,
        "COMPANY_NAME": settings.company_name,
        "WEBSITE_URL": settings.website_url,
        "PRIVACY_URL": settings.privacy_url,
        "TERMS_URL": settings.terms_url,
        "WEBSITE_DOMAIN": urlsplit(settings.website_url).hostname or "",
    }


def _bot_id(settings: Settings) -> str:
    if settings.app_id is None:
        logger.warning(
            "MICROSOFT_APP_ID is not set: the package carries the placeholder bot "
            "id %s and Teams will reject it; set the Azure Bot's app id",
            LOCAL_BOT_ID,
        )
        return LOCAL_BOT_ID
    if not _GUID.match(settings.app_id):
        raise ConfigError("MICROSOFT_APP_ID: must be the Azure Bot's app id (a GUID)")
    return settings.app_id


def _app_version() -> str:
    try:
        return metadata.version("helpdesk-copilot")
    except metadata.PackageNotFoundError as exc:
        raise ConfigError(
            "the helpdesk-copilot distribution is not installed; run `make serve` "
            "or `pip install -e .` so the manifest can carry its version"
        ) from exc


def _fill(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, str):
        return _PLACEHOLDER.sub(lambda m: _lookup(m.group(1), values), node)
    return node


def _lookup(name: str, values: dict[str, str]) -> str:
    if name not in values:
        raise ConfigError(f"Teams manifest template has an unknown placeholder {name}")
    return values[name]


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info
