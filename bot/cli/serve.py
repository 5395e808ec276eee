"""``helpdesk serve``: run the bot's web app for Teams or the Agents Playground."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from bot.app import create_app
from tools.settings import Settings

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``helpdesk serve``."""
    parser = subparsers.add_parser("serve", help="run the bot (POST /api/messages)")
    parser.add_argument("--port", type=int, default=3978, help="default: 3978")
    parser.add_argument(
        "--host",
        default=None,
        help="interface to listen on; default: 127.0.0.1 in local mode "
        "(no MICROSOFT_APP_ID), else 0.0.0.0",
    )
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or ("127.0.0.1" if settings.local_mode else "0.0.0.0")
    if settings.local_mode and host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning(
            "local mode listens on %s, but accepts unsigned calls from loopback only",
            host,
        )
    print(
        f"{settings.bot_name} listening on http://{host}:{args.port}/api/messages "
        f"({'local mode' if settings.local_mode else 'app ' + str(settings.app_id)})"
    )
    web.run_app(
        create_app(settings),
        host=host,
        port=args.port,
        print=None,
        access_log=None,
        shutdown_timeout=30.0,
    )
    return 0
