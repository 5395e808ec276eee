"""``helpdesk teams``: build the app package an admin uploads to Teams."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.teams_package import LOCAL_BOT_ID, build_package
from tools.settings import Settings

DEFAULT_OUT = Path("dist") / "helpdesk-teams-app.zip"


def register(subparsers: Any) -> None:
    """Add ``teams package`` to the ``helpdesk`` command."""
    teams = subparsers.add_parser("teams", help="Teams app package")
    commands = teams.add_subparsers(dest="teams_command", required=True)

    package = commands.add_parser(
        "package",
        help="write the Teams app zip (manifest and icons)",
        description=(
            "Fill the Teams manifest from the settings (MICROSOFT_APP_ID, "
            "HELPDESK_TEAMS_APP_ID, HELPDESK_BOT_NAME, HELPDESK_COMPANY_NAME and "
            "the HELPDESK_*_URL settings) and zip it with the icons."
        ),
    )
    package.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="FILE",
        help=f"where to write the zip (default: {DEFAULT_OUT})",
    )
    package.set_defaults(func=_package)


def _package(args: argparse.Namespace, settings: Settings) -> int:
    path = build_package(settings, args.out)
    print(f"Teams app package: {path}")
    if settings.local_mode:
        print(
            f"note: MICROSOFT_APP_ID is not set, so the bot id is {LOCAL_BOT_ID}; "
            "set it to your Azure Bot's app id before uploading to Teams"
        )
    else:
        print("upload it in Teams: Apps > Manage your apps > Upload an app")
    return 0
