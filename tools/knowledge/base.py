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
