"""``helpdesk serve``: run the bot's web app for Teams or the Agents Playground."""

from __future__ import annotations

import argparse
import errno
import logging
import sys

from aiohttp import web

from bot.app import create_app
from tools.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_PORT = 3978
SHUTDOWN_TIMEOUT_S = 30.0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``helpdesk serve``."""
    parser = subparsers.add_parser("serve", help="run the bot (POST /api/messages)")
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT}"
    )
    parser.add_argument(
        "--host",
        default=None,
        help="interface to listen on; default: 127.0.0.1 in local mode "
        "(no MICROSOFT_APP_ID), else 0.0.0.0",
    )
    parser.set_defaults(func=_serve)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a port; use a number from 1 to 65535"
        )
    return port


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or ("127.0.0.1" if settings.local_mode else "0.0.0.0")
    if settings.local_mode and host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning(
            "local mode listens on %s, but accepts unsigned calls from loopback only",
            host,
        )
    mode = "local mode" if settings.local_mode else f"app {settings.app_id}"

    def announce(*_ignored: object) -> None:
        # aiohttp calls this once every socket is bound, never before.
        print(
            f"{settings.bot_name} listening on "
            f"http://{host}:{args.port}/api/messages ({mode})",
            flush=True,
        )

    try:
        web.run_app(
            create_app(settings),
            host=host,
            port=args.port,
            print=announce,
            access_log=None,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        )
    except OSError as exc:
        problem = _bind_problem(exc, host, args.port)
        if problem is None:
            raise
        logger.debug("could not listen", exc_info=True)
        print(f"helpdesk: {problem}", file=sys.stderr)
        return 1
    return 0


def _bind_problem(exc: OSError, host: str, port: int) -> str | None:
    """One line for an operator who cannot listen where they asked, or None."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is in use; pick another with --port"
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port}; pick one above 1023 with --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine; check --host"
    return None
