"""The embedded knowledge engine: a tantivy index on disk, ranked by BM25.

Text is analysed in Python (:mod:`tools.knowledge.analysis`: synonyms, stop
words, Snowball stems from PyStemmer) and indexed as ready-made terms in three
fields: title, section heading and body. A query is an OR of its terms over the
three fields, the title weighted :data:`TITLE_BOOST` times the body.

Why tantivy rather than bm25s: both meet the latency target at 100k chunks
(``bench/search.py`` measures it), but tantivy updates in place (a changed
article costs a delete and an add, not a rebuild), commits atomically (a crash
mid-ingest leaves the last commit intact) and lets any number of processes
read while one writes.

Warning:
    One process writes at a time. A second concurrent ingest fails with
    :class:`~tools.errors.BackendUnavailable` rather than waiting. Readers in
    other processes see a commit on their next query (they reload when the
    index's ``meta.json`` changes).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import tantivy

from tools.errors import BackendUnavailable
from tools.knowledge.analysis import ANALYZER_VERSION, analyze
from tools.knowledge.base import (
    CANDIDATES_PER_RESULT,
    Chunk,
    Passage,
    SourceDocument,
    diversify,
)

logger = logging.getLogger(__name__)

TITLE_BOOST = 2.0
SECTION_BOOST = 1.0
BODY_BOOST = 1.0
_WRITER_HEAP = 64_000_000
_SCHEMA_VERSION = 1
_CHUNK, _LEDGER = "chunk", "doc"
_FIELDS: tuple[tuple[str, float], ...] = (
    ("t_title", TITLE_BOOST),
    ("t_section", SECTION_BOOST),
    ("t_body", BODY_BOOST),
)


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for name in ("kind", "chunk_id", "doc_id"):
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
    for name, _ in _FIELDS:
        builder.add_text_field(name, tokenizer_name="whitespace", index_option="freq")
    builder.add_bytes_field("payload", stored=True, indexed=False)
    return builder.build()


class EmbeddedKnowledge:
    """A persistent BM25 index in ``folder``; see the module docstring.

    Args:
        folder: where the index lives; created when missing.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._index_dir = folder / "index"
        self._write_lock = threading.Lock()
        self._schema = _schema()
        self._index = self._open()
        self._seen = self._version_stamp()

    # -- the KnowledgeBackend interface --

    async def asearch(self, query: str, *, top: int = 5) -> list[Passage]:
        """Return up to ``top`` passages, best first; [] when nothing matches."""
        return self.search(query, top=top)

    async def aupsert(self, chunks: list[Chunk]) -> None:
        """Add or replace chunks by ``chunk_id``."""
        await asyncio.to_thread(self._write, upserts=chunks)

    async def adelete_documents(self, doc_ids: list[str]) -> None:
        """Remove every chunk of the given documents."""
        await asyncio.to_thread(self._write, deletes=doc_ids)

    async def acount(self) -> int:
        """Number of chunks indexed."""
        return self.count()

    async def aclose(self) -> None:
        """Nothing to release: tantivy closes its files when collected."""

    # -- the DocumentIndex interface --

    async def adocument_hashes(self) -> dict[str, str]:
        """Map every indexed document id to its content hash."""
        return await asyncio.to_thread(self.document_hashes)

    async def areplace_documents(self, documents: list[SourceDocument]) -> None:
        """Replace each document's chunks in one atomic commit."""
        await asyncio.to_thread(self._write, documents=documents)

    async def adocument_chunk_counts(self) -> dict[str, int]:
        """Map every indexed document id to its number of chunks."""
        return await asyncio.to_thread(self.document_chunk_counts)

    # -- synchronous core --

    def search(self, query: str, *, top: int = 5) -> list[Passage]:
        """The synchronous search; about a millisecond, so it runs inline."""
        terms = list(dict.fromkeys(analyze(query)))
        if not terms or top < 1:
            return []
        clauses = []
        for term in terms:
            for field, boost in _FIELDS:
                clause = tantivy.Query.term_query(self._schema, field, term)
                if boost != 1.0:
                    clause = tantivy.Query.boost_query(clause, boost)
                clauses.append((tantivy.Occur.Should, clause))
        searcher = self._searcher()
        wanted = top * CANDIDATES_PER_RESULT
        hits = searcher.search(
            tantivy.Query.boolean_query(clauses), wanted, count=False
        )
        candidates = [_passage(searcher.doc(a), score) for score, a in hits.hits]
        return diversify(candidates, top)

    def count(self) -> int:
        """Number of chunks indexed."""
        return self._count(_CHUNK)

    def document_hashes(self) -> dict[str, str]:
        """Map every indexed document id to its content hash."""
        searcher = self._searcher()
        total = self._count(_LEDGER)
        if total == 0:
            return {}
        query = tantivy.Query.term_query(self._schema, "kind", _LEDGER)
        hashes = {}
        for _, address in searcher.search(query, total, count=False).hits:
            payload = _payload(searcher.doc(address))
            hashes[payload["doc_id"]] = payload["hash"]
        return hashes

    def document_chunk_counts(self) -> dict[str, int]:
        """Map every indexed document id to its number of chunks."""
        searcher = self._searcher()
        counts = {}
        for doc_id in self.document_hashes():
            query = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, self._term("kind", _CHUNK)),
                    (tantivy.Occur.Must, self._term("doc_id", doc_id)),
                ]
            )
            result: Any = searcher.search(query, 1, count=True)
            counts[doc_id] = int(result.count or 0)
        return counts

    def _term(self, field: str, value: str) -> tantivy.Query:
        return tantivy.Query.term_query(self._schema, field, value)

    def _count(self, kind: str) -> int:
        query = tantivy.Query.term_query(self._schema, "kind", kind)
        result: Any = self._searcher().search(query, 1, count=True)
        return int(result.count or 0)

    def _write(
        self,
        *,
        documents: list[SourceDocument] = (),  # type: ignore[assignment]
        upserts: list[Chunk] = (),  # type: ignore[assignment]
        deletes: list[str] = (),  # type: ignore[assignment]
    ) -> None:
        with self._write_lock:
            try:
                writer = self._index.writer(_WRITER_HEAP, 1)
            except ValueError as exc:
                raise BackendUnavailable(
                    f"knowledge index at {self._index_dir} is being written by "
                    "another process",
                    user_message="The knowledge base is being updated. Try again "
                    "in a minute.",
                ) from exc
            try:
                for doc_id in deletes:
                    writer.delete_documents_by_term("doc_id", doc_id)
                for chunk in upserts:
                    writer.delete_documents_by_term("chunk_id", chunk.chunk_id)
                    writer.add_document(_chunk_document(chunk))
                for document in documents:
                    writer.delete_documents_by_term("doc_id", document.doc_id)
                    for chunk in document.chunks:
                        writer.add_document(_chunk_document(chunk))
                    writer.add_document(_ledger_document(document))
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                writer.wait_merging_threads()
        self._index.reload()

    def _searcher(self) -> tantivy.Searcher:
        # Another process may have committed: a stat is ~1 µs, a reload is not.
        stamp = self._version_stamp()
        if stamp != self._seen:
            self._index.reload()
            self._seen = stamp
        return self._index.searcher()

    def _version_stamp(self) -> tuple[int, int]:
        try:
            info = os.stat(self._index_dir / "meta.json")
        except FileNotFoundError:
            return (0, 0)
        return (info.st_mtime_ns, info.st_size)

    def _open(self) -> tantivy.Index:
        self._folder.mkdir(parents=True, exist_ok=True)
        stamp_path = self._folder / "engine.json"
        wanted = {"schema": _SCHEMA_VERSION, "analyzer": ANALYZER_VERSION}
        current = _read_json(stamp_path)
        if current != wanted and self._index_dir.exists():
            self._rebuild(current)
        self._index_dir.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(self._schema, path=str(self._index_dir), reuse=True)
        if current != wanted:
            _write_json_atomic(stamp_path, wanted)
        return index

    def _rebuild(self, built_by: Any) -> None:
        """Re-analyse every stored chunk into a new index, then swap it in.

        The stored payloads hold the original text, so a new analyser (say, a
        synonym added) costs a rebuild, never the articles an operator ingested.
        If the old index cannot be read, it is set aside and the next ingest
        (or the first-run seed) refills an empty one.
        """
        logger.warning(
            "knowledge index at %s was built by another version (%s); rebuilding",
            self._index_dir,
            built_by,
        )
        try:
            old = tantivy.Index(self._schema, path=str(self._index_dir), reuse=True)
            searcher = old.searcher()
            hits = searcher.search(tantivy.Query.all_query(), max(searcher.num_docs, 1))
            payloads = [_payload(searcher.doc(address)) for _, address in hits.hits]
        except (ValueError, OSError) as exc:
            logger.error(
                "could not read the old knowledge index (%s); starting empty, "
                "re-ingest your articles",
                exc,
            )
            shutil.rmtree(self._index_dir)
            return

        fresh_dir = self._index_dir.with_name("index.rebuild")
        shutil.rmtree(fresh_dir, ignore_errors=True)
        fresh_dir.mkdir(parents=True)
        fresh = tantivy.Index(self._schema, path=str(fresh_dir), reuse=False)
        writer = fresh.writer(_WRITER_HEAP, 1)
        for payload in payloads:
            if "hash" in payload:
                writer.add_document(_ledger_payload_document(payload))
            else:
                writer.add_document(_chunk_document(Chunk(**payload)))
        writer.commit()
        writer.wait_merging_threads()
        del writer, fresh, old, searcher

        retired = self._index_dir.with_name("index.old")
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(self._index_dir, retired)
        os.replace(fresh_dir, self._index_dir)
        shutil.rmtree(retired, ignore_errors=True)
        logger.info("rebuilt the knowledge index: %d stored entries", len(payloads))


def _chunk_document(chunk: Chunk) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("kind", _CHUNK)
    doc.add_text("chunk_id", chunk.chunk_id)
    doc.add_text("doc_id", chunk.doc_id)
    doc.add_text("t_title", " ".join(analyze(chunk.title)))
    doc.add_text("t_section", " ".join(analyze(chunk.section)))
    doc.add_text("t_body", " ".join(analyze(chunk.text)))
    payload = {
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "section": chunk.section,
        "source": chunk.source,
        "text": chunk.text,
    }
    doc.add_bytes("payload", json.dumps(payload).encode())
    return doc


def _ledger_document(document: SourceDocument) -> tantivy.Document:
    return _ledger_payload_document(
        {"doc_id": document.doc_id, "hash": document.content_hash}
    )


def _ledger_payload_document(payload: dict[str, Any]) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("kind", _LEDGER)
    doc.add_text("doc_id", str(payload["doc_id"]))
    doc.add_bytes("payload", json.dumps(payload).encode())
    return doc


def _payload(doc: tantivy.Document) -> dict[str, Any]:
    raw = doc.get_first("payload")
    if not isinstance(raw, (str, bytes)):
        raise ValueError("index document without a payload")
    payload: dict[str, Any] = json.loads(raw)
    return payload


def _passage(doc: tantivy.Document, score: float) -> Passage:
    p = _payload(doc)
    return Passage(
        p["chunk_id"], p["doc_id"], p["title"], p["section"], p["source"], p["text"],
        float(score),
    )  # fmt: skip


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json_atomic(path: Path, data: Any) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temp, path)
