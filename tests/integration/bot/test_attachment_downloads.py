"""Downloading what an employee sends, against a real file host on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fakes.file_server import (
    CONNECTOR_TOKEN,
    OUTSIDE_URL,
    PDF,
    PNG,
    FileServer,
    serve_files,
)

from bot.attachments import (
    Downloaded,
    DownloadFailed,
    DownloadRules,
    download_files,
)
from bot.inbound import InboundFile


@pytest.fixture
async def files() -> AsyncIterator[FileServer]:
    async with serve_files() as server:
        yield server


def _local(server: FileServer) -> DownloadRules:
    return DownloadRules(local_mode=True, service_url=server.url("/"))


def _pasted(server: FileServer, path: str, name: str = "screenshot.png") -> InboundFile:
    return InboundFile(name, "image/*", server.url(path), needs_token=True)


def _sent(server: FileServer, path: str, name: str, content_type: str) -> InboundFile:
    return InboundFile(name, content_type, server.url(path), needs_token=False)


async def _token() -> str:
    return CONNECTOR_TOKEN


async def _one(
    file: InboundFile, rules: DownloadRules, *, token: bool = False
) -> Downloaded | DownloadFailed:
    [result] = await download_files([file], rules, token=_token if token else None)
    return result


@pytest.mark.parametrize(
    ("path", "name", "declared", "expected"),
    [
        pytest.param("/screenshot.png", "screenshot.png", "image/png", PNG, id="png"),
        pytest.param("/report.pdf", "report.pdf", "application/pdf", PDF, id="pdf"),
        pytest.param("/sync.log", "sync.log", "text/plain", None, id="text"),
        pytest.param(
            "/download/octet", "capture.png", "image/png", PNG, id="octet-stream"
        ),
        pytest.param(
            "/redirect/here", "screenshot.png", "image/png", PNG, id="redirect-home"
        ),
    ],
)
async def test_pictures_pdfs_and_text_are_downloaded(
    files: FileServer, path: str, name: str, declared: str, expected: bytes | None
) -> None:
    result = await _one(_sent(files, path, name, declared), _local(files))

    assert isinstance(result, Downloaded), result
    assert result.name == name
    assert result.content_type == declared
    if expected is not None:
        assert result.data == expected


async def test_a_pasted_image_gets_the_bot_token_and_a_name_by_its_bytes(
    files: FileServer,
) -> None:
    pasted = InboundFile(
        "screenshot", "image/*", files.url("/v3/attachments/1/views/original"), True
    )

    result = await _one(pasted, _local(files), token=True)

    assert isinstance(result, Downloaded), result
    assert (result.name, result.content_type) == ("screenshot.png", "image/png")
    assert files.requests[-1].authorization == f"Bearer {CONNECTOR_TOKEN}"


async def test_the_token_goes_only_to_the_connector_origin(
    files: FileServer,
) -> None:
    # A sent file's link, and a redirect to another origin, never get it.
    link = _sent(files, "/screenshot.png", "a.png", "image/png")
    moved = _pasted(files, "/redirect/token")

    first = await _one(link, _local(files), token=True)
    second = await _one(moved, _local(files), token=True)

    assert isinstance(first, Downloaded)
    assert isinstance(second, DownloadFailed)
    assert second.reason == "fetch"  # the connector said 401 without a token
    assert [r.authorization for r in files.requests] == [
        None,
        f"Bearer {CONNECTOR_TOKEN}",
        None,
    ]


@pytest.mark.parametrize(
    ("path", "declared", "reason"),
    [
        pytest.param("/huge.png", "image/png", "too_big", id="announced-too-big"),
        pytest.param(
            "/huge-streamed.png", "image/png", "too_big", id="streamed-too-big"
        ),
        pytest.param("/page.png", "image/png", "type", id="web-page"),
        pytest.param("/fake.png", "image/png", "type", id="bytes-not-a-picture"),
        pytest.param("/drawing.svg", "image/*", "type", id="svg"),
        pytest.param("/gone.png", "image/png", "fetch", id="not-found"),
        pytest.param("/redirect/loop", "image/png", "fetch", id="redirect-loop"),
    ],
)
async def test_files_that_break_a_rule_are_refused_with_a_sentence(
    files: FileServer, path: str, declared: str, reason: str
) -> None:
    result = await _one(_sent(files, path, "capture.png", declared), _local(files))

    assert isinstance(result, DownloadFailed)
    assert result.reason == reason
    assert "capture.png" in result.user_message
    assert "http" not in result.user_message  # no URL for the employee


async def test_a_type_refused_by_its_declaration_is_never_fetched(
    files: FileServer,
) -> None:
    word = _sent(files, "/screenshot.png", "plan.docx", "")
    html = _sent(files, "/screenshot.png", "page.html", "text/html")

    results = await download_files([word, html], _local(files))

    assert [r.reason for r in results if isinstance(r, DownloadFailed)] == [
        "type",
        "type",
    ]
    assert files.requests == []


async def test_a_redirect_off_the_machine_is_refused_without_connecting(
    files: FileServer,
) -> None:
    # The test-wide socket guard fails any connection to 203.0.113.9; the
    # refusal must come from the rule, before a connection is tried.
    result = await _one(_pasted(files, "/redirect/out"), _local(files), token=True)

    assert isinstance(result, DownloadFailed)
    assert result.reason == "refused"
    assert "203.0.113.9" in str(result)
    assert files.paths() == ["/redirect/out"]


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(OUTSIDE_URL, id="outside-address"),
        pytest.param("http://169.254.169.254/latest/meta-data", id="metadata"),
        pytest.param("http://files.contoso.example/screenshot.png", id="outside-name"),
        pytest.param("ftp://127.0.0.1/screenshot.png", id="ftp"),
    ],
)
async def test_local_mode_fetches_from_loopback_only(
    files: FileServer, url: str
) -> None:
    result = await _one(InboundFile("a.png", "image/png", url, True), _local(files))

    assert isinstance(result, DownloadFailed)
    assert result.reason == "refused"
    assert files.requests == []


async def test_one_bad_file_does_not_stop_the_others(files: FileServer) -> None:
    batch = [
        _sent(files, "/huge.png", "big.png", "image/png"),
        _pasted(files, "/screenshot.png"),
        _sent(files, "/page.png", "page.png", "image/png"),
    ]

    results = await download_files(batch, _local(files))

    assert [type(r).__name__ for r in results] == [
        "DownloadFailed",
        "Downloaded",
        "DownloadFailed",
    ]
