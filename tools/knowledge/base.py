"""The knowledge-search contract: passages, and the interface both backends keep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Passage:
    """One ranked chunk of an article.

    Attributes:
        chunk_id: stable id of the chunk (document id + section index).
        doc_id: stable id of the document: ``<collection>/<path relative to the
            ingested folder>``.
        title: the article's title.
        section: the heading path of the chunk inside the article, or "".
        source: where the article came from: a URL when known, else a file name.
        text: the chunk's text, plain.
        score: the backend's relevance score; higher is better, scale differs
            by backend.
    """

    chunk_id: str
    doc_id: str
    title: str
    section: str
    source: str
    text: str
    score: float

    @property
    def url(self) -> str | None:
        return self.source if self.source.startswith(("http://", "https://")) else None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A chunk ready to index."""

    chunk_id: str
    doc_id: str
    title: str
    section: str
    source: str
    text: str


PER_DOCUMENT = 2
"""Passages one document may place in a result; the rest go to other articles."""
CANDIDATES_PER_RESULT = 3
"""A search ranks this many candidates per passage wanted, then diversifies."""


def diversify(
    candidates: list[Passage], top: int, *, per_document: int = PER_DOCUMENT
) -> list[Passage]:
    """Keep the best ``top`` passages, at most ``per_document`` from one document.

    A long article with the query's words in every section would otherwise
    fill the whole result and hide the one section of another article that
    answers it.

    Args:
        candidates: passages, best first.
        top: how many to keep.
        per_document: the most passages of one ``doc_id`` to keep.

    Returns:
        The kept passages, still in score order.
    """
    kept: list[Passage] = []
    taken: dict[str, int] = {}
    for passage in candidates:
        if len(kept) == top:
            break
        if taken.get(passage.doc_id, 0) < per_document:
            taken[passage.doc_id] = taken.get(passage.doc_id, 0) + 1
            kept.append(passage)
    return kept


@runtime_checkable
class KnowledgeBackend(Protocol):
    """What the search tool and the ingester need of a search backend."""

    async def asearch(self, query: str, *, top: int = 5) -> list[Passage]:
        """Return up to ``top`` passages, best first; [] when nothing matches.

        No more than :data:`PER_DOCUMENT` passages come from one document
        (see :func:`diversify`).

        Raises:
            BackendUnavailable: the backend cannot answer now.
        """
        ...

    async def aupsert(self, chunks: list[Chunk]) -> None:
        """Add or replace chunks by ``chunk_id``."""
        ...

    async def adelete_documents(self, doc_ids: list[str]) -> None:
        """Remove every chunk of the given documents."""
        ...

    async def acount(self) -> int:
        """Number of chunks indexed; raises BackendUnavailable when down."""
        ...

    async def aclose(self) -> None:
        """Release files, clients and sessions."""
        ...


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """One parsed article and its chunks, as the ingester hands it to a backend.

    Attributes:
        doc_id: ``<collection>/<path relative to the ingested folder>``, with ``/``.
        title: the article's title.
        source: a URL when known, else doc_id.
        content_hash: changes whenever the file (or the chunker) changes.
        chunks: the chunks, in reading order.
    """

    doc_id: str
    title: str
    source: str
    content_hash: str
    chunks: list[Chunk]


@runtime_checkable
class DocumentIndex(Protocol):
    """A backend that tracks whole documents, so re-ingest can skip unchanged ones.

    Both shipped backends implement it; the ingester falls back to
    :meth:`KnowledgeBackend.aupsert` for a backend that does not.
    """

    async def adocument_hashes(self) -> dict[str, str]:
        """Map every indexed document id to the content hash it was indexed with."""
        ...

    async def areplace_documents(self, documents: list[SourceDocument]) -> None:
        """Replace every chunk of each given document with its new chunks."""
        ...

    async def adocument_chunk_counts(self) -> dict[str, int]:
        """Map every indexed document id to the number of chunks it has."""
        ...
