"""``helpdesk kb``: ingest into collections, list and remove them, search."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from bot.cli import kb
from tools.knowledge import open_backend, seed_if_empty
from tools.settings import load_settings


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="helpdesk")
    kb.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args, load_settings())


def _articles(folder: Path) -> Path:
    folder.mkdir()
    (folder / "vpn-mac.md").write_text(
        "---\ntitle: VPN on a Mac\nsource: https://i.example/vpn-mac\n---\n"
        "## Install\n\nOpen Self Service and install the VPN client.\n"
    )
    (folder / "printers.md").write_text("# Printers\n\nAdd a printer.\n")
    return folder


def test_ingest_prints_the_counts_and_reingest_sees_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _articles(tmp_path / "kb")

    assert _run("kb", "ingest", str(folder)) == 0
    first = capsys.readouterr().out
    (folder / "printers.md").unlink()
    assert _run("kb", "ingest", str(folder)) == 0
    second = capsys.readouterr().out

    assert "into 'kb': added 2, updated 0, deleted 0, unchanged 0" in first
    assert "into 'kb': added 0, updated 0, deleted 1, unchanged 1" in second


async def _seed_demo() -> None:
    settings = load_settings()
    backend = await open_backend(settings)
    try:
        await seed_if_empty(backend, settings)
    finally:
        await backend.aclose()


def test_ingesting_our_own_articles_keeps_the_demo_articles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_seed_demo())

    assert _run("kb", "ingest", str(_articles(tmp_path / "ours"))) == 0
    ingested = capsys.readouterr().out
    assert _run("kb", "search", "what is the guest wifi code", "--top", "1") == 0
    found = capsys.readouterr().out

    assert "into 'ours': added 2, updated 0, deleted 0" in ingested
    assert "source: https://intranet.contoso.example/it/wifi-guest" in found


def test_collections_lists_each_with_its_document_and_chunk_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _articles(tmp_path / "kb")
    _run("kb", "ingest", str(folder))
    _run("kb", "ingest", str(folder / "vpn-mac.md"), "--collection", "mac guides")
    capsys.readouterr()

    assert _run("kb", "collections") == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0].split() == ["collection", "documents", "chunks"]
    assert [line.split() for line in lines[1:]] == [
        ["kb", "2", "2"],
        ["mac", "guides", "1", "1"],
    ]


def test_a_single_file_goes_into_the_collection_of_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _articles(tmp_path / "network")

    assert _run("kb", "ingest", str(folder / "vpn-mac.md")) == 0

    assert "into 'network': added 1" in capsys.readouterr().out


def test_remove_drops_a_collection_and_says_what_went(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run("kb", "ingest", str(_articles(tmp_path / "kb")))
    capsys.readouterr()

    assert _run("kb", "remove", "kb") == 0
    removed = capsys.readouterr().out
    assert _run("kb", "collections") == 0
    listed = capsys.readouterr().out

    assert removed.strip() == "Removed collection 'kb': 2 documents, 2 chunks"
    assert listed.strip() == "The knowledge base is empty."


def test_removing_an_unknown_collection_exits_2_naming_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run("kb", "ingest", str(_articles(tmp_path / "kb")))
    capsys.readouterr()

    assert _run("kb", "remove", "nope") == 2
    err = capsys.readouterr().err

    assert "no collection named 'nope'" in err
    assert "'kb'" in err


def test_a_collection_name_with_a_slash_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _articles(tmp_path / "kb")

    assert _run("kb", "ingest", str(folder), "--collection", "a/b") == 2
    assert "cannot name a collection" in capsys.readouterr().err


def test_search_prints_ranked_passages_with_title_section_and_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run("kb", "ingest", str(_articles(tmp_path / "kb")))
    capsys.readouterr()

    assert _run("kb", "search", "how do I set up the VPN on my Mac?", "--top", "2") == 0
    out = capsys.readouterr().out

    assert out.startswith("[1] VPN on a Mac — Install")
    assert "source: https://i.example/vpn-mac" in out
    assert "install the VPN client" in out


def test_ingest_of_a_missing_path_exits_2_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("kb", "ingest", str(tmp_path / "nope")) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_ingest_of_a_folder_without_articles_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()

    assert _run("kb", "ingest", str(tmp_path / "empty")) == 2
    assert "holds no articles" in capsys.readouterr().err


def test_an_empty_collection_name_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _articles(tmp_path / "kb")

    assert _run("kb", "ingest", str(folder), "--collection", "") == 2

    assert "cannot name a collection" in capsys.readouterr().err


def test_a_sources_file_on_its_own_is_not_an_article(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _articles(tmp_path / "kb")
    sources = folder / "SOURCES.md"
    sources.write_text(
        "| file | source |\n|---|---|\n| `printers.md` | [x](https://i.example/p) |\n"
    )

    assert _run("kb", "ingest", str(sources)) == 2

    err = capsys.readouterr().err
    assert "SOURCES.md is the list of the folder's sources, not an article" in err
