"""The Azure AI Search backend, through ``azure-search-documents`` (async clients).

Keyword search always; a semantic re-rank when ``search_semantic_config`` is
set, and a vector query on ``search_vector_field`` when that is set (the index
must have an integrated vectorizer: the query is sent as text). Every Azure
exception is translated once, here, into :class:`~tools.errors.ConfigError`
(wrong key, wrong index) or :class:`~tools.errors.BackendUnavailable`.

Warning:
    Keys of the index are chunk ids encoded as URL-safe base64, because Azure
    allows only letters, digits, ``_``, ``-`` and ``=`` in a key, and a chunk id
    holds ``/`` (``<collection>/<path>#<n>``) and often ``.``.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.search.documents.aio import SearchClient
from azure.search.documents.indexes.aio import SearchIndexClient
from azure.search.documents.indexes.models import (
    SearchableField,
    SearchFieldDataType,
    SearchIndex,
    SimpleField,
)
from azure.search.documents.models import VectorizableTextQuery

from tools.errors import BackendUnavailable, ConfigError
from tools.knowledge.base import (
    CANDIDATES_PER_RESULT,
    Chunk,
    Passage,
    SourceDocument,
    diversify,
)
from tools.settings import Settings

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0
RETRIES = 2
"""Transient failures (429, 5xx, resets) are retried by the SDK this many times."""
UPLOAD_BATCH = 500
"""Azure takes up to 1,000 actions per indexing request; stay well under."""
VECTOR_NEIGHBOURS = 20

_SELECT = ["chunk_id", "doc_id", "title", "section", "source", "text"]
_T = TypeVar("_T")


def encode_key(chunk_id: str) -> str:
    """The Azure document key for a chunk id."""
    return base64.urlsafe_b64encode(chunk_id.encode()).decode()


class AzureSearchKnowledge:
    """Knowledge search on an Azure AI Search index.

    Args:
        endpoint: ``https://NAME.search.windows.net``.
        index_name: the index; created on first ingest when missing.
        api_key: an admin key (ingest) or query key (search only).
        semantic_config: name of the index's semantic configuration, or None.
        vector_field: name of the index's vector field, or None.
        client_options: extra keyword options for the SDK clients (tests pass
            a transport or retry settings here).
    """

    def __init__(
        self,
        endpoint: str,
        index_name: str,
        api_key: str,
        *,
        semantic_config: str | None = None,
        vector_field: str | None = None,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        options: dict[str, Any] = {
            "connection_timeout": CONNECT_TIMEOUT_S,
            "read_timeout": READ_TIMEOUT_S,
            "retry_total": RETRIES,
        }
        options.update(client_options or {})
        credential = AzureKeyCredential(api_key)
        self._endpoint = endpoint
        self._index_name = index_name
        self._semantic_config = semantic_config
        self._vector_field = vector_field
        self._search = SearchClient(endpoint, index_name, credential, **options)
        self._indexes = SearchIndexClient(endpoint, credential, **options)
        self._index_ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> AzureSearchKnowledge:
        """Build the backend from the settings.

        Raises:
            ConfigError: the endpoint or the key is missing.
        """
        if not settings.search_endpoint:
            raise ConfigError(
                "HELPDESK_SEARCH_ENDPOINT is not set; put the Azure AI Search "
                "endpoint in it, e.g. https://NAME.search.windows.net"
            )
        if settings.search_api_key is None:
            # TODO(managed-identity): accept DefaultAzureCredential when no key.
            raise ConfigError(
                "HELPDESK_SEARCH_API_KEY is not set; put an Azure AI Search admin "
                "key in it (managed identity is not supported yet)"
            )
        return cls(
            settings.search_endpoint,
            settings.search_index,
            settings.search_api_key.get_secret_value(),
            semantic_config=settings.search_semantic_config,
            vector_field=settings.search_vector_field,
        )

    # -- the KnowledgeBackend interface --

    async def asearch(self, query: str, *, top: int = 5) -> list[Passage]:
        """Return up to ``top`` passages, best first; [] when nothing matches."""
        if not query.strip() or top < 1:
            return []
        options: dict[str, Any] = {
            "top": top * CANDIDATES_PER_RESULT,
            "select": _SELECT,
        }
        if self._semantic_config:
            options["query_type"] = "semantic"
            options["semantic_configuration_name"] = self._semantic_config
        if self._vector_field:
            options["vector_queries"] = [
                VectorizableTextQuery(
                    text=query,
                    k_nearest_neighbors=VECTOR_NEIGHBOURS,
                    fields=self._vector_field,
                )
            ]

        async def run() -> list[Passage]:
            results = await self._search.search(search_text=query, **options)
            return [_passage(item) async for item in results]

        try:
            candidates = await self._call("search", run())
        except _IndexMissing:
            logger.warning("search index %s does not exist yet", self._index_name)
            return []
        return diversify(candidates, top)

    async def aupsert(self, chunks: list[Chunk]) -> None:
        """Add or replace chunks by ``chunk_id``."""
        await self._ensure_index()
        docs = [_azure_document(c, content_hash="") for c in chunks]
        await self._upload(docs)

    async def adelete_documents(self, doc_ids: list[str]) -> None:
        """Remove every chunk of the given documents."""
        keys = await self._keys_of(doc_ids)
        for start in range(0, len(keys), UPLOAD_BATCH):
            batch = [{"id": k} for k in keys[start : start + UPLOAD_BATCH]]
            await self._call("delete", self._search.delete_documents(batch))

    async def acount(self) -> int:
        """Number of chunks indexed; 0 when the index does not exist yet."""
        try:
            return int(await self._call("count", self._search.get_document_count()))
        except _IndexMissing:
            return 0

    async def aclose(self) -> None:
        """Close both SDK clients and their HTTP sessions."""
        await self._search.close()
        await self._indexes.close()

    # -- the DocumentIndex interface --

    async def adocument_hashes(self) -> dict[str, str]:
        """Map every indexed document id to its content hash."""
        return dict(await self._list_chunks())

    async def adocument_chunk_counts(self) -> dict[str, int]:
        """Map every indexed document id to its number of chunks."""
        counts: dict[str, int] = {}
        for doc_id, _ in await self._list_chunks():
            counts[doc_id] = counts.get(doc_id, 0) + 1
        return counts

    async def areplace_documents(self, documents: list[SourceDocument]) -> None:
        """Upload each document's chunks and delete its chunks that are gone."""
        await self._ensure_index()
        stale = set(await self._keys_of([d.doc_id for d in documents]))
        docs = [
            _azure_document(chunk, content_hash=document.content_hash)
            for document in documents
            for chunk in document.chunks
        ]
        await self._upload(docs)
        stale -= {d["id"] for d in docs}
        if stale:
            await self._call(
                "delete", self._search.delete_documents([{"id": k} for k in stale])
            )

    # -- helpers --

    async def _list_chunks(self) -> list[tuple[str, str]]:
        """(document id, content hash) of every chunk; [] when there is no index."""

        async def run() -> list[tuple[str, str]]:
            results = await self._search.search(
                search_text="*", select=["doc_id", "doc_hash"]
            )
            return [
                (item["doc_id"], item.get("doc_hash") or "") async for item in results
            ]

        try:
            return await self._call("list documents", run())
        except _IndexMissing:
            return []

    async def _upload(self, docs: list[dict[str, Any]]) -> None:
        for start in range(0, len(docs), UPLOAD_BATCH):
            batch = docs[start : start + UPLOAD_BATCH]
            results = await self._call(
                "upload", self._search.merge_or_upload_documents(batch)
            )
            failed = [r for r in results if not r.succeeded]
            if failed:
                raise BackendUnavailable(
                    f"Azure AI Search rejected {len(failed)} of {len(batch)} "
                    f"documents in {self._index_name}: {failed[0].error_message}"
                )

    async def _keys_of(self, doc_ids: list[str]) -> list[str]:
        if not doc_ids:
            return []
        # "|" separates the ids: file paths rarely hold one, unlike ",".
        quoted = "|".join(d.replace("'", "''") for d in doc_ids)
        flt = f"search.in(doc_id, '{quoted}', '|')"

        async def run() -> list[str]:
            results = await self._search.search(
                search_text="*", filter=flt, select=["id"]
            )
            return [item["id"] async for item in results]

        try:
            return await self._call("find chunks", run())
        except _IndexMissing:
            return []

    async def _ensure_index(self) -> None:
        if self._index_ready:
            return
        try:
            await self._call("get index", self._indexes.get_index(self._index_name))
        except _IndexMissing:
            logger.info("creating search index %s", self._index_name)
            await self._call(
                "create index", self._indexes.create_index(_index(self._index_name))
            )
        self._index_ready = True

    async def _call(self, what: str, call: Awaitable[_T]) -> _T:
        """Await one SDK call; translate its failure once, log one INFO line."""
        started = time.perf_counter()
        try:
            result = await call
        except ResourceNotFoundError as exc:
            raise _IndexMissing(self._index_name) from exc
        except ClientAuthenticationError as exc:
            raise self._auth_error(what, exc) from exc
        except HttpResponseError as exc:
            if exc.status_code in (401, 403):
                raise self._auth_error(what, exc) from exc
            if (
                exc.status_code is not None
                and 400 <= exc.status_code < 500
                and (exc.status_code != 429)
            ):
                raise ConfigError(
                    f"Azure AI Search {what} on {self._index_name} was refused "
                    f"({exc.status_code}): {exc.message}"
                ) from exc
            raise self._down(what, exc) from exc
        except (ServiceRequestError, ServiceResponseError, AzureError) as exc:
            raise self._down(what, exc) from exc
        logger.info(
            "azure search %s %s ok in %.0f ms",
            what,
            self._index_name,
            (time.perf_counter() - started) * 1000,
        )
        return result

    def _auth_error(self, what: str, exc: AzureError) -> ConfigError:
        return ConfigError(
            f"Azure AI Search refused {what} on {self._endpoint} ({exc}); check "
            "HELPDESK_SEARCH_API_KEY (an admin key is needed to ingest)"
        )

    def _down(self, what: str, exc: AzureError) -> BackendUnavailable:
        status = getattr(exc, "status_code", None)
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
        retry_after = headers.get("Retry-After")
        return BackendUnavailable(
            f"Azure AI Search {what} on {self._index_name} failed "
            f"(status {status}): {exc}",
            user_message="The knowledge base is not answering right now. Please "
            "try again in a few minutes.",
            retry_after=_seconds(retry_after),
            request_id=headers.get("request-id"),
        )


class _IndexMissing(Exception):
    """The index does not exist (yet); callers decide what that means."""


def _index(name: str) -> SearchIndex:
    string: str = SearchFieldDataType.String.value
    return SearchIndex(
        name=name,
        fields=[
            SimpleField(name="id", type=string, key=True),
            SimpleField(name="chunk_id", type=string),
            SimpleField(name="doc_id", type=string, filterable=True),
            SimpleField(name="doc_hash", type=string),
            SimpleField(name="source", type=string),
            SearchableField(name="title", analyzer_name="en.microsoft"),
            SearchableField(name="section", analyzer_name="en.microsoft"),
            SearchableField(name="text", analyzer_name="en.microsoft"),
        ],
    )


def _azure_document(chunk: Chunk, *, content_hash: str) -> dict[str, Any]:
    return {
        "id": encode_key(chunk.chunk_id),
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "doc_hash": content_hash,
        "title": chunk.title,
        "section": chunk.section,
        "source": chunk.source,
        "text": chunk.text,
    }


def _passage(item: dict[str, Any]) -> Passage:
    score = item.get("@search.reranker_score") or item.get("@search.score") or 0.0
    return Passage(
        chunk_id=item.get("chunk_id") or "",
        doc_id=item.get("doc_id") or "",
        title=item.get("title") or "",
        section=item.get("section") or "",
        source=item.get("source") or "",
        text=item.get("text") or "",
        score=float(score),
    )


def _seconds(value: Any) -> float | None:
    """Retry-After as seconds, or None when absent or an HTTP date."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
