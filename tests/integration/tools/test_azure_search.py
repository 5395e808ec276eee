"""The Azure AI Search backend through the real SDK, against a local fake service.

The SDK talks to ``http://127.0.0.1:PORT`` without any special transport:
``AzureKeyCredential`` sends the ``api-key`` header over plain http (only the
bearer-token policy insists on https), so the endpoint is simply the fake's
URL. Retries keep the SDK's policy; only the back-off is set to zero so the
503 test does not sleep.
"""

from __future__ import annotations

import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from fakes.azure_search import FakeSearchService

from tools.errors import BackendUnavailable, ConfigError, InvalidInput
from tools.knowledge import open_backend
from tools.knowledge.azure import AzureSearchKnowledge, encode_key
from tools.knowledge.base import Chunk, SourceDocument
from tools.knowledge.collection import list_collections, remove_collection
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
    backend: AzureSearchKnowledge, tmp_path: Path
) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.md").write_text("# Alpha\n\nalpha text\n")
    (folder / "b.md").write_text("# Beta\n\nbeta text\n")
    first = await ingest_path(backend, folder)
    (folder / "b.md").unlink()
    (folder / "a.md").write_text("# Alpha\n\nalpha text, changed\n")

    second = await ingest_path(backend, folder)

    assert sorted(first.added) == ["articles/a.md", "articles/b.md"]
    assert (second.updated, second.deleted) == (["articles/a.md"], ["articles/b.md"])
    assert await backend.asearch("beta", top=5) == []


async def test_a_second_folder_leaves_the_first_collection_alone(
    backend: AzureSearchKnowledge, tmp_path: Path
) -> None:
    for name, word in (("demo", "alpha"), ("ours", "gamma")):
        (tmp_path / name / "guides").mkdir(parents=True)
        (tmp_path / name / "guides" / "a.md").write_text(f"# A\n\n{word} text\n")
    await ingest_path(backend, tmp_path / "demo")

    report = await ingest_path(backend, tmp_path / "ours")

    assert (report.added, report.deleted) == (["ours/guides/a.md"], [])
    assert [p.doc_id for p in await backend.asearch("alpha", top=5)] == [
        "demo/guides/a.md"
    ]
    assert [c.name for c in await list_collections(backend)] == ["demo", "ours"]


async def test_removing_a_collection_drops_only_its_chunks(
    backend: AzureSearchKnowledge, served: Served
) -> None:
    await backend.areplace_documents(
        [
            _doc("demo/vpn.md", "VPN", "vpn one", "vpn two"),
            _doc("demo/wifi/guest.md", "Wi-Fi", "guest wifi"),
            _doc("ours/vpn.md", "Our VPN", "vpn ours"),
        ]
    )

    removed = await remove_collection(backend, "demo")

    assert (removed.documents, removed.chunks) == (2, 3)
    assert await backend.adocument_chunk_counts() == {"ours/vpn.md": 1}
    assert len(served.fake.documents["helpdesk-kb"]) == 1
    with pytest.raises(InvalidInput, match=r"no collection named 'demo'.*'ours'"):
        await remove_collection(backend, "demo")


async def test_keys_encode_the_slash_of_a_collection_id(
    backend: AzureSearchKnowledge, served: Served
) -> None:
    await backend.areplace_documents([_doc("it docs/a b/c.md", "C", "text")])

    (key,) = served.fake.documents["helpdesk-kb"]

    assert key == encode_key("it docs/a b/c.md#0")
    assert set(key) <= set(string.ascii_letters + string.digits + "_-=")
    assert [p.chunk_id for p in await backend.asearch("text", top=1)] == [
        "it docs/a b/c.md#0"
    ]


async def test_one_document_fills_at_most_two_places_in_a_result(
    backend: AzureSearchKnowledge, served: Served
) -> None:
    await backend.areplace_documents(
        [
            _doc("kb/long.md", "Long", *["printer printer printer"] * 5),
            _doc("kb/short.md", "Short", "printer"),
        ]
    )

    passages = await backend.asearch("printer", top=3)

    assert [p.doc_id for p in passages] == ["kb/long.md", "kb/long.md", "kb/short.md"]
    body = next(r[2] for r in reversed(served.fake.requests) if "search.post" in r[1])
    assert body["top"] == 9


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
