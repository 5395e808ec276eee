"""``helpdesk db``: manage the app database schema."""

from __future__ import annotations

import argparse
import asyncio

from tools.db import create_engine, upgrade
from tools.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``helpdesk db upgrade``."""
    parser = subparsers.add_parser("db", help="manage the app database")
    commands = parser.add_subparsers(dest="db_command", required=True)
    up = commands.add_parser("upgrade", help="apply the schema migrations")
    up.add_argument("--revision", default="head", help="target revision (head)")
    up.set_defaults(func=_upgrade)


def _upgrade(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> None:
        settings.prepare_data_dir()
        engine = create_engine(settings)
        try:
            await upgrade(engine, args.revision)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print(f"app database upgraded to {args.revision}")
    return 0
