"""``helpdesk kb``: ingest and search from a terminal."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.cli import kb
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

    assert "added 2, updated 0, deleted 0, unchanged 0" in first
    assert "added 0, updated 0, deleted 1, unchanged 1" in second


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
