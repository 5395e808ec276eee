"""``helpdesk directory``: seed and list the embedded local directory."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from tools.db import create_engine, upgrade
from tools.directory.base import DirectoryUser
from tools.directory.local import LocalDirectory, SeedReport, load_seed
from tools.errors import InvalidInput
from tools.settings import Settings

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``directory seed`` and ``directory list``."""
    parser = subparsers.add_parser(
        "directory", help="seed and list the local directory (people, roles)"
    )
    commands = parser.add_subparsers(dest="directory_command", required=True)
    seed = commands.add_parser(
        "seed",
        help="add the people and groups of a YAML file (existing ones are kept)",
    )
    seed.add_argument("file", type=Path, help="e.g. manifests/directory.yaml")
    seed.set_defaults(func=_seed)
    listing = commands.add_parser("list", help="print everyone in the local directory")
    listing.set_defaults(func=_list)


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    try:
        seed = load_seed(args.file)
    except InvalidInput as exc:
        print(f"helpdesk directory seed: {exc}", file=sys.stderr)
        return 2

    async def run(directory: LocalDirectory) -> SeedReport:
        return await directory.aseed(seed)

    report = asyncio.run(_with_directory(settings, run))
    print(f"Seeded {args.file}: {report.summary()}")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def run(directory: LocalDirectory) -> list[DirectoryUser]:
        return await directory.alist_users()

    users = asyncio.run(_with_directory(settings, run))
    if not users:
        print("The local directory is empty.")
        return 0
    rows = [("OBJECT ID", "NAME", "UPN", "ROLES", "ENABLED")]
    for user in users:
        roles = sorted(user.roles) + (["privileged"] if user.privileged else [])
        rows.append(
            (
                user.object_id,
                user.display_name,
                user.upn,
                ",".join(roles) or "-",
                "yes" if user.account_enabled else "no",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )
    return 0


async def _with_directory(
    settings: Settings, run: Callable[[LocalDirectory], Awaitable[T]]
) -> T:
    settings.prepare_data_dir()
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        return await run(LocalDirectory(engine))
    finally:
        await engine.dispose()
