"""``helpdesk chat``: talk to the copilot in this terminal, or run a script."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator

from bot.chat import PROMPT, ChatSession, run_chat
from tools.logs import LOG_FILE_NAME
from tools.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``helpdesk chat``."""
    parser = subparsers.add_parser(
        "chat",
        help="talk to the copilot in this terminal (or: helpdesk chat < questions.txt)",
    )
    parser.add_argument(
        "--as",
        dest="as_user",
        metavar="USER",
        default=None,
        help="who you are in the chat: a directory object id, UPN or name "
        "(e.g. 'Sam Rivera', the demo help-desk analyst); default: local-user",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the bot's logs here instead of in helpdesk.log in the data folder",
    )
    parser.set_defaults(func=_chat, quiet_logs=True)


async def terminal_lines(prompt: str) -> AsyncIterator[str]:
    """Lines typed at ``prompt`` until end of input (Ctrl-D)."""
    while True:
        try:
            yield await asyncio.to_thread(input, prompt)
        except EOFError:
            print()
            return


async def script_lines() -> AsyncIterator[str]:
    """Lines of a script piped to stdin (``helpdesk chat < questions.txt``)."""
    while line := await asyncio.to_thread(sys.stdin.readline):
        yield line


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    interactive = sys.stdin.isatty()

    async def run() -> None:
        async with ChatSession(settings, as_user=args.as_user) as session:
            if interactive:
                print(
                    f"Chatting with {settings.bot_name} as {session.user.name}. "
                    "Type /quit or press Ctrl-D to leave. Logs go to "
                    f"{settings.data_dir / LOG_FILE_NAME}."
                )
            lines = terminal_lines(PROMPT) if interactive else script_lines()
            await run_chat(session, lines, print, echo=not interactive)

    asyncio.run(run())
    return 0
