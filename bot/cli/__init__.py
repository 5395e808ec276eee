"""The ``helpdesk`` command: one sub-command module per concern.

Each module in this package exposes ``register(subparsers)``, which adds its
commands and sets ``func`` to a function taking the parsed arguments and the
settings and returning an exit code.

Exit codes: 0 done, 1 an outside system or the command failed, 2 a wrong
setting or argument (the message names it), 130 interrupted. Every failure is
one line on stderr; a traceback only reaches the log, at ``DEBUG``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import uuid
from collections.abc import Sequence

from tools.errors import ConfigError, HelpdeskError, InvalidInput
from tools.logs import configure_logging
from tools.settings import load_settings

logger = logging.getLogger(__name__)

_COMMAND_MODULES = (
    "serve",
    "chat",
    "agent",
    "kb",
    "db",
    "teams",
    "directory",
    "audit",
    "tickets",
    "tools",
    "eval",
    "eval_tickets",
    "report",
)
_DETAILS_HINT = "rerun with HELPDESK_LOG_LEVEL=DEBUG for details"


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
        quiet = getattr(args, "quiet_logs", False) and not getattr(
            args, "verbose", False
        )
        configure_logging(settings, quiet=quiet)
        return int(args.func(args, settings) or 0)
    except (ConfigError, InvalidInput) as exc:
        print(f"helpdesk: {exc}", file=sys.stderr)
        return 2
    except HelpdeskError as exc:
        print(f"helpdesk: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        # Permissions, a full disk, a file that vanished: the operator can act.
        logger.debug("command failed", exc_info=True)
        print(f"helpdesk: {_describe_os_error(exc)}; {_DETAILS_HINT}", file=sys.stderr)
        return 1
    except Exception as exc:
        # A bug, not a user's mistake: one line here, the traceback in the log.
        ref = uuid.uuid4().hex[:8]
        logger.debug("unexpected error, ref %s", ref, exc_info=True)
        print(
            f"helpdesk: unexpected error ({type(exc).__name__}), ref {ref}; "
            f"{_DETAILS_HINT} and report it with the ref",
            file=sys.stderr,
        )
        return 1


def _describe_os_error(exc: OSError) -> str:
    if exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
