"""The knowledge-search contract: passages, and the interface both backends keep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Passage:
    """One ranked chunk of an article.

    Attributes:
        chunk_id: stable id of the chunk (document id + section index).
        doc_id: stable id of the document (its path relative to the ingested root).
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


@runtime_checkable
class KnowledgeBackend(Protocol):
    """What the search tool and the ingester need of a search backend."""

    async def asearch(self, query: str, *, top: int = 5) -> list[Passage]:
        """Return up to ``top`` passages, best first; [] when nothing matches.

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
        doc_id: its path relative to the ingested folder, with ``/``.
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
