"""``helpdesk kb``: ingest articles into collections, list and remove them, search."""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from tools.errors import InvalidInput
from tools.knowledge import open_backend
from tools.knowledge.base import KnowledgeBackend, Passage
from tools.knowledge.collection import (
    CollectionSummary,
    list_collections,
    remove_collection,
)
from tools.knowledge.ingest import IngestReport, ingest_path
from tools.settings import Settings

_PREVIEW_CHARS = 300
_T = TypeVar("_T")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``kb ingest``, ``kb collections``, ``kb remove`` and ``kb search``."""
    kb = subparsers.add_parser("kb", help="manage and search the knowledge base")
    commands = kb.add_subparsers(dest="kb_command", required=True)

    ingest = commands.add_parser(
        "ingest",
        help="index a folder (or file) of .md, .html and .txt articles",
        description="Index articles into a collection. Changed files are "
        "re-indexed, unchanged ones skipped, and articles of the same collection "
        "that are no longer in the folder dropped. Other collections are left "
        "alone.",
    )
    ingest.add_argument("path", type=Path, help="folder or file to ingest")
    ingest.add_argument(
        "--collection",
        metavar="NAME",
        help="the collection to ingest into (default: the folder's name; for a "
        "single file, the name of the folder it is in)",
    )
    ingest.add_argument(
        "--keep-missing",
        action="store_true",
        help="do not drop articles of the collection that are missing from the folder",
    )
    ingest.set_defaults(func=_ingest)

    collections = commands.add_parser(
        "collections", help="list the collections with their document counts"
    )
    collections.set_defaults(func=_collections)

    remove = commands.add_parser(
        "remove",
        help="drop every article of a collection",
        description="Drop every article of a collection from the index, at once "
        "and without asking. The files themselves are not touched.",
    )
    remove.add_argument("collection", help="the collection's name, as listed")
    remove.set_defaults(func=_remove)

    search = commands.add_parser("search", help="print the best passages for a query")
    search.add_argument("query", help="what to look for, in quotes")
    search.add_argument("--top", type=int, default=5, help="passages to show")
    search.set_defaults(func=_search)


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.path
    if not path.exists():
        print(f"helpdesk kb ingest: {path}: no such file or folder", file=sys.stderr)
        return 2

    async def run(backend: KnowledgeBackend) -> IngestReport:
        return await ingest_path(
            backend,
            path,
            collection=args.collection,
            prune=not args.keep_missing,
            on_progress=_print_progress,
        )

    try:
        report = asyncio.run(_with_backend(settings, run))
    except InvalidInput as exc:
        print(f"helpdesk kb ingest: {exc}", file=sys.stderr)
        return 2
    print(f"Ingested {path} into {report.collection!r}: {report.summary()}")
    return 0


def _print_progress(done: int, total: int) -> None:
    # Only worth a line when the folder is large enough to take a while.
    if total > 100:
        print(f"  indexed {done}/{total} changed articles", file=sys.stderr)


def _collections(args: argparse.Namespace, settings: Settings) -> int:
    summaries = asyncio.run(_with_backend(settings, list_collections))
    if not summaries:
        print("The knowledge base is empty.")
        return 0
    width = max(len("collection"), *(len(s.name) for s in summaries))
    print(f"{'collection':<{width}}  {'documents':>9}  {'chunks':>7}")
    for summary in summaries:
        print(f"{summary.name:<{width}}  {summary.documents:>9}  {summary.chunks:>7}")
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    async def run(backend: KnowledgeBackend) -> CollectionSummary:
        return await remove_collection(backend, args.collection)

    try:
        removed = asyncio.run(_with_backend(settings, run))
    except InvalidInput as exc:
        print(f"helpdesk kb remove: {exc}", file=sys.stderr)
        return 2
    print(
        f"Removed collection {removed.name!r}: {removed.documents} documents, "
        f"{removed.chunks} chunks"
    )
    return 0


def _search(args: argparse.Namespace, settings: Settings) -> int:
    if args.top < 1:
        print("helpdesk kb search: --top must be 1 or more", file=sys.stderr)
        return 2

    async def run(backend: KnowledgeBackend) -> list[Passage]:
        return await backend.asearch(args.query, top=args.top)

    passages = asyncio.run(_with_backend(settings, run))
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


async def _with_backend(
    settings: Settings, action: Callable[[KnowledgeBackend], Awaitable[_T]]
) -> _T:
    backend = await open_backend(settings)
    try:
        return await action(backend)
    finally:
        await backend.aclose()
