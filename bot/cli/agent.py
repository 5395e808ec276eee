"""``helpdesk agent``: take live hand-offs in this terminal as IT support."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.agent_console import AGENT_PROMPT, DEFAULT_AGENT, AgentSession, run_agent
from bot.cli.chat import script_lines, terminal_lines
from tools.logs import LOG_FILE_NAME
from tools.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``helpdesk agent``."""
    parser = subparsers.add_parser(
        "agent",
        help="take live hand-offs as IT support in this terminal, while "
        "`helpdesk chat` runs in another (same data folder)",
    )
    parser.add_argument(
        "--as",
        dest="as_user",
        metavar="USER",
        default=DEFAULT_AGENT,
        help="who you are: a directory object id, UPN or name with the helpdesk "
        f"role; default: {DEFAULT_AGENT!r}, the demo help-desk analyst",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the bot's logs here instead of in helpdesk.log in the data folder",
    )
    parser.set_defaults(func=_agent, quiet_logs=True)


def _agent(args: argparse.Namespace, settings: Settings) -> int:
    interactive = sys.stdin.isatty()

    async def run() -> None:
        async with AgentSession(settings, as_user=args.as_user) as session:
            if interactive:
                print(
                    f"IT support desk as {session.user.name}, in the hand-off "
                    f"channel. Hand-offs asked for in `helpdesk chat` arrive "
                    "here. Type /quit or press Ctrl-D to leave. Logs go to "
                    f"{settings.data_dir / LOG_FILE_NAME}."
                )
            lines = terminal_lines(AGENT_PROMPT) if interactive else script_lines()
            await run_agent(session, lines, print, echo=not interactive)

    asyncio.run(run())
    return 0
