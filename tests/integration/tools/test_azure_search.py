"""The Azure AI Search backend through the real SDK, against a local fake service.

The SDK talks to ``http://127.0.0.1:PORT`` without any special transport:
``AzureKeyCredential`` sends the ``api-key`` header over plain http (only the
bearer-token policy insists on https), so the endpoint is simply the fake's
URL. Retries keep the SDK's policy; only the back-off is set to zero so the
503 test does not sleep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from fakes.azure_search import FakeSearchService

from tools.errors import BackendUnavailable, ConfigError
from tools.knowledge import open_backend
from tools.knowledge.azure import AzureSearchKnowledge
from tools.knowledge.base import Chunk, SourceDocument
from tools.knowledge.ingest import ingest_path
from tools.settings import load_settings

FAST_RETRIES = {"retry_backoff_factor": 0, "retry_backoff_max": 0}


@dataclass
class Served:
    fake: FakeSearchService
    url: str


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    fake = FakeSearchService()
    runner = web.AppRunner(fake.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield Served(fake, f"http://127.0.0.1:{port}")
    await runner.cleanup()


@pytest.fixture
async def backend(served: Served) -> AsyncIterator[AzureSearchKnowledge]:
    kb = AzureSearchKnowledge(
        served.url, "helpdesk-kb", served.fake.api_key, client_options=FAST_RETRIES
    )
    yield kb
    await kb.aclose()


def _doc(
    doc_id: str, title: str, *texts: str, content_hash: str = "h1"
) -> SourceDocument:
    chunks = [
        Chunk(
            f"{doc_id}#{i}",
            doc_id,
            title,
            f"Part {i}",
            f"https://x.example/{doc_id}",
            t,
        )
        for i, t in enumerate(texts)
    ]
    return SourceDocument(doc_id, title, chunks[0].source, content_hash, chunks)


async def test_ingest_creates_the_index_and_search_returns_passages(
    backend: AzureSearchKnowledge, served: Served
) -> None:
    assert await backend.acount() == 0

    await backend.areplace_documents(
        [
            _doc("vpn-mac.md", "VPN on a Mac", "Install the VPN client on macOS."),
            _doc("printers.md", "Printers", "Add a printer from Self Service."),
        ]
    )
    passages = await backend.asearch("vpn client", top=3)

    assert "helpdesk-kb" in served.fake.indexes
    assert await backend.acount() == 2
    assert passages[0].doc_id == "vpn-mac.md"
    assert passages[0].title == "VPN on a Mac"
    assert passages[0].section == "Part 0"
    assert passages[0].url == "https://x.example/vpn-mac.md"
    assert passages[0].score > 0


async def test_reingest_drops_chunks_a_document_no_longer_has(
    backend: AzureSearchKnowledge,
) -> None:
    await backend.areplace_documents([_doc("a.md", "A", "one alpha", "two alpha")])

    await backend.areplace_documents([_doc("a.md", "A", "one beta", content_hash="h2")])

    assert await backend.acount() == 1
    assert await backend.adocument_hashes() == {"a.md": "h2"}
    assert await backend.asearch("alpha", top=5) == []


async def test_ingest_folder_reports_and_prunes(
    backend: AzureSearchKnowledge, tmp_path
) -> None:
    (tmp_path / "a.md").write_text("# Alpha\n\nalpha text\n")
    (tmp_path / "b.md").write_text("# Beta\n\nbeta text\n")
    first = await ingest_path(backend, tmp_path)
    (tmp_path / "b.md").unlink()
    (tmp_path / "a.md").write_text("# Alpha\n\nalpha text, changed\n")

    second = await ingest_path(backend, tmp_path)

    assert sorted(first.added) == ["a.md", "b.md"]
    assert (second.updated, second.deleted) == (["a.md"], ["b.md"])
    assert await backend.asearch("beta", top=5) == []


async def test_a_503_is_retried_by_the_sdk_and_then_succeeds(
    backend: AzureSearchKnowledge, served: Served
) -> None:
    await backend.areplace_documents([_doc("a.md", "A", "wifi guest network")])
    served.fake.fail_next(503, path_contains="search.post.search")

    passages = await backend.asearch("guest wifi", top=3)

    assert [p.doc_id for p in passages] == ["a.md"]
    searches = [r for r in served.fake.requests if "search.post" in r[1]]
    assert len(searches) >= 2


async def test_a_service_that_stays_down_is_backend_unavailable(
    backend: AzureSearchKnowledge, served: Served
) -> None:
    await backend.areplace_documents([_doc("a.md", "A", "text")])
    served.fake.fail_next(503, path_contains="search.post.search", times=10)

    with pytest.raises(BackendUnavailable) as caught:
        await backend.asearch("text", top=3)

    assert "try again" in caught.value.user_message


async def test_a_rejected_key_is_a_config_error_naming_the_variable(
    served: Served,
) -> None:
    kb = AzureSearchKnowledge(served.url, "helpdesk-kb", "wrong-key")
    try:
        with pytest.raises(ConfigError, match="HELPDESK_SEARCH_API_KEY"):
            await kb.areplace_documents([_doc("a.md", "A", "text")])
    finally:
        await kb.aclose()


async def test_zero_hits_and_a_missing_index_return_no_passages(
    backend: AzureSearchKnowledge,
) -> None:
    assert await backend.asearch("anything", top=3) == []  # no index yet

    await backend.areplace_documents([_doc("a.md", "A", "text")])

    assert await backend.asearch("zebra", top=3) == []


async def test_semantic_and_vector_options_reach_the_service(
    served: Served,
) -> None:
    kb = AzureSearchKnowledge(
        served.url,
        "helpdesk-kb",
        served.fake.api_key,
        semantic_config="kb-semantic",
        vector_field="text_vector",
        client_options=FAST_RETRIES,
    )
    try:
        await kb.areplace_documents([_doc("a.md", "A", "reset my password")])
        passages = await kb.asearch("password reset", top=2)
    finally:
        await kb.aclose()

    body = next(r[2] for r in reversed(served.fake.requests) if "search.post" in r[1])
    assert body["queryType"] == "semantic"
    assert body["semanticConfiguration"] == "kb-semantic"
    assert body["vectorQueries"][0]["fields"] == "text_vector"
    assert body["vectorQueries"][0]["kind"] == "text"
    assert passages[0].score <= 4.0  # the reranker's score, not BM25's


async def test_open_backend_picks_azure_from_settings(served: Served) -> None:
    settings = load_settings(
        knowledge_backend="azure",
        search_endpoint=served.url,
        search_api_key=served.fake.api_key,
    )

    kb = await open_backend(settings)
    try:
        assert isinstance(kb, AzureSearchKnowledge)
        assert await kb.acount() == 0
    finally:
        await kb.aclose()


def test_azure_without_a_key_is_a_config_error() -> None:
    settings = load_settings(
        knowledge_backend="azure", search_endpoint="https://x.search.windows.net"
    )

    with pytest.raises(ConfigError, match="HELPDESK_SEARCH_API_KEY"):
        AzureSearchKnowledge.from_settings(settings)
