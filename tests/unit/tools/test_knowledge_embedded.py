"""The embedded engine: ranking a user notices, incremental ingest, persistence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tools.knowledge.embedded import EmbeddedKnowledge
from tools.knowledge.ingest import ingest_path

REPO = Path(__file__).resolve().parents[3]


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    _write(
        folder,
        "mfa.md",
        "# Set up multi-factor authentication\n\nOpen the Authenticator app and "
        "scan the code shown on the security info page.\n",
    )
    _write(
        folder,
        "printing.md",
        "# Printing from your laptop\n\nPrinters are added from Self Service. "
        "Choose the printer nearest to you.\n",
    )
    _write(
        folder,
        "vpn.md",
        "# Working from home\n\nConnect to the VPN before opening the intranet. "
        "The wireless network at home is fine.\n",
    )
    _write(
        folder,
        "kitchen.md",
        "# Office kitchen\n\nThe kitchen printer paper is not for printing "
        "reports; printing labels is fine. The wifi in the kitchen is weak.\n",
    )
    return folder


@pytest.fixture
async def kb(articles: Path, tmp_path: Path) -> EmbeddedKnowledge:
    backend = EmbeddedKnowledge(tmp_path / "index")
    await ingest_path(backend, articles)
    return backend


async def _top_doc(kb: EmbeddedKnowledge, query: str) -> str | None:
    passages = await kb.asearch(query, top=3)
    return passages[0].doc_id if passages else None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            "how do I set up 2FA", "articles/mfa.md", id="2fa-finds-multi-factor"
        ),
        pytest.param("MFA", "articles/mfa.md", id="mfa-acronym"),
        pytest.param("two-factor authenticator", "articles/mfa.md", id="two-factor"),
        pytest.param(
            "remote access from home", "articles/vpn.md", id="remote-access-is-vpn"
        ),
        pytest.param("wi-fi at home", "articles/vpn.md", id="wi-fi-is-wireless"),
    ],
)
async def test_synonyms_find_the_article_in_other_words(
    kb: EmbeddedKnowledge, query: str, expected: str
) -> None:
    assert await _top_doc(kb, query) == expected


async def test_stemming_matches_other_forms_of_a_word(kb: EmbeddedKnowledge) -> None:
    passages = await kb.asearch("printed", top=5)

    assert {p.doc_id for p in passages} == {
        "articles/printing.md",
        "articles/kitchen.md",
    }


async def test_a_title_match_outranks_the_same_words_in_a_body(
    kb: EmbeddedKnowledge,
) -> None:
    # kitchen.md says "printing" more often, but printing.md is about it.
    assert await _top_doc(kb, "printing") == "articles/printing.md"


async def test_passages_carry_what_a_citation_needs(kb: EmbeddedKnowledge) -> None:
    (passage,) = await kb.asearch("authenticator", top=1)

    assert passage.title == "Set up multi-factor authentication"
    assert passage.source == "articles/mfa.md"
    assert passage.chunk_id.startswith("articles/mfa.md#")
    assert "scan the code" in passage.text
    assert passage.score > 0


async def test_queries_of_only_stop_words_or_unknown_words_find_nothing(
    kb: EmbeddedKnowledge,
) -> None:
    assert await kb.asearch("how do I", top=5) == []
    assert await kb.asearch("zebra", top=5) == []


async def test_reingest_updates_changed_drops_deleted_and_skips_the_rest(
    kb: EmbeddedKnowledge, articles: Path
) -> None:
    _write(articles, "vpn.md", "# Working from home\n\nUse the new ZTNA agent.\n")
    (articles / "kitchen.md").unlink()
    _write(articles, "new.md", "# Laptop refresh\n\nLaptops are replaced yearly.\n")

    report = await ingest_path(kb, articles)

    assert report.added == ["articles/new.md"]
    assert report.updated == ["articles/vpn.md"]
    assert report.deleted == ["articles/kitchen.md"]
    assert sorted(report.unchanged) == ["articles/mfa.md", "articles/printing.md"]
    assert await _top_doc(kb, "ZTNA agent") == "articles/vpn.md"
    assert await kb.asearch("intranet", top=5) == []  # the old vpn.md text is gone
    assert await kb.asearch("kitchen", top=5) == []
    assert await kb.acount() == 4


async def test_ingesting_twice_changes_nothing(
    kb: EmbeddedKnowledge, articles: Path
) -> None:
    count = await kb.acount()

    report = await ingest_path(kb, articles)

    assert (report.added, report.updated, report.deleted) == ([], [], [])
    assert len(report.unchanged) == 4
    assert await kb.acount() == count


async def test_keep_missing_leaves_a_deleted_article_indexed(
    kb: EmbeddedKnowledge, articles: Path
) -> None:
    (articles / "mfa.md").unlink()

    report = await ingest_path(kb, articles, prune=False)

    assert report.deleted == []
    assert await _top_doc(kb, "2FA") == "articles/mfa.md"


async def test_a_long_article_fills_at_most_two_places_in_a_result(
    kb: EmbeddedKnowledge, tmp_path: Path
) -> None:
    sections = "".join(
        f"## Printer model {n}\n\nPrinting on printer {n}: load paper.\n\n"
        for n in range(8)
    )
    _write(tmp_path / "manuals", "printers.md", "# Printer manual\n\n" + sections)
    await ingest_path(kb, tmp_path / "manuals")

    passages = await kb.asearch("printing", top=5)

    docs = [p.doc_id for p in passages]
    assert docs.count("manuals/printers.md") == 2
    assert {"articles/printing.md", "articles/kitchen.md"} <= set(docs)
    assert [p.score for p in passages] == sorted(
        (p.score for p in passages), reverse=True
    )


async def test_the_index_survives_reopening(
    kb: EmbeddedKnowledge, tmp_path: Path
) -> None:
    await kb.aclose()

    reopened = EmbeddedKnowledge(tmp_path / "index")

    assert await reopened.acount() == await kb.acount()
    assert await _top_doc(reopened, "2FA") == "articles/mfa.md"


async def test_a_second_instance_sees_a_reingest_by_the_first(
    kb: EmbeddedKnowledge, articles: Path, tmp_path: Path
) -> None:
    reader = EmbeddedKnowledge(tmp_path / "index")
    assert await reader.asearch("ZTNA", top=3) == []

    _write(articles, "vpn.md", "# Working from home\n\nUse the new ZTNA agent.\n")
    await ingest_path(kb, articles)

    assert await _top_doc(reader, "ZTNA") == "articles/vpn.md"


async def test_another_process_sees_the_index_and_its_updates(
    kb: EmbeddedKnowledge, articles: Path, tmp_path: Path
) -> None:
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from tools.knowledge.embedded import EmbeddedKnowledge\n"
        "kb = EmbeddedKnowledge(Path(sys.argv[1]))\n"
        "hits = asyncio.run(kb.asearch(sys.argv[2], top=1))\n"
        "print(hits[0].doc_id if hits else '-')\n"
    )

    def search_in_child(query: str) -> str:
        out = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "index"), query],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            timeout=60,
        )
        return out.stdout.strip()

    assert search_in_child("2FA") == "articles/mfa.md"
    _write(articles, "vpn.md", "# Working from home\n\nUse the new ZTNA agent.\n")
    await ingest_path(kb, articles)
    assert search_in_child("ZTNA") == "articles/vpn.md"


async def test_a_missing_folder_is_a_clear_error(kb: EmbeddedKnowledge) -> None:
    from tools.errors import InvalidInput

    with pytest.raises(InvalidInput, match="no such file or folder"):
        await ingest_path(kb, Path("/nonexistent/articles"))


async def test_a_new_analyzer_rebuilds_the_index_without_losing_articles(
    kb: EmbeddedKnowledge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools.knowledge import analysis, embedded

    count = await kb.acount()
    hashes = await kb.adocument_hashes()
    assert await _top_doc(kb, "kitchen appliances") == "articles/kitchen.md"
    assert await _top_doc(kb, "galley") is None
    await kb.aclose()

    # A release that teaches the analyser a new synonym bumps its version.
    monkeypatch.setattr(embedded, "ANALYZER_VERSION", analysis.ANALYZER_VERSION + 1)
    variants = {**analysis.SYNONYMS, "kitchen": ("kitchen", "galley")}
    pattern, canonical = _compile(variants)
    monkeypatch.setattr(analysis, "_VARIANTS", pattern)
    monkeypatch.setattr(analysis, "_CANONICAL", canonical)

    reopened = EmbeddedKnowledge(tmp_path / "index")

    assert await reopened.acount() == count
    assert await reopened.adocument_hashes() == hashes
    assert await _top_doc(reopened, "galley") == "articles/kitchen.md"


def _compile(variants: dict[str, tuple[str, ...]]) -> tuple[object, dict[str, str]]:
    from tools.knowledge import analysis

    original = analysis.SYNONYMS
    try:
        analysis.SYNONYMS = variants
        return analysis._variant_pattern()
    finally:
        analysis.SYNONYMS = original


@pytest.mark.parametrize("keep_missing", [False, True], ids=["prune", "keep-missing"])
async def test_an_article_emptied_of_text_leaves_the_index(
    kb: EmbeddedKnowledge, articles: Path, keep_missing: bool
) -> None:
    _write(articles, "kitchen.md", "")

    report = await ingest_path(kb, articles, prune=not keep_missing)

    assert report.deleted == ["articles/kitchen.md"]
    assert "articles/kitchen.md" not in await kb.adocument_hashes()
    assert await _top_doc(kb, "kitchen") is None
