"""The ``helpdesk`` command: one sub-command module per concern.

Each module in this package exposes ``register(subparsers)``, which adds its
commands and sets ``func`` to a function taking the parsed arguments and the
settings and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tools.errors import ConfigError, HelpdeskError
from tools.logs import configure_logging
from tools.settings import load_settings

_COMMAND_MODULES = ("serve", "chat", "kb", "db", "teams", "directory", "audit")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpdesk", description="Helpdesk Copilot: an IT help desk in Teams."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        module = importlib.import_module(f"bot.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``helpdesk`` command and return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"helpdesk: {exc}", file=sys.stderr)
        return 2
    quiet = getattr(args, "quiet_logs", False) and not getattr(args, "verbose", False)
    configure_logging(settings, quiet=quiet)
    try:
        return int(args.func(args, settings) or 0)
    except HelpdeskError as exc:
        print(f"helpdesk: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
