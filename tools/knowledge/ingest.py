"""Ingest a folder of articles into a collection of a knowledge backend, incrementally.

Each file becomes a document whose id is ``<collection>/<path relative to the
folder>`` (see :mod:`tools.knowledge.collection`). A document is re-indexed
only when its content hash changed; documents of the same collection that are
indexed but no longer in the folder are dropped (unless ``prune=False``).
Documents of other collections are never touched.

A ``SOURCES.md`` in the folder is not an article: when it holds a Markdown
table whose rows name a file in backticks and link a URL, that URL becomes the
source of the file's passages (articles without their own ``source:``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.errors import InvalidInput
from tools.knowledge.base import DocumentIndex, KnowledgeBackend, SourceDocument
from tools.knowledge.chunking import SUFFIXES, parse_document
from tools.knowledge.collection import (
    check_name,
    default_name,
    document_id,
    in_collection,
)

logger = logging.getLogger(__name__)

SOURCES_FILE = "SOURCES.md"
BATCH_DOCUMENTS = 100
"""Documents written per backend call: progress is reported between batches."""

_SOURCE_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|.*?\]\((https?://[^)\s]+)\)", re.M)

ProgressCallback = Callable[[int, int], None]


@dataclass
class IngestReport:
    """What an ingest changed, in counts of documents (and chunks written)."""

    collection: str = ""
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Files that could not be read or held no text."""
    chunks: int = 0

    def summary(self) -> str:
        """One line for a person: ``added 3, updated 1, ...``."""
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, "
            f"deleted {len(self.deleted)}, unchanged {len(self.unchanged)}"
            + (f", skipped {len(self.skipped)}" if self.skipped else "")
            + f" ({self.chunks} chunks written)"
        )


async def ingest_path(
    backend: KnowledgeBackend,
    path: Path,
    *,
    collection: str | None = None,
    prune: bool = True,
    on_progress: ProgressCallback | None = None,
) -> IngestReport:
    """Bring one collection of the index in step with the articles at ``path``.

    Args:
        backend: where the chunks go.
        path: a folder of ``.md``, ``.html`` and ``.txt`` files (searched
            recursively), or one such file.
        collection: the collection the articles belong to; by default the
            folder's name (for a single file, the name of its folder).
        prune: drop indexed documents of this collection that are not in the
            folder. Ignored (never pruned) when ``path`` is a single file.
        on_progress: called with (documents done, documents total).

    Returns:
        The counts of added, updated, deleted and unchanged documents.

    Raises:
        InvalidInput: the path does not exist, holds no articles or is a
            ``SOURCES.md``, or the collection name is empty or not usable.
        BackendUnavailable: the backend refused a write.
    """
    loaded = await asyncio.to_thread(_load, path, collection)
    collection = loaded.collection
    documents, skipped, empty = loaded.documents, loaded.unreadable, loaded.empty
    prune = prune and not loaded.single_file

    report = IngestReport(collection=collection, skipped=skipped + empty)
    incremental = isinstance(backend, DocumentIndex)
    every = await backend.adocument_hashes() if incremental else {}  # type: ignore[attr-defined]
    known = {d: every[d] for d in in_collection(every, collection)}
    changed: list[SourceDocument] = []
    for document in documents:
        previous = known.get(document.doc_id)
        if previous is None:
            report.added.append(document.doc_id)
        elif previous != document.content_hash:
            report.updated.append(document.doc_id)
        else:
            report.unchanged.append(document.doc_id)
            continue
        changed.append(document)

    total = len(changed)
    for start in range(0, total, BATCH_DOCUMENTS):
        batch = changed[start : start + BATCH_DOCUMENTS]
        if incremental:
            await backend.areplace_documents(batch)  # type: ignore[attr-defined]
        else:
            await backend.adelete_documents([d.doc_id for d in batch])
            await backend.aupsert([c for d in batch for c in d.chunks])
        report.chunks += sum(len(d.chunks) for d in batch)
        if on_progress is not None:
            on_progress(min(start + BATCH_DOCUMENTS, total), total)

    # An article emptied of text goes, even when missing ones are kept; one
    # that could not be read this time stays as it was.
    gone = {d for d in empty if d in known}
    if prune and incremental:
        present = {d.doc_id for d in documents} | set(skipped)
        gone |= set(known) - present
    report.deleted = sorted(gone)
    if report.deleted:
        await backend.adelete_documents(report.deleted)

    logger.info(
        "ingested %s into collection %s: %s", path, collection, report.summary()
    )
    return report


@dataclass(frozen=True, slots=True)
class _Loaded:
    collection: str
    documents: list[SourceDocument]
    unreadable: list[str]
    empty: list[str]
    single_file: bool


def load_documents(
    path: Path, *, collection: str | None = None
) -> list[SourceDocument]:
    """Parse the articles at ``path`` without indexing them (benchmarks, checks).

    Raises:
        InvalidInput: the path does not exist or holds no articles.
    """
    return _load(path, collection).documents


def _load(path: Path, collection: str | None) -> _Loaded:
    root, files = _collect(path)
    # An empty --collection is a mistake, not a request for the default.
    name = check_name(collection) if collection is not None else default_name(path)
    documents, unreadable, empty = _parse_all(
        root, files, _read_sources(root), collection=name
    )
    return _Loaded(name, documents, unreadable, empty, path.is_file())


def _collect(path: Path) -> tuple[Path, list[Path]]:
    if not path.exists():
        raise InvalidInput(f"{path}: no such file or folder")
    if path.is_file():
        if path.name == SOURCES_FILE:
            raise InvalidInput(
                f"{path}: {SOURCES_FILE} is the list of the folder's sources, not "
                "an article; ingest the folder to use it, or rename the file"
            )
        if path.suffix.lower() not in SUFFIXES:
            raise InvalidInput(
                f"{path}: not an article; expected one of {', '.join(sorted(SUFFIXES))}"
            )
        return path.parent, [path]
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and p.name != SOURCES_FILE
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise InvalidInput(f"{path}: holds no articles (.md, .html or .txt files)")
    return path, files


def _read_sources(root: Path) -> dict[str, str]:
    try:
        text = (root / SOURCES_FILE).read_text(encoding="utf-8")
    except OSError:
        return {}
    return dict(_SOURCE_ROW.findall(text))


def _parse_all(
    root: Path,
    files: list[Path],
    sources: dict[str, str],
    *,
    collection: str | None = None,
) -> tuple[list[SourceDocument], list[str], list[str]]:
    """Parse every file: the documents, the unreadable ids, the empty ids.

    Ids are ``<collection>/<relative path>``, or the bare relative path when
    ``collection`` is None.
    """
    documents: list[SourceDocument] = []
    unreadable: list[str] = []
    empty: list[str] = []
    for file in files:
        relative = file.relative_to(root).as_posix()
        doc_id = document_id(collection, relative) if collection else relative
        try:
            raw = file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            logger.warning("cannot read %s: %s", file, exc)
            unreadable.append(doc_id)
            continue
        document = parse_document(raw, doc_id, source=sources.get(relative))
        if not document.chunks:
            empty.append(doc_id)
            continue
        documents.append(document)
    return documents, unreadable, empty
