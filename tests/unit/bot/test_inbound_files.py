"""Which attachments of an activity are files to fetch, and how they are named."""

from __future__ import annotations

from typing import Any

import pytest

from bot.inbound import (
    FILE_DOWNLOAD_INFO,
    MAX_FILE_NAME,
    MAX_FILES,
    InboundFile,
    parse_activity,
    read_files,
)

CONNECTOR = "https://smba.trafficmanager.net/amer/v3/attachments/0-a1/views/original"
ONEDRIVE = "https://contoso-my.sharepoint.com/personal/alex/download.aspx?tempauth=x"


def _pasted(content_type: str = "image/*", **extra: Any) -> dict[str, Any]:
    return {"contentType": content_type, "contentUrl": CONNECTOR, **extra}


def _sent(name: str, file_type: str, url: str = ONEDRIVE) -> dict[str, Any]:
    return {
        "contentType": FILE_DOWNLOAD_INFO,
        "name": name,
        "content": {"downloadUrl": url, "uniqueId": "1f2e", "fileType": file_type},
    }


def test_a_pasted_image_and_its_html_copy_make_one_file() -> None:
    files = read_files(
        [
            _pasted(),
            {
                "contentType": "text/html",
                "content": '<p><img src="https://us-api.asm.skype.com/v1/objects/1/views/imgo"></p>',
            },
        ]
    )

    assert files == [InboundFile("screenshot", "image/*", CONNECTOR, needs_token=True)]


def test_a_sent_file_uses_its_download_link_without_the_token() -> None:
    [file] = read_files([_sent("error-log.txt", "txt")])

    assert file == InboundFile("error-log.txt", "text/plain", ONEDRIVE, False)


@pytest.mark.parametrize(
    ("name", "file_type", "declared"),
    [
        pytest.param("Screen Shot.PNG", "png", "image/png", id="png"),
        pytest.param("photo.jpeg", "jpeg", "image/jpeg", id="jpeg"),
        pytest.param("manual.pdf", "pdf", "application/pdf", id="pdf"),
        pytest.param("export.csv", "", "text/csv", id="type-from-the-name"),
        pytest.param("plan.docx", "docx", "", id="unknown-type"),
    ],
)
def test_a_sent_files_type_comes_from_its_file_type(
    name: str, file_type: str, declared: str
) -> None:
    [file] = read_files([_sent(name, file_type)])

    assert (file.name, file.content_type) == (name, declared)


@pytest.mark.parametrize(
    "attachment",
    [
        pytest.param(
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": {}},
            id="adaptive-card",
        ),
        pytest.param(
            {"contentType": "application/vnd.microsoft.card.hero", "content": {}},
            id="hero-card",
        ),
        pytest.param({"contentType": "text/html", "content": "<p>hi</p>"}, id="html"),
        pytest.param(_pasted(contentUrl="data:image/png;base64,iVBO"), id="data-url"),
        pytest.param(_pasted(contentUrl="file:///etc/passwd"), id="file-url"),
        pytest.param(_pasted(contentUrl=None), id="no-url"),
        pytest.param(_pasted(contentUrl="https://x/" + "a" * 5000), id="url-too-long"),
        pytest.param(_sent("a.png", "png", url=""), id="no-download-url"),
        pytest.param({"contentUrl": CONNECTOR}, id="no-content-type"),
        pytest.param("image/png", id="not-an-object"),
    ],
)
def test_cards_html_and_unusable_attachments_are_not_files(attachment: Any) -> None:
    assert read_files([attachment]) == []


def test_at_most_five_files_are_read() -> None:
    files = read_files([_pasted(name=f"s{i}.png") for i in range(MAX_FILES + 3)])

    assert [f.name for f in files] == [f"s{i}.png" for i in range(MAX_FILES)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("..\\..\\windows\\evil.png", "evil.png", id="windows-path"),
        pytest.param("/etc/shadow.png", "shadow.png", id="unix-path"),
        pytest.param("bad\x00name\x1b.png", "badname.png", id="control-characters"),
        pytest.param("", "screenshot.png", id="no-name"),
    ],
)
def test_names_are_labels_not_paths(raw: str, expected: str) -> None:
    [file] = read_files([_pasted("image/png", name=raw)])

    assert file.name == expected


def test_long_names_keep_their_extension() -> None:
    [file] = read_files([_pasted("image/png", name="a" * 300 + ".png")])

    assert len(file.name) == MAX_FILE_NAME
    assert file.name.endswith("a.png")


def test_unnamed_images_are_numbered() -> None:
    files = read_files([_pasted("image/png"), _pasted("image/jpeg")])

    assert [f.name for f in files] == ["screenshot.png", "screenshot-2.jpg"]


def test_the_activity_carries_its_files_and_attachment_types() -> None:
    inbound = parse_activity(
        {
            "type": "message",
            "id": "1",
            "serviceUrl": "https://smba.trafficmanager.net/amer/",
            "from": {"id": "29:1"},
            "conversation": {"id": "a:1"},
            "text": None,
            "attachments": [_pasted(), {"contentType": "text/html", "content": ""}],
        }
    )

    assert inbound.attachment_types == ("image/*", "text/html")
    assert [f.url for f in inbound.files] == [CONNECTOR]
