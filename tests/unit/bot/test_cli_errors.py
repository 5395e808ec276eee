"""``helpdesk``: a user's mistake or a system that is down is one line, never a traceback.

Wrong settings and arguments exit 2 naming what to change; an outside system
that cannot be reached exits 1 naming it and what to check.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import audit, main

_UNREACHABLE = "postgresql://app:s3cret@127.0.0.1:1/helpdesk"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main`` configures the root logger; put it back for the next test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _script_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    """``helpdesk chat`` reads a script from stdin when not on a terminal."""
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n"))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    return code, lines, captured.out


def _one_line(lines: list[str]) -> str:
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        pytest.param(
            "HELPDESK_LOG_LEVEL",
            "LOUD",
            "use one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
            id="log-level",
        ),
        pytest.param(
            "HELPDESK_DATABASE_URL",
            "garbage",
            "sqlite:///path/to/helpdesk.db or postgresql://",
            id="url-garbage",
        ),
        pytest.param(
            "HELPDESK_DATABASE_URL",
            "mysql://app:s3cret@db/helpdesk",
            "mysql:// databases are not supported",
            id="url-mysql",
        ),
    ],
)
def test_a_wrong_setting_stops_every_command_with_its_name(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(variable, value)

    code, lines, _ = _run(capsys, "audit")

    assert code == 2
    message = "\n".join(lines)
    assert f"{variable}: " in message
    assert expected in message
    assert "s3cret" not in message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(("audit",), id="audit"),
        pytest.param(("db", "upgrade"), id="db-upgrade"),
        pytest.param(("directory", "list"), id="directory-list"),
        pytest.param(("chat",), id="chat"),
    ],
)
def test_an_unreachable_database_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
) -> None:
    monkeypatch.setenv("HELPDESK_DATABASE_URL", _UNREACHABLE)

    code, lines, _ = _run(capsys, *argv)

    assert code == 1
    assert _one_line(lines) == (
        "helpdesk: cannot reach the app database at 127.0.0.1:1/helpdesk: "
        "Connection refused; check HELPDESK_DATABASE_URL"
    )


@pytest.mark.postgres
def test_a_missing_postgres_database_is_named(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    postgres_url: str,
) -> None:
    base = postgres_url.rsplit("/", 1)[0].replace("postgres@", "postgres:s3cret@")
    monkeypatch.setenv("HELPDESK_DATABASE_URL", base + "/no_such_db")

    code, lines, _ = _run(capsys, "db", "upgrade")

    assert code == 1
    line = _one_line(lines)
    assert line.startswith("helpdesk: cannot reach the app database at ")
    assert ':5432/no_such_db: database "no_such_db" does not exist;' in line
    assert line.endswith("; check HELPDESK_DATABASE_URL")
    assert "s3cret" not in line


@pytest.mark.parametrize("argv", [("audit",), ("chat",), ("kb", "search", "vpn")])
def test_a_data_folder_that_cannot_be_written_is_named(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: tuple[str, ...],
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(blocker / "data"))

    code, lines, _ = _run(capsys, *argv)

    assert code == 2
    assert _one_line(lines).startswith(
        f"helpdesk: HELPDESK_DATA_DIR: cannot create or write {blocker / 'data'}"
    )


@pytest.mark.parametrize("make_tools_folder", [False, True], ids=["missing", "empty"])
def test_a_manifests_folder_without_tools_stops_start_up(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    make_tools_folder: bool,
) -> None:
    manifests = tmp_path / "manifests"
    if make_tools_folder:
        (manifests / "tools").mkdir(parents=True)
    monkeypatch.setenv("HELPDESK_MANIFESTS_DIR", str(manifests))

    code, lines, _ = _run(capsys, "chat")

    assert code == 2
    assert _one_line(lines).startswith("helpdesk: HELPDESK_MANIFESTS_DIR: ")


def test_a_teams_package_without_its_template_names_the_manifests_folder(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("HELPDESK_MANIFESTS_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("HELPDESK_LOG_LEVEL", "ERROR")

    code, lines, _ = _run(capsys, "teams", "package", "--out", str(tmp_path / "a.zip"))

    assert code == 2
    assert "HELPDESK_MANIFESTS_DIR" in _one_line(lines)


def test_an_unknown_revision_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines, out = _run(capsys, "db", "upgrade", "--revision", "nope")

    assert code == 2
    assert "revision 'nope'" in _one_line(lines)
    assert "use head" in lines[0]
    assert "upgraded" not in out


def test_listing_commands_print_no_migration_chatter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines, out = _run(capsys, "audit")

    assert code == 0
    assert out == "No audit records match.\n"
    assert not [line for line in lines if "alembic" in line], lines


def test_an_os_error_is_one_line_with_the_debug_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def denied(*_args: object) -> int:
        raise PermissionError(13, "Permission denied", "/srv/helpdesk/audit")

    monkeypatch.setattr(audit, "_audit", denied)

    code, lines, _ = _run(capsys, "audit")

    assert code == 1
    assert _one_line(lines) == (
        "helpdesk: /srv/helpdesk/audit: Permission denied; rerun with "
        "HELPDESK_LOG_LEVEL=DEBUG for details"
    )


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_a_bug_is_one_line_with_a_ref_and_its_traceback_goes_to_the_debug_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], level: str
) -> None:
    def broken(*_args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(audit, "_audit", broken)
    monkeypatch.setenv("HELPDESK_LOG_LEVEL", level)

    code, lines, _ = _run(capsys, "audit")

    assert code == 1
    last = lines[-1]
    assert last.startswith("helpdesk: unexpected error (RuntimeError), ref ")
    ref = last.split("ref ", 1)[1].split(";", 1)[0]
    logged = "\n".join(lines[:-1])
    if level == "DEBUG":
        assert f"unexpected error, ref {ref}" in logged
        assert "Traceback" in logged
        assert "RuntimeError: a bug" in logged
    else:
        assert lines == [last]
