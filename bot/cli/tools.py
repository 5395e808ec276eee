"""``helpdesk tools``: see every tool and register, change, switch off, test
and remove admin tools without a deploy.

Runs against the app database the bot uses, so a change reaches every bot
replica on its next turn. The same operations are in the admin HTTP API
(``/admin/api/tools``, see :mod:`bot.admin_api`). Changes are recorded as
versions, in the audit trail, by the operating-system user who ran the
command.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from tools.custom import admin
from tools.errors import InvalidInput
from tools.identity import Requester
from tools.services import open_services
from tools.settings import Settings
from tools.text import printable

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``helpdesk tools`` and its sub-commands."""
    parser = subparsers.add_parser(
        "tools", help="list, add, change, test, enable, disable and remove tools"
    )
    parser.set_defaults(quiet_logs=True)
    commands = parser.add_subparsers(dest="tools_command", required=True)

    commands.add_parser(
        "list", help="every tool: built-in and registered"
    ).set_defaults(func=_list)
    show = commands.add_parser("show", help="one tool: its manifest and history")
    show.add_argument("name")
    show.set_defaults(func=_show)
    add = commands.add_parser("add", help="register a tool from its manifest file")
    add.add_argument("file", type=Path, help="a YAML manifest (see manifests/examples)")
    add.set_defaults(func=_add)
    update = commands.add_parser("update", help="store a new version of a tool")
    update.add_argument("file", type=Path)
    update.set_defaults(func=_update)
    for verb, flag in (("enable", True), ("disable", False)):
        command = commands.add_parser(verb, help=f"{verb} a tool (built-ins too)")
        command.add_argument("name")
        command.set_defaults(func=_switch, enabled=flag)
    remove = commands.add_parser("remove", help="remove a registered tool")
    remove.add_argument("name")
    remove.set_defaults(func=_remove)
    test = commands.add_parser(
        "test", help="call a registered tool once against its real endpoint"
    )
    test.add_argument("name")
    test.add_argument("--args", default="{}", help="the arguments as JSON")
    test.set_defaults(func=_test)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    rows = _run(settings, admin.list_tools)
    table = [("NAME", "KIND", "ON", "VERSION", "HEALTH", "CHANGES", "WHAT IT DOES")]
    for row in rows:
        table.append(
            (
                row.name,
                row.kind,
                "yes" if row.enabled else "no",
                str(row.version or "-"),
                row.health or "-",
                "yes" if row.side_effects else "no",
                printable(row.summary)[:60],
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for line in table:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    detail = _run(settings, lambda s: admin.show_tool(s, args.name))
    row = detail.row
    print(f"{row.name} ({row.kind}), {'enabled' if row.enabled else 'disabled'}")
    print(printable(row.summary))
    if detail.source:
        print("\n" + printable(detail.source).rstrip())
    if detail.history:
        print("\nHistory:")
        for change in detail.history:
            print(
                f"  v{change['version']} {change['action']} by {change['by']} at {change['at']}"
            )
    return 0


def _add(args: argparse.Namespace, settings: Settings) -> int:
    source = _read(args.file)
    row = _run(settings, lambda s: admin.add_tool(s, source, by=_who()))
    print(
        f"Added {row.name} ({row.kind}), version {row.version}; every bot has it on its next turn."
    )
    return 0


def _update(args: argparse.Namespace, settings: Settings) -> int:
    source = _read(args.file)
    name = _name_in(source)
    row = _run(settings, lambda s: admin.update_tool(s, name, source, by=_who()))
    print(f"Updated {row.name} to version {row.version}.")
    return 0


def _switch(args: argparse.Namespace, settings: Settings) -> int:
    row = _run(
        settings, lambda s: admin.set_enabled(s, args.name, args.enabled, by=_who())
    )
    print(
        f"{row.name} is {'enabled' if row.enabled else 'disabled'} from the next turn on."
    )
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    _run(settings, lambda s: admin.remove_tool(s, args.name, by=_who()))
    print(f"Removed {args.name}; its history stays (helpdesk tools show {args.name}).")
    return 0


def _test(args: argparse.Namespace, settings: Settings) -> int:
    try:
        values = json.loads(args.args)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--args: not JSON: {exc}") from None
    if not isinstance(values, dict):
        raise InvalidInput('--args: must be a JSON object, e.g. \'{"printer": "3F"}\'')
    me = Requester(object_id=_who(), tenant_id="local", name=_who())
    result = _run(settings, lambda s: admin.test_tool(s, args.name, values, by=me))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if result.get("ok") else 1


def _run(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    async def run() -> T:
        async with open_services(settings, seed_knowledge=False) as services:
            return await work(services)

    return asyncio.run(run())


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None


def _name_in(source: str) -> str:
    from tools.custom.loading import parse

    return parse(source).name


def _who() -> str:
    try:
        return f"{getpass.getuser()} (cli)"
    except Exception:  # no user name in a container: still say it was the CLI
        return "cli"
