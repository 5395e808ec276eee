"""``helpdesk kb``: ingest articles into the knowledge base and search it."""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap
from pathlib import Path

from tools.errors import InvalidInput
from tools.knowledge import open_backend
from tools.knowledge.ingest import IngestReport, ingest_path
from tools.settings import Settings

_PREVIEW_CHARS = 300


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``kb ingest`` and ``kb search``."""
    kb = subparsers.add_parser("kb", help="manage and search the knowledge base")
    commands = kb.add_subparsers(dest="kb_command", required=True)

    ingest = commands.add_parser(
        "ingest",
        help="index a folder (or file) of .md, .html and .txt articles",
        description="Index articles. Changed files are re-indexed, unchanged "
        "ones skipped, and articles no longer in the folder dropped.",
    )
    ingest.add_argument("path", type=Path, help="folder or file to ingest")
    ingest.add_argument(
        "--keep-missing",
        action="store_true",
        help="do not drop indexed articles that are missing from the folder",
    )
    ingest.set_defaults(func=_ingest)

    search = commands.add_parser("search", help="print the best passages for a query")
    search.add_argument("query", help="what to look for, in quotes")
    search.add_argument("--top", type=int, default=5, help="passages to show")
    search.set_defaults(func=_search)


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.path
    if not path.exists():
        print(f"helpdesk kb ingest: {path}: no such file or folder", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(_run_ingest(settings, path, prune=not args.keep_missing))
    except InvalidInput as exc:
        print(f"helpdesk kb ingest: {exc}", file=sys.stderr)
        return 2
    print(f"Ingested {path}: {report.summary()}")
    return 0


async def _run_ingest(settings: Settings, path: Path, *, prune: bool) -> IngestReport:
    backend = await open_backend(settings)
    try:
        return await ingest_path(
            backend, path, prune=prune, on_progress=_print_progress
        )
    finally:
        await backend.aclose()


def _print_progress(done: int, total: int) -> None:
    # Only worth a line when the folder is large enough to take a while.
    if total > 100:
        print(f"  indexed {done}/{total} changed articles", file=sys.stderr)


def _search(args: argparse.Namespace, settings: Settings) -> int:
    if args.top < 1:
        print("helpdesk kb search: --top must be 1 or more", file=sys.stderr)
        return 2
    passages = asyncio.run(_run_search(settings, args.query, args.top))
    if not passages:
        print("No passages match that query.")
        return 0
    for number, passage in enumerate(passages, start=1):
        heading = passage.title + (f" — {passage.section}" if passage.section else "")
        print(f"[{number}] {heading}  (score {passage.score:.2f})")
        print(f"    source: {passage.source}")
        text = " ".join(passage.text.split())
        print(textwrap.indent(textwrap.fill(text[:_PREVIEW_CHARS], 84), "    "))
        print()
    return 0


async def _run_search(settings: Settings, query: str, top: int) -> list:
    backend = await open_backend(settings)
    try:
        return await backend.asearch(query, top=top)
    finally:
        await backend.aclose()
