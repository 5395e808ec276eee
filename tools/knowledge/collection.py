"""Collections: named sets of documents that are ingested, listed and removed together.

Every document id is ``<collection>/<path relative to the ingested folder>``,
so two folders ingested into different collections never prune each other.
The demo articles seeded on first start are the collection :data:`SEED_COLLECTION`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tools.errors import InvalidInput
from tools.knowledge.base import DocumentIndex, KnowledgeBackend

SEED_COLLECTION = "demo"
MAX_NAME_CHARS = 64

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]*")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True, slots=True)
class CollectionSummary:
    """One collection as ``helpdesk kb collections`` shows it."""

    name: str
    documents: int
    chunks: int


def check_name(name: str) -> str:
    """Return ``name`` stripped if it can name a collection.

    Raises:
        InvalidInput: it is empty, too long, or holds characters other than
            letters, digits, space, ``.``, ``_`` and ``-`` (a ``/`` would make
            document ids ambiguous).
    """
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"{name!r} cannot name a collection: use up to {MAX_NAME_CHARS} "
            "letters, digits, spaces, '.', '_' or '-', starting with a letter "
            "or digit"
        )
    return name


def default_name(path: Path) -> str:
    """The collection a path goes into when none is given: its folder's name.

    A single file goes into the collection of the folder it sits in.

    Raises:
        InvalidInput: no usable name can be made from the folder's name.
    """
    folder = path.resolve()
    if folder.is_file():
        folder = folder.parent
    name = _UNSAFE.sub("-", folder.name).strip(" .-_")[:MAX_NAME_CHARS]
    if not name:
        raise InvalidInput(
            f"{path}: cannot take a collection name from this folder; give one "
            "with --collection NAME"
        )
    return check_name(name)


def document_id(collection: str, relative_path: str) -> str:
    """The id of a document: ``<collection>/<path relative to its folder>``."""
    return f"{collection}/{relative_path}"


def collection_of(doc_id: str) -> str:
    """The collection part of a document id."""
    return doc_id.partition("/")[0]


def in_collection(doc_ids: Iterable[str], collection: str) -> list[str]:
    """The ids among ``doc_ids`` that belong to ``collection``, sorted."""
    prefix = collection + "/"
    return sorted(d for d in doc_ids if d.startswith(prefix))


async def list_collections(backend: KnowledgeBackend) -> list[CollectionSummary]:
    """Every collection in the index with its document and chunk counts, by name.

    Raises:
        NotImplementedError: the backend does not track whole documents.
        BackendUnavailable: the backend cannot answer now.
    """
    index = _document_index(backend)
    chunks_per_doc = await index.adocument_chunk_counts()
    documents: Counter[str] = Counter()
    chunks: Counter[str] = Counter()
    for doc_id, count in chunks_per_doc.items():
        documents[collection_of(doc_id)] += 1
        chunks[collection_of(doc_id)] += count
    return [CollectionSummary(n, documents[n], chunks[n]) for n in sorted(documents)]


async def remove_collection(backend: KnowledgeBackend, name: str) -> CollectionSummary:
    """Drop every document of collection ``name``.

    Returns:
        What was removed.

    Raises:
        InvalidInput: no collection of that name is indexed; the message lists
            the ones that are.
        NotImplementedError: the backend does not track whole documents.
        BackendUnavailable: the backend refused the delete.
    """
    index = _document_index(backend)
    chunks_per_doc = await index.adocument_chunk_counts()
    doomed = in_collection(chunks_per_doc, name)
    if not doomed:
        known = sorted({collection_of(d) for d in chunks_per_doc})
        raise InvalidInput(
            f"no collection named {name!r}; the index holds "
            + (", ".join(repr(k) for k in known) if known else "none")
        )

    await backend.adelete_documents(doomed)
    return CollectionSummary(name, len(doomed), sum(chunks_per_doc[d] for d in doomed))


def _document_index(backend: KnowledgeBackend) -> DocumentIndex:
    if not isinstance(backend, DocumentIndex):
        raise NotImplementedError(
            f"{type(backend).__name__} does not track whole documents, so it has "
            "no collections"
        )
    return backend
